/*
 * replay.c: without libFuzzer, run a harness over every file of its
 * corpus directory (and the empty input), so the harnesses are built and
 * exercised by every test run.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	main(int, char **);

static void
replay_file(const char *path)
{
	FILE		*f;
	uint8_t		*buf;
	long		 n;

	if ((f = fopen(path, "rb")) == NULL)
		err(1, "%s", path);
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) < 0)
		err(1, "%s", path);
	rewind(f);
	if ((buf = malloc(n ? n : 1)) == NULL)
		err(1, NULL);
	if (n > 0 && fread(buf, 1, n, f) != (size_t)n)
		err(1, "%s: short read", path);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
}

int
main(int argc, char **argv)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[4096];
	int		 count = 0;

	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	for (int i = 1; i < argc; i++) {
		if ((d = opendir(argv[i])) == NULL)
			err(1, "%s", argv[i]);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
			    de->d_name);
			replay_file(path);
			count++;
		}
		closedir(d);
	}
	printf("replayed %d inputs\n", count);
	return count > 0 ? 0 : 1;
}
