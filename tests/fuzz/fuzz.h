/*
 * Helpers shared by the fuzz targets: a check that aborts (so that libFuzzer and the replay
 * driver both report it as a crash), a reader that takes values from the input and gives 0
 * once it is used up, and an in-memory file (memfd) with a path, for code that opens files by
 * name.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed check: what and where on stderr, then abort(). */
#define FUZZ_CHECK(cond)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* Values taken from the front of the input, little-endian; 0 once it is used up. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_take(struct fuzz_in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n > 0; i++, in->p++, in->n--)
		v |= (uint64_t)in->p[0] << (8 * i);
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	return (uint8_t)fuzz_take(in, 1);
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)fuzz_take(in, 2);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)fuzz_take(in, 4);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	return fuzz_take(in, 8);
}

/* An in-memory file, reused from one input to the next. */
struct fuzz_file {
	int ready;     /* fd and path are set (a zeroed struct is a file not made yet) */
	int fd;        /* the memfd */
	char path[64]; /* "/proc/self/fd/N": opens the same file afresh */
};

/* Makes f hold exactly data[0..size) and returns its path; aborts when it cannot. */
static inline const char *fuzz_file_set(struct fuzz_file *f, const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (!f->ready) {
		f->fd = memfd_create("fuzz-input", MFD_CLOEXEC);
		FUZZ_CHECK(f->fd >= 0);
		snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
		f->ready = 1;
	}
	FUZZ_CHECK(ftruncate(f->fd, 0) == 0);
	while (off < size) {
		ssize_t w = pwrite(f->fd, data + off, size - off, (off_t)off);

		FUZZ_CHECK(w > 0);
		off += (size_t)w;
	}
	return f->path;
}

/* Runs stdout and stderr into /dev/null (on) or back (off): for code that reports errors
 * with fprintf. The sanitizers and libFuzzer write to file descriptor 2 directly, so their
 * reports still show. */
static inline void fuzz_quiet(int on)
{
	static FILE *null_f, *saved_out, *saved_err;

	if (on) {
		if (null_f == NULL) {
			null_f = fopen("/dev/null", "w");
			FUZZ_CHECK(null_f != NULL);
		}
		saved_out = stdout;
		saved_err = stderr;
		stdout = null_f;
		stderr = null_f;
	} else {
		fflush(null_f);
		stdout = saved_out;
		stderr = saved_err;
	}
}

#endif /* FUZZ_H */
