/*
 * common helpers: clocks, bounded string copy, strict integer parsing.
 */
#include "wr.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

uint64_t wr_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * WR_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t wr_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WR_NS_PER_S + (uint64_t)ts.tv_nsec;
}

size_t wr_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int wr_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret_value)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret_value = v;
	return 0;
}

double wr_poisson(uint64_t *state, double mean)
{
	double u1, u2, z, x;

	if (mean <= 0)
		return 0;
	if (mean < 50) {
		double l = exp(-mean), p = 1.0;
		int k = 0;

		do {
			k++;
			p *= wr_uniform(state);
		} while (p > l);
		return k - 1;
	}
	u1 = wr_uniform(state);
	u2 = wr_uniform(state);
	z = sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
	x = floor(mean + sqrt(mean) * z + 0.5);
	return x < 0 ? 0 : x;
}
