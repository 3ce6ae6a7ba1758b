#include "supervisor.h"

int	main(int, char **);

int
main(int argc, char **argv)
{
	return sup_main(argc, argv);
}
