/*
 * Minimal unit-test harness: CHECK* macros record failures with file:line and carry on;
 * T_RUN runs a test function; t_done() prints "N passed, N failed" for the checks and returns
 * the exit status (0 only when nothing failed and at least one check ran).
 */
#ifndef T_H
#define T_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static unsigned t_pass, t_fail;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (cond) {                                                                      \
			t_pass++;                                                                \
		} else {                                                                         \
			t_fail++;                                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                       \
	do {                                                                                 \
		unsigned long long t_a_ = (unsigned long long)(a);                           \
		unsigned long long t_b_ = (unsigned long long)(b);                           \
		if (t_a_ == t_b_) {                                                          \
			t_pass++;                                                            \
		} else {                                                                     \
			t_fail++;                                                            \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%llu != %llu)\n", \
			        __FILE__, __LINE__, #a, #b, t_a_, t_b_);                     \
		}                                                                            \
	} while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

#define T_RUN(fn)                                                                   \
	do {                                                                        \
		unsigned t_f0_ = t_fail;                                            \
		fn();                                                               \
		fprintf(stderr, "%s %s\n", t_fail == t_f0_ ? "ok  " : "FAIL", #fn); \
	} while (0)

static inline int t_done(void)
{
	printf("%u passed, %u failed\n", t_pass, t_fail);
	return (t_fail == 0 && t_pass > 0) ? 0 : 1;
}

#endif /* T_H */
