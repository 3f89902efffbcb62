/*
 * SPSC ring: head and tail are free-running 64-bit counters (they never wrap in practice), so
 * full is head - tail == capacity and empty is head == tail. Each side caches the other's
 * counter and reloads it (acquire) only when the cached value says full or empty, which keeps
 * the shared cache lines quiet in the common case.
 */
#include "wr.h"

#include <errno.h>
#include <stdlib.h>

struct wr_ring *wr_ring_create(uint32_t capacity, uint32_t elem_size)
{
	struct wr_ring *r;
	uint32_t cap = 1;

	if (capacity == 0 || capacity > (1u << 30) || elem_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	while (cap < capacity)
		cap <<= 1;
	r = aligned_alloc(WR_CACHE_LINE,
	                  (sizeof(*r) + (size_t)cap * elem_size + WR_CACHE_LINE - 1) &
	                      ~(size_t)(WR_CACHE_LINE - 1));
	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->mask = cap - 1;
	r->elem_size = elem_size;
	return r;
}

void wr_ring_free(struct wr_ring *r)
{
	free(r);
}

/* Copies n elements between the ring slot range starting at pos and a flat array. */
static void ring_copy(struct wr_ring *r, uint64_t pos, void *flat, unsigned n, int to_ring)
{
	uint32_t idx = (uint32_t)pos & r->mask;
	uint32_t first = r->mask + 1 - idx;
	size_t es = r->elem_size;
	uint8_t *slot = r->data + (size_t)idx * es;

	if (first > n)
		first = n;
	if (to_ring) {
		memcpy(slot, flat, first * es);
		memcpy(r->data, (uint8_t *)flat + first * es, (n - first) * es);
	} else {
		memcpy(flat, slot, first * es);
		memcpy((uint8_t *)flat + first * es, r->data, (n - first) * es);
	}
}

unsigned wr_ring_enqueue_burst(struct wr_ring *r, const void *objs, unsigned n)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t cap = (uint64_t)r->mask + 1;
	uint64_t space = cap - (head - r->tail_cache);

	if (space < n) {
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		space = cap - (head - r->tail_cache);
		if (space < n)
			n = (unsigned)space;
	}
	if (n == 0)
		return 0;
	ring_copy(r, head, (void *)(uintptr_t)objs, n, 1);
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

unsigned wr_ring_dequeue_burst(struct wr_ring *r, void *objs, unsigned n)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t avail = r->head_cache - tail;

	if (avail < n) {
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		avail = r->head_cache - tail;
		if (avail < n)
			n = (unsigned)avail;
	}
	if (n == 0)
		return 0;
	ring_copy(r, tail, objs, n, 0);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

unsigned wr_ring_count(const struct wr_ring *r)
{
	uint64_t head = atomic_load_explicit(&((struct wr_ring *)r)->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&((struct wr_ring *)r)->tail, memory_order_acquire);

	return (unsigned)(head - tail);
}
