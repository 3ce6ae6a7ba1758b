#include "runner.h"

int	main(int, char **);

int
main(int argc, char **argv)
{
	runner_main(argc, argv);
}
