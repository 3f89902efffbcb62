/*
 * The flow cache: a preallocated pool of entries, a chained hash index over them, and three
 * intrusive lists that make every timer O(1):
 *  - lru:     flows by last packet (least recent at the head): idle expiry and eviction;
 *  - active:  flows by the start of their current record (oldest at the head): active expiry;
 *  - pending: records that have ended (TCP FIN/RST, evicted) and wait for flowcache_expire().
 * An entry whose record was exported by the active timer keeps its place with zeroed
 * counters (the record leaves as a copy); if no packet follows before the idle timer, it
 * leaves without a second (empty) record. A packet that finds its flow's idle or active timer
 * already run out (the sweep has not reached it yet) first ends or restarts the record, so the
 * timers are exact on packet time. The pool holds max_flows live flows plus
 * FLOWCACHE_PENDING_RESERVE entries for ended records, so ending or evicting a flow never needs a
 * free slot.
 */
#include "flowcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wr.h"

#define NIL                       0xFFFFFFFFu
#define FLOWCACHE_PENDING_RESERVE 1024 /* ended records between two flowcache_expire() calls */

#define TCP_FIN 0x01
#define TCP_RST 0x04

struct link {
	uint32_t prev;
	uint32_t next;
};

struct list {
	uint32_t head;
	uint32_t tail;
};

struct fc_entry {
	struct flowcache_record rec;
	uint64_t active_base_ns; /* start of the active-timeout period */
	uint32_t hash;           /* capture_meta.hash of the key */
	uint32_t hnext;          /* hash chain */
	uint32_t in_list;        /* which list the entry is on (LIST_*) */
	struct link lru;         /* on lru or pending (a flow is never on both) */
	struct link act;         /* on active */
};

enum { LIST_FREE, LIST_LIVE, LIST_PENDING };

struct flowcache {
	struct flowcache_params p;
	struct fc_entry *e;
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t pool_size;
	uint32_t free_head; /* free entries chained through hnext */
	uint32_t live;      /* flows in the hash index */
	uint32_t pending_n;
	struct list lru, active, pending;
	struct flowcache_stats st;
};

/* Intrusive doubly linked lists over the pool; the link member is chosen by offset. */
#define LINK(fc, i, off) ((struct link *)((uint8_t *)&(fc)->e[i] + (off)))
#define LRU_OFF          offsetof(struct fc_entry, lru)
#define ACT_OFF          offsetof(struct fc_entry, act)

static void list_append(struct flowcache *fc, struct list *l, uint32_t i, size_t off)
{
	struct link *k = LINK(fc, i, off);

	k->prev = l->tail;
	k->next = NIL;
	if (l->tail != NIL)
		LINK(fc, l->tail, off)->next = i;
	else
		l->head = i;
	l->tail = i;
}

static void list_remove(struct flowcache *fc, struct list *l, uint32_t i, size_t off)
{
	struct link *k = LINK(fc, i, off);

	if (k->prev != NIL)
		LINK(fc, k->prev, off)->next = k->next;
	else
		l->head = k->next;
	if (k->next != NIL)
		LINK(fc, k->next, off)->prev = k->prev;
	else
		l->tail = k->prev;
}

struct flowcache *flowcache_create(const struct flowcache_params *params)
{
	struct flowcache *fc;
	uint32_t nb = 1, i;

	if (params == NULL || params->max_flows == 0 || params->max_flows > (1u << 28) ||
	    params->idle_timeout_ns == 0 || params->active_timeout_ns == 0) {
		errno = EINVAL;
		return NULL;
	}
	fc = calloc(1, sizeof(*fc));
	if (fc == NULL)
		return NULL;
	fc->p = *params;
	fc->pool_size = params->max_flows + FLOWCACHE_PENDING_RESERVE;
	while (nb < params->max_flows)
		nb <<= 1;
	fc->e = calloc(fc->pool_size, sizeof(*fc->e));
	fc->buckets = malloc((size_t)nb * sizeof(*fc->buckets));
	if (fc->e == NULL || fc->buckets == NULL) {
		flowcache_free(fc);
		errno = ENOMEM;
		return NULL;
	}
	memset(fc->buckets, 0xFF, (size_t)nb * sizeof(*fc->buckets));
	fc->bucket_mask = nb - 1;
	for (i = 0; i < fc->pool_size; i++)
		fc->e[i].hnext = i + 1 < fc->pool_size ? i + 1 : NIL;
	fc->free_head = 0;
	fc->lru = fc->active = fc->pending = (struct list){NIL, NIL};
	return fc;
}

