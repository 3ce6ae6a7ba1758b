#include "net.h"

int	main(int, char **);

int
main(int argc, char **argv)
{
	net_main(argc, argv);
}
