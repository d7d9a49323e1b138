/* A main() for the harnesses without libFuzzer: feeds every file named on the command line,
 * and every regular file of every folder named there (sorted, so a run is repeatable), to
 * LLVMFuzzerTestOneInput. meson test runs it over each seed corpus, so the normal test
 * command (and its ASan+UBSan pass) replays the corpus with whatever compiler built it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Reads path whole into a buffer of exactly its size, so that ASan catches a harness reading
 * past the input as libFuzzer would. Returns 0 or a negative errno. */
static int read_file(const char *path, uint8_t **ret, size_t *ret_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf) {
		(void)close(fd);
		return -ENOMEM;
	}
	size_t len = 0;
	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO; /* shrank while being read */
			free(buf);
			(void)close(fd);
			return r;
		}
		len += (size_t)n;
	}
	(void)close(fd);
	*ret = buf;
	*ret_size = size;
	return 0;
}

static int run_file(const char *path)
{
	uint8_t *buf = NULL;
	size_t size = 0;
	int r = read_file(path, &buf, &size);
	if (r < 0) {
		fprintf(stderr, "driver: cannot read %s: %s\n", path, strerror(-r));
		return r;
	}
	/* Printed first, so that the input of a crash is the last name in the log. */
	fprintf(stderr, "driver: %s (%zu bytes)\n", path, size);
	(void)LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	return 0;
}

static int only_visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Runs every regular file of dir; returns how many, or a negative errno. */
static int run_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, only_visible, alphasort);
	if (n < 0) {
		int r = -errno;
		fprintf(stderr, "driver: cannot list %s: %s\n", dir, strerror(-r));
		return r;
	}
	int count = 0, r = 0;
	for (int i = 0; i < n; i++) {
		char *path;
		struct stat st;
		if (r == 0 && asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
			r = -ENOMEM;
		}
		if (r == 0) {
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				r = run_file(path);
				count += r == 0;
			}
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return r < 0 ? r : count;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	(void)LLVMFuzzerInitialize(&argc, &argv);
	int total = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "driver: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		int r = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
		if (r < 0) {
			return 1;
		}
		total += S_ISDIR(st.st_mode) ? r : 1;
	}
	fprintf(stderr, "driver: %d inputs ran\n", total);
	/* An empty corpus would make the test pass without testing anything. */
	return total > 0 ? 0 : 1;
}