void flowcache_free(struct flowcache *fc)
{
	if (fc == NULL)
		return;
	free(fc->e);
	free(fc->buckets);
	free(fc);
}

static uint32_t *bucket_of(struct flowcache *fc, uint32_t hash)
{
	return &fc->buckets[hash & fc->bucket_mask];
}

/* Takes a live flow out of the index and the timer lists and queues its record as ended. */
static void end_flow(struct flowcache *fc, uint32_t i, enum flowcache_end_reason reason)
{
	struct fc_entry *e = &fc->e[i];
	uint32_t *pp = bucket_of(fc, e->hash);

	while (*pp != i)
		pp = &fc->e[*pp].hnext;
	*pp = e->hnext;
	list_remove(fc, &fc->lru, i, LRU_OFF);
	list_remove(fc, &fc->active, i, ACT_OFF);
	fc->live--;
	e->rec.end_reason = (uint8_t)reason;
	e->in_list = LIST_PENDING;
	list_append(fc, &fc->pending, i, LRU_OFF);
	fc->pending_n++;
}

static void release(struct flowcache *fc, uint32_t i)
{
	fc->e[i].in_list = LIST_FREE;
	fc->e[i].hnext = fc->free_head;
	fc->free_head = i;
}

/* Finds the flow of m or creates it (*ret_created says which). NIL when no entry is free. */
static uint32_t lookup_or_create(struct flowcache *fc, const struct capture_meta *m,
                                 int *ret_created)
{
	uint32_t *b = bucket_of(fc, m->hash);
	uint32_t i;
	struct fc_entry *e;

	*ret_created = 0;
	for (i = *b; i != NIL; i = fc->e[i].hnext)
		if (memcmp(&fc->e[i].rec.key, &m->key, sizeof(m->key)) == 0)
			return i;
	*ret_created = 1;

	if (fc->live >= fc->p.max_flows) {
		end_flow(fc, fc->lru.head, FLOWCACHE_END_RESOURCES);
		fc->st.evicted++;
	}
	if (fc->free_head == NIL)
		return NIL; /* only if expire() was not called for over a reserve's worth of ends */
	i = fc->free_head;
	e = &fc->e[i];
	fc->free_head = e->hnext;
	memset(&e->rec, 0, sizeof(e->rec));
	e->rec.key = m->key;
	e->rec.tos = m->tos;
	e->rec.port = m->port;
	e->active_base_ns = m->ts_ns;
	e->hash = m->hash;
	e->in_list = LIST_LIVE;
	e->hnext = *b;
	*b = i;
	list_append(fc, &fc->lru, i, LRU_OFF);
	list_append(fc, &fc->active, i, ACT_OFF);
	fc->live++;
	fc->st.flows_created++;
	return i;
}

/* Queues a copy of a live flow's record (active timeout) and restarts its counters. Returns
 * -1 when no entry is free for the copy (expire() not called often enough). */
static int export_active(struct flowcache *fc, uint32_t i, uint64_t now_ns)
{
	struct fc_entry *e = &fc->e[i];

	if (e->rec.packets > 0) {
		uint32_t c = fc->free_head;

		if (c == NIL)
			return -1;
		fc->free_head = fc->e[c].hnext;
		fc->e[c].rec = e->rec;
		fc->e[c].rec.end_reason = FLOWCACHE_END_ACTIVE;
		fc->e[c].in_list = LIST_PENDING;
		list_append(fc, &fc->pending, c, LRU_OFF);
		fc->pending_n++;
		e->rec.packets = 0;
		e->rec.octets = 0;
		e->rec.tcp_flags = 0;
	}
	e->active_base_ns = now_ns;
	list_remove(fc, &fc->active, i, ACT_OFF);
	list_append(fc, &fc->active, i, ACT_OFF);
	return 0;
}

/*
 * Finds the flow of m, first ending or restarting its record if a timer ran out before m's own
 * time: timers are exact on packet time even when the sweep in flowcache_expire() runs only
 * once per burst.
 */
