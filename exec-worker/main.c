#include "exec.h"

int	main(int, char **);

int
main(int argc, char **argv)
{
	exec_main(argc, argv);
}
