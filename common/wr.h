/*
 * common: the few helpers every weir module shares.
 *
 * Compiler hints, cache-line alignment, unaligned big-endian loads for parsing outside bytes,
 * time units and a wall clock, bounded string copies and a single-producer/single-consumer
 * ring. Nothing here logs, allocates behind the caller's back or knows about packets.
 */
#ifndef WR_H
#define WR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WR_CACHE_LINE    64
#define WR_ALIGNED       __attribute__((aligned(WR_CACHE_LINE)))
#define WR_LIKELY(x)     __builtin_expect(!!(x), 1)
#define WR_UNLIKELY(x)   __builtin_expect(!!(x), 0)
#define WR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define WR_UNUSED        __attribute__((unused))
#define WR_PRINTF(f, a)  __attribute__((format(printf, f, a)))

#define WR_NS_PER_S  1000000000ULL
#define WR_NS_PER_MS 1000000ULL
#define WR_NS_PER_US 1000ULL

/* Unaligned big-endian loads from outside bytes; the caller has checked the bounds. */
static inline uint16_t wr_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t wr_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t wr_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t wr_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Big-endian stores into a buffer the caller has sized. */
static inline void wr_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void wr_put_be64(uint8_t *p, uint64_t v)
{
	wr_put_be32(p, (uint32_t)(v >> 32));
	wr_put_be32(p + 4, (uint32_t)v);
}

/* a + b, or UINT64_MAX where the sum would wrap (deadlines built from outside timestamps). */
static inline uint64_t wr_sat_add64(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* Marsaglia's xorshift64 (13, 7, 17): a fast, deterministic pseudo-random sequence for
 * sampling, synthetic traffic and benchmarks; not for anything that must be unpredictable.
 * The state must not be 0. */
static inline uint64_t wr_xorshift64(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Uniform in (0, 1) from the top 53 bits of wr_xorshift64(). */
static inline double wr_uniform(uint64_t *state)
{
	return ((wr_xorshift64(state) >> 11) + 0.5) / 9007199254740992.0;
}

/* A Poisson count of the given mean from wr_uniform(): Knuth's product of uniforms below a
 * mean of 50, a rounded normal (Box-Muller) above. For synthetic series in tests and benches. */
double wr_poisson(uint64_t *state, double mean);

/* Wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch. */
uint64_t wr_wall_ns(void);

/* Monotonic time (CLOCK_MONOTONIC) in nanoseconds, for pacing and timers that must not jump. */
uint64_t wr_mono_ns(void);

/*
 * Copies at most size-1 bytes of src into dst and always terminates it (size > 0).
 * Returns strlen(src), so a result >= size means the copy was cut short.
 */
size_t wr_strlcpy(char *dst, const char *src, size_t size);

/*
 * Parses a decimal unsigned integer that must fill the whole string and lie in [min, max].
 * Returns 0 and stores it in *ret_value, or -EINVAL (not a number) or -ERANGE (out of bounds).
 */
int wr_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret_value);

/*
 * Single-producer/single-consumer ring of fixed-size elements.
 *
 * One thread enqueues, one other thread dequeues; no locks, one acquire/release pair per
 * burst. The capacity is a power of two. The element memory follows the struct, so a ring is
 * one allocation: wr_ring_create() / wr_ring_free().
 */
struct wr_ring {
	_Atomic uint64_t head WR_ALIGNED; /* next slot to write; written by the producer only */
	uint64_t tail_cache;              /* producer's last view of tail */
	_Atomic uint64_t tail WR_ALIGNED; /* next slot to read; written by the consumer only */
	uint64_t head_cache;              /* consumer's last view of head */
	uint32_t mask WR_ALIGNED;         /* capacity - 1 */
	uint32_t elem_size;               /* bytes per element */
	uint8_t data[] WR_ALIGNED;
};

/* Creates a ring for `capacity` (rounded up to a power of two) elements of elem_size bytes.
 * Returns NULL with errno set on failure. */
struct wr_ring *wr_ring_create(uint32_t capacity, uint32_t elem_size);

/* Frees a ring; NULL is a no-op. Neither side may use it afterwards. */
void wr_ring_free(struct wr_ring *r);

/* Producer: copies up to n elements from objs; returns how many were enqueued (best effort). */
unsigned wr_ring_enqueue_burst(struct wr_ring *r, const void *objs, unsigned n);

/* Consumer: copies up to n elements into objs; returns how many were dequeued. */
unsigned wr_ring_dequeue_burst(struct wr_ring *r, void *objs, unsigned n);

/* Either side: elements currently queued (a snapshot). */
unsigned wr_ring_count(const struct wr_ring *r);

#endif /* WR_H */