static uint32_t flow_for_packet(struct flowcache *fc, const struct capture_meta *m)
{
	int created;
	uint32_t i = lookup_or_create(fc, m, &created);
	struct fc_entry *e;

	if (i == NIL || created)
		return i;
	e = &fc->e[i];
	if (m->ts_ns >= wr_sat_add64(e->rec.last_ns, fc->p.idle_timeout_ns)) {
		if (e->rec.packets > 0) {
			end_flow(fc, i, FLOWCACHE_END_IDLE);
			return lookup_or_create(fc, m, &created);
		}
		/* Emptied by an active export, then idle: this packet starts a new flow. */
		e->active_base_ns = m->ts_ns;
		list_remove(fc, &fc->active, i, ACT_OFF);
		list_append(fc, &fc->active, i, ACT_OFF);
		fc->st.flows_created++;
	}
	if (m->ts_ns >= wr_sat_add64(e->active_base_ns, fc->p.active_timeout_ns) &&
	    export_active(fc, i, m->ts_ns) < 0)
		return NIL;
	return i;
}

void flowcache_update_burst(struct flowcache *fc, const struct capture_meta *metas, unsigned n)
{
	unsigned k;

	for (k = 0; k < n; k++) {
		const struct capture_meta *m = &metas[k];
		uint32_t i = flow_for_packet(fc, m);
		struct flowcache_record *r;

		if (WR_UNLIKELY(i == NIL)) {
			fc->st.no_slot++;
			continue;
		}
		r = &fc->e[i].rec;
		if (r->packets == 0) {
			r->first_ns = m->ts_ns;
			r->last_ns = m->ts_ns;
		}
		if (m->ts_ns > r->last_ns)
			r->last_ns = m->ts_ns;
		if (m->ts_ns < r->first_ns)
			r->first_ns = m->ts_ns;
		r->packets++;
		r->octets += m->l3_octets;
		r->tcp_flags |= m->tcp_flags;
		fc->st.packets++;
		fc->st.octets += m->l3_octets;
		if (m->key.proto == 6 && (m->tcp_flags & (TCP_FIN | TCP_RST))) {
			end_flow(fc, i, FLOWCACHE_END_OF_FLOW);
			continue;
		}
		list_remove(fc, &fc->lru, i, LRU_OFF);
		list_append(fc, &fc->lru, i, LRU_OFF);
	}
}

static void emit(struct flowcache *fc, const struct flowcache_record *r,
                 struct flowcache_record *out)
{
	*out = *r;
	fc->st.exported[r->end_reason]++;
}

static unsigned drain_pending(struct flowcache *fc, struct flowcache_record *out, unsigned max)
{
	unsigned n = 0;

	while (n < max && fc->pending.head != NIL) {
		uint32_t i = fc->pending.head;

		list_remove(fc, &fc->pending, i, LRU_OFF);
		fc->pending_n--;
		/* A flow idle since its last active export has nothing left to report. */
		if (fc->e[i].rec.packets > 0)
			emit(fc, &fc->e[i].rec, &out[n++]);
		release(fc, i);
	}
	return n;
}

unsigned flowcache_expire(struct flowcache *fc, uint64_t now_ns, struct flowcache_record *out,
                          unsigned max)
{
	unsigned n = drain_pending(fc, out, max);

	while (n < max && fc->lru.head != NIL) {
		uint32_t i = fc->lru.head;
		struct flowcache_record *r = &fc->e[i].rec;

		if (wr_sat_add64(r->last_ns, fc->p.idle_timeout_ns) > now_ns)
			break;
		end_flow(fc, i, FLOWCACHE_END_IDLE);
		n += drain_pending(fc, out + n, max - n);
	}
	while (n < max && fc->active.head != NIL) {
		uint32_t i = fc->active.head;

		if (wr_sat_add64(fc->e[i].active_base_ns, fc->p.active_timeout_ns) > now_ns ||
		    export_active(fc, i, now_ns) < 0)
			break;
		n += drain_pending(fc, out + n, max - n);
	}
	return n;
}

unsigned flowcache_flush(struct flowcache *fc, struct flowcache_record *out, unsigned max)
{
	unsigned n = drain_pending(fc, out, max);

	while (n < max && fc->lru.head != NIL) {
		end_flow(fc, fc->lru.head, FLOWCACHE_END_FORCED);
		n += drain_pending(fc, out + n, max - n);
	}
	return n;
}

void flowcache_get_stats(const struct flowcache *fc, struct flowcache_stats *ret)
{
	*ret = fc->st;
	ret->active = fc->live;
}
