/*
 * Unit tests of the common helpers: strict integer parsing, bounded copies, byte-order
 * helpers and the SPSC ring (including a two-thread run that checks order and completeness).
 */
#include <errno.h>
#include <pthread.h>

#include "t.h"
#include "wr.h"

static void test_parse_u64(void)
{
	uint64_t v = 0;

	CHECK_EQ(wr_parse_u64("15", 1, 100, &v), 0);
	CHECK_EQ(v, 15);
	CHECK_EQ(wr_parse_u64("0", 1, 100, &v), -ERANGE);
	CHECK_EQ(wr_parse_u64("101", 1, 100, &v), -ERANGE);
	CHECK_EQ(wr_parse_u64("-1", 0, 100, &v), -EINVAL);
	CHECK_EQ(wr_parse_u64("1x", 0, 100, &v), -EINVAL);
	CHECK_EQ(wr_parse_u64("", 0, 100, &v), -EINVAL);
	CHECK_EQ(wr_parse_u64(" 1", 0, 100, &v), -EINVAL);
	CHECK_EQ(wr_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
}

static void test_strlcpy_and_bytes(void)
{
	char b[4];
	uint8_t x[8];

	CHECK_EQ(wr_strlcpy(b, "abcdef", sizeof(b)), 6);
	CHECK_STR(b, "abc");
	CHECK_EQ(wr_strlcpy(b, "ab", sizeof(b)), 2);
	CHECK_STR(b, "ab");
	wr_put_be64(x, 0x0102030405060708ULL);
	CHECK_EQ(x[0], 1);
	CHECK_EQ(x[7], 8);
	CHECK_EQ(wr_be32(x), 0x01020304);
	CHECK_EQ(wr_be16(x + 6), 0x0708);
	CHECK_EQ(wr_le16(x), 0x0201);
	CHECK_EQ(wr_le32(x + 4), 0x08070605);
	CHECK(wr_mono_ns() > 0);
	CHECK(wr_wall_ns() > 1500000000ULL * WR_NS_PER_S);
}

static void test_ring_basics(void)
{
	struct wr_ring *r = wr_ring_create(5, sizeof(uint32_t)); /* rounds up to 8 */
	uint32_t in[10], out[10], i;

	CHECK(r != NULL);
	CHECK(wr_ring_create(0, 4) == NULL);
	for (i = 0; i < 10; i++)
		in[i] = i;
	CHECK_EQ(wr_ring_enqueue_burst(r, in, 10), 8); /* full */
	CHECK_EQ(wr_ring_count(r), 8);
	CHECK_EQ(wr_ring_enqueue_burst(r, in, 1), 0);
	CHECK_EQ(wr_ring_dequeue_burst(r, out, 3), 3);
	CHECK_EQ(out[2], 2);
	CHECK_EQ(wr_ring_enqueue_burst(r, in + 8, 2), 2); /* wraps around */
	CHECK_EQ(wr_ring_dequeue_burst(r, out, 10), 7);
	CHECK_EQ(out[0], 3);
	CHECK_EQ(out[4], 7);
	CHECK_EQ(out[5], 8);
	CHECK_EQ(out[6], 9);
	CHECK_EQ(wr_ring_dequeue_burst(r, out, 1), 0);
	wr_ring_free(r);
	wr_ring_free(NULL);
}

#define N_ITEMS 2000000u

static void *producer(void *arg)
{
	struct wr_ring *r = arg;
	uint64_t next = 0, batch[17];
	unsigned k, n;

	while (next < N_ITEMS) {
		n = 0;
		for (k = 0; k < 17 && next + k < N_ITEMS; k++)
			batch[n++] = next + k;
		k = 0;
		while (k < n)
			k += wr_ring_enqueue_burst(r, batch + k, n - k);
		next += n;
	}
	return NULL;
}

static void test_ring_two_threads(void)
{
	struct wr_ring *r = wr_ring_create(1024, sizeof(uint64_t));
	uint64_t expect = 0, buf[64];
	unsigned n, k;
	int in_order = 1;
	pthread_t th;

	CHECK_EQ(pthread_create(&th, NULL, producer, r), 0);
	while (expect < N_ITEMS) {
		n = wr_ring_dequeue_burst(r, buf, 64);
		for (k = 0; k < n; k++)
			if (buf[k] != expect++)
				in_order = 0;
	}
	pthread_join(th, NULL);
	CHECK(in_order);
	CHECK_EQ(wr_ring_count(r), 0);
	wr_ring_free(r);
}

int main(void)
{
	T_RUN(test_parse_u64);
	T_RUN(test_strlcpy_and_bytes);
	T_RUN(test_ring_basics);
	T_RUN(test_ring_two_threads);
	return t_done();
}
