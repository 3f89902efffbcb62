/*
 * The replay driver of the fuzz targets in ordinary builds: runs LLVMFuzzerTestOneInput once
 * on every file named on the command line and on every regular file directly inside the
 * directories named there (in name order, so that a run is repeatable), then prints how many
 * inputs it ran. Each input is read into a buffer of exactly its size, so that a sanitizer
 * sees any read past its end as libFuzzer would.
 *
 * Exit status: 0 when every input ran (a crash or a failed check aborts instead), 1 when a
 * path cannot be read or no input was found at all: a corpus that went missing must fail the
 * test, not pass it empty.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long n_inputs;

/* Reads path whole and runs the target on it. 0, or -1 with a message. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			uint8_t *b = realloc(buf, cap ? 2 * cap : 65536);

			if (b == NULL) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = b;
			cap = cap ? 2 * cap : 65536;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	{
		/* exactly len bytes, so that a read past the end is caught */
		uint8_t *exact = malloc(len ? len : 1);

		if (exact == NULL) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	n_inputs++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the target on every regular file in dir (not below it). 0, or -1 with a message. */
static int run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap ? 2 * cap : 64) * sizeof(*v));

			if (v == NULL) {
				rc = -1;
				break;
			}
			names = v;
			cap = cap ? 2 * cap : 64;
		}
		if ((names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2)) == NULL) {
			rc = -1;
			break;
		}
		sprintf(names[n], "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			rc = run_file(names[i]);
		free(names[i]);
	}
	free(names);
	if (rc < 0)
		fprintf(stderr, "replay: %s: cannot read every input\n", dir);
	return rc;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int rc;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		rc = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
		if (rc < 0)
			return 1;
	}
	printf("ran %lu input%s\n", n_inputs, n_inputs == 1 ? "" : "s");
	if (n_inputs == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	return 0;
}
