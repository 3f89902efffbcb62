/*
 * The flow cache: a bucketised hash table of tags, a capped pool of fixed-size records
 * and a hashed timer wheel.
 *
 * Table. 64-byte buckets of 8 slots, each a 16-bit tag (from the hash) and a 32-bit record
 * index. A key has two candidate buckets (the second derived from the first and the tag); a
 * new flow goes to the first while it has room, else to the second, and the first counts the
 * flows it spilled. So a lookup reads one bucket, and the second only when the first has
 * spilled; when both are full, one flow moves to its other bucket (a cuckoo step) before any
 * is evicted. A lookup reads tags first and touches a record only on a tag match, and the full
 * key is always compared. Packets go through in three passes over a burst: hash and prefetch
 * the first bucket, match tags and prefetch the candidate records, then compare, update or
 * insert.
 *
 * Records. 128 bytes, aligned: everything an IPv4 packet reads or writes (counters, times,
 * timer links and the whole IPv4 key) is in the first 64-byte line; the second line holds the
 * IPv6 addresses and what only insertion and removal need. The key is compared as 24 bytes
 * (ports, protocol, VLAN stack, and the IPv4 addresses or a fold of the IPv6 ones), then, for
 * IPv6 only, the full addresses on the second line.
 *
 * Biflows (RFC 5103). The table hash is direction-symmetric, so a packet and its reply find the
 * same buckets and tag; the key is compared as it is and reversed. A record keeps the key of
 * the packet that started it (the initiator). Line 1 counts both directions together; the
 * reverse direction's own counters are on line 2, so a reply touches both lines and a forward
 * packet only the first. The forward counts are the difference, taken at export.
 *
 * Timers. Each flow sits on one slot of a wheel of WHEEL_SLOTS slots of SLOT_NS, the slot of
 * its deadline (idle: last packet + idle timeout; active: first packet of the record + active
 * timeout). A packet does not move its flow: when a slot comes due, each flow on it is checked
 * against its real deadline and either leaves or moves to the slot of its new deadline. A slot
 * is processed once its end has passed, so a flow leaves at most SLOT_NS after its deadline,
 * and a packet that finds its own flow's timer already run out ends or restarts the record
 * before it is counted, so records are exact on packet time. Work per flowcache_expire() call
 * is bounded.
 *
 * Ending. TCP RST at once, TCP FIN after a linger of FIN_LINGER_NS or the idle timeout,
 * whichever is shorter (so the last ACKs of the teardown stay in the record), idle and active
 * timeouts, eviction (when the pool is full, the flow with the earliest deadline among those met
 * walking the wheel from its cursor; when both buckets of a new key are full, the earliest in those
 * buckets), and flush. Ended records are copied to a pending ring and handed out by
 * flowcache_expire(); the record itself is reused at once.
 */
#include "flowcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "wr.h"

#define NIL          0xFFFFFFFFu
#define WAYS         8
#define SLOT_NS      (250 * WR_NS_PER_MS) /* timer resolution: the most a flow is late */
#define WHEEL_SLOTS  1024u                /* 256 s ahead; later deadlines wait on the last */
#define PENDING_CAP  4096u                /* ended records between two expire() calls */
#define VICTIM_LOOK  16                   /* flows examined to choose an eviction */
#define EXPIRE_VISIT 4096u                /* flows moved between slots per expire() call */

#define TCP_FIN 0x01
#define TCP_RST 0x04

#define REC_V6 0x01 /* flags: an IPv6 flow (addresses on line 2) */
/* flags: in the table. A burst's prefetched candidate may have been freed by an earlier
 * packet of the same burst (TCP end, eviction), so matching checks this first. */
#define REC_LIVE 0x02
#define REC_FIN  0x04 /* flags: a FIN was seen; the record ends FIN_LINGER_NS later */

#define FIN_LINGER_NS (2 * WR_NS_PER_S) /* keeps a teardown's last ACKs in its record */

struct bucket {
	uint16_t tag[WAYS]; /* 0 = empty slot */
	uint32_t idx[WAYS]; /* record index of each used slot */
	uint32_t spilled;   /* flows whose first bucket this is that live in their second */
	uint8_t pad[12];
};
_Static_assert(sizeof(struct bucket) == 64, "bucket = one cache line");

/* The part of the key compared on the first line. The first 16 bytes are laid out as the tail
 * of struct capture_flow_key (from sport), so they are copied in one move. */
struct key24 {
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t ip_version;
	uint8_t vlan_depth;
	uint8_t pad;
	uint16_t vlan[CAPTURE_VLAN_MAX];
	uint8_t addr[8]; /* IPv4: src, dst; IPv6: a fold of both addresses */
};
_Static_assert(sizeof(struct key24) == 24, "key24 layout");
_Static_assert(offsetof(struct key24, vlan) - offsetof(struct key24, sport) ==
                       offsetof(struct capture_flow_key, vlan) -
                           offsetof(struct capture_flow_key, sport) &&
                   offsetof(struct key24, proto) - offsetof(struct key24, sport) ==
                       offsetof(struct capture_flow_key, proto) -
                           offsetof(struct capture_flow_key, sport) &&
                   offsetof(struct key24, ip_version) - offsetof(struct key24, sport) ==
                       offsetof(struct capture_flow_key, ip_version) -
                           offsetof(struct capture_flow_key, sport) &&
                   offsetof(struct key24, vlan_depth) - offsetof(struct key24, sport) ==
                       offsetof(struct capture_flow_key, vlan_depth) -
                           offsetof(struct capture_flow_key, sport) &&
                   sizeof(struct capture_flow_key) - offsetof(struct capture_flow_key, sport) == 16,
               "key24 starts as the tail of capture_flow_key");

struct rec {
	/* line 1: the per-packet state of any flow, and the whole key of an IPv4 flow */
	uint64_t octets;
	uint64_t first_ns; /* first packet of the current record (valid when packets > 0) */
	uint64_t last_ns;  /* last packet of the flow */
	uint32_t packets;  /* of the current record; 0 after an active export */
	uint32_t wnext;    /* timer wheel list (and the free list) */
	uint8_t ttl_min;   /* of the current record's packets */
	uint8_t ttl_max;
	uint16_t icmp; /* ICMP type and code of the record's first packet */
	uint16_t tcp_flags;
	uint8_t tos;
	uint8_t flags; /* REC_V6 */
	struct key24 k;
	/* line 2: IPv6 addresses, and what only insertion and removal use */
	uint8_t src6[16];
	uint8_t dst6[16];
	uint64_t rev_octets;  /* biflow: the reverse direction's share of octets */
	uint32_t hash;        /* table hash of the key */
	uint32_t wslot;       /* wheel slot the record is on */
	uint32_t rev_packets; /* biflow: the reverse direction's share of packets */
	uint16_t port;
	uint16_t rev_tcp_flags; /* biflow: reverse direction (tcp_flags is then forward only) */
	uint32_t wprev;         /* timer wheel list */
	uint32_t mpls_top;      /* top MPLS label entry of the record's first packet */
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct rec) == 128, "record = two cache lines");
_Static_assert(offsetof(struct rec, k) + sizeof(struct key24) == 64, "IPv4 state on line 1");

struct flowcache {
	struct flowcache_params p;
	struct bucket *buckets;
	uint32_t bucket_mask;
	struct rec *recs;
	uint32_t free_head; /* freed records chained through wnext */
	uint32_t fresh;     /* records fresh..max_flows-1 were never used */
	size_t buckets_len; /* mapped bytes */
	size_t recs_len;
	uint32_t live;
	uint64_t quiet_min;               /* the shortest quiet time: min(idle, FIN linger) */
	uint32_t wheel[WHEEL_SLOTS];      /* list heads */
	uint64_t wheel_time;              /* start of the cursor slot; 0 until the first flow */
	uint32_t cursor;                  /* wheel_time / SLOT_NS mod WHEEL_SLOTS */
	struct flowcache_record *pending; /* ring of ended records */
	uint32_t pend_head, pend_n;
	struct flowcache_stats st;
};

#define HUGE_PAGE (2u << 20)

/*
 * The table and the record pool: zeroed anonymous memory, asking for transparent huge pages
 * (with 4 KiB pages, a million flows span 36,000 pages and nearly every lookup would also miss
 * the TLB). Pages are only touched as flows arrive, so memory grows with the flows present, up
 * to the cap. *len is rounded up to whole huge pages. NULL on failure.
 */
static void *big_alloc(size_t *len)
{
	void *p;

	*len = (*len + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, *len, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
#endif
	return p;
}

static void big_free(void *p, size_t len)
{
	if (p != NULL)
		munmap(p, len);
}

/* The shortest quiet time a flow can have: the idle timeout, or the FIN linger if shorter. */
static uint64_t quiet_min_of(uint64_t idle_timeout_ns)
{
	return idle_timeout_ns < FIN_LINGER_NS ? idle_timeout_ns : FIN_LINGER_NS;
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
	/* Twice as many slots as flows, in two-choice buckets: a full bucket pair is rare. */
	while ((uint64_t)nb * WAYS < 2ULL * params->max_flows)
		nb <<= 1;
	if (nb < 2)
		nb = 2;
	fc->buckets_len = (size_t)nb * sizeof(struct bucket);
	fc->recs_len = (size_t)params->max_flows * sizeof(struct rec);
	fc->buckets = big_alloc(&fc->buckets_len);
	fc->recs = big_alloc(&fc->recs_len);
	fc->pending = malloc(PENDING_CAP * sizeof(*fc->pending));
	if (fc->buckets == NULL || fc->recs == NULL || fc->pending == NULL) {
		flowcache_free(fc);
		errno = ENOMEM;
		return NULL;
	}
	fc->bucket_mask = nb - 1;
	fc->quiet_min = quiet_min_of(params->idle_timeout_ns);
	fc->free_head = NIL;
	fc->fresh = 0;
	for (i = 0; i < WHEEL_SLOTS; i++)
		fc->wheel[i] = NIL;
	return fc;
}

void flowcache_free(struct flowcache *fc)
{
	if (fc == NULL)
		return;
	big_free(fc->buckets, fc->buckets_len);
	big_free(fc->recs, fc->recs_len);
	free(fc->pending);
	free(fc);
}

/* The slots of a bucket that hold `tag` (tag 0: the free slots), as bit 2w for slot w: one
 * 16-bit compare of all 8 tags where SSE2 is there. Iterate with slot = ctz / 2. */
static inline unsigned tag_bits(const struct bucket *bk, uint16_t tag)
{
#ifdef __SSE2__
	__m128i eq =
	    _mm_cmpeq_epi16(_mm_load_si128((const __m128i *)bk->tag), _mm_set1_epi16((short)tag));

	return (unsigned)_mm_movemask_epi8(eq) & 0x5555u;
#else
	unsigned m = 0;
	int w;

	for (w = 0; w < WAYS; w++)
		m |= (unsigned)(bk->tag[w] == tag) << (2 * w);
	return m;
#endif
}

#define FIRST_SLOT(bits) (__builtin_ctz(bits) / 2)

/* ---------------------------------------------------------------------------------------- */
/* Keys and hashing                                                                           */

/* The table hash. The parser's hash is direction-symmetric: what a biflow table needs, but a
 * uniflow table would then hold both directions of every conversation in the same buckets with
 * the same tag, so there the ports break the symmetry. */
static inline uint32_t table_hash(const struct flowcache *fc, const struct capture_meta *m)
{
	uint32_t h = m->hash;

	if (!fc->p.biflow)
		h ^= (uint32_t)m->key.sport << 16 | m->key.dport;
	/* The parser's hash is already mixed: one odd multiply spreads the ports into the tag
	 * (the high half) and keeps the low bits (the bucket) as uniform as they were. */
	return h * 0x2C1B3C6Du;
}

static inline uint16_t hash_tag(uint32_t h)
{
	uint16_t t = (uint16_t)(h >> 16);

	return t ? t : 1;
}

static inline uint32_t bucket2(const struct flowcache *fc, uint32_t b1, uint16_t tag)
{
	uint32_t b2 = (b1 ^ (tag * 0x9E3779B1u >> 7)) & fc->bucket_mask;

	return b2 != b1 ? b2 : b1 ^ 1;
}

/* The 8-byte fold of an IPv6 address pair compared on line 1 (order matters). */
static void fold6(uint8_t out[8], const uint8_t src[16], const uint8_t dst[16])
{
	uint64_t a[4], f;

	memcpy(a, src, 16);
	memcpy(a + 2, dst, 16);
	f = a[0] ^ (a[1] * 0x9E3779B97F4A7C15ULL) ^ (a[2] * 0xC2B2AE3D27D4EB4FULL) ^
	    (a[3] * 0x165667B19E3779F9ULL);
	memcpy(out, &f, 8);
}

/* The compared part of key, or of its reverse (source and destination swapped). */
static void key24_from(struct key24 *k, const struct capture_flow_key *key, int reverse)
{
	const uint8_t *src = reverse ? key->dst : key->src, *dst = reverse ? key->src : key->dst;

	memcpy(k, &key->sport, 16);
	k->pad = 0;
	if (reverse) {
		k->sport = key->dport;
		k->dport = key->sport;
	}
	if (WR_UNLIKELY(key->ip_version == 6)) {
		fold6(k->addr, src, dst);
	} else {
		memcpy(k->addr, src, 4);
		memcpy(k->addr + 4, dst, 4);
	}
}

/* The key of a packet in both directions: rev is filled in biflow mode only. */
struct pkt_key {
	struct key24 fwd, rev;
	const struct capture_flow_key *key;
};

#define MATCH_FWD 1
#define MATCH_REV 2 /* biflow: the packet goes from the record's destination to its source */

/* The compared part of a record's key equals three words y: without a branch each. */
static inline int same24(const struct key24 *a, const uint64_t y[3])
{
	uint64_t x[3];

	memcpy(x, a, sizeof(x));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
}

/* True when record r holds the key whose compared part is k and whose addresses are src, dst
 * (only read for IPv6, whose addresses are on line 2). */
static inline int same_key(const struct rec *r, const struct key24 *k, const uint8_t *src,
                           const uint8_t *dst)
{
	uint64_t y[3];

	memcpy(y, k, sizeof(y));
	return same24(&r->k, y) && (!(r->flags & REC_V6) || (memcmp(r->src6, src, 16) == 0 &&
	                                                     memcmp(r->dst6, dst, 16) == 0));
}

/* The common case's match: r is live and holds the IPv4 key `key`, in its direction. The
 * words are built straight from the packet's key, in registers: going through key24_from()
 * and a struct on the stack measured 5 instructions more per packet. */
static inline int live_v4_match(const struct rec *r, const struct capture_flow_key *key)
{
	uint64_t y[3];
	uint8_t addr[8];

	if (key->ip_version != 4 || !(r->flags & REC_LIVE))
		return 0;
	memcpy(y, &key->sport, 16); /* key24 starts as this tail of the key */
	memcpy(addr, key->src, 4);
	memcpy(addr + 4, key->dst, 4);
	memcpy(&y[2], addr, 8);
	return same24(&r->k, y);
}

/* MATCH_FWD, MATCH_REV or 0. */
static inline int key_matches(const struct flowcache *fc, const struct rec *r,
                              const struct pkt_key *pk)
{
	const struct capture_flow_key *key = pk->key;

	if (!(r->flags & REC_LIVE))
		return 0;
	if (same_key(r, &pk->fwd, key->src, key->dst))
		return MATCH_FWD;
	if (fc->p.biflow && same_key(r, &pk->rev, key->dst, key->src))
		return MATCH_REV;
	return 0;
}

/* Biflow: turns the record round, so the packet that restarts it is its initiator. The table
 * hash is symmetric, so the record stays where it is. */
static void reverse_key(struct rec *r)
{
	uint16_t port = r->k.sport;
	uint8_t a[16];

	r->k.sport = r->k.dport;
	r->k.dport = port;
	if (r->flags & REC_V6) {
		memcpy(a, r->src6, 16);
		memcpy(r->src6, r->dst6, 16);
		memcpy(r->dst6, a, 16);
		fold6(r->k.addr, r->src6, r->dst6);
	} else {
		memcpy(a, r->k.addr, 4);
		memmove(r->k.addr, r->k.addr + 4, 4);
		memcpy(r->k.addr + 4, a, 4);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Timer wheel                                                                                */

/* When the flow's quiet time runs out: the idle timeout, or the FIN linger once a FIN was
 * seen. */
static uint64_t quiet_deadline(const struct flowcache *fc, const struct rec *r)
{
	uint64_t idle = wr_sat_add64(r->last_ns, fc->p.idle_timeout_ns);
	uint64_t fin;

	if (!(r->flags & REC_FIN))
		return idle;
	fin = wr_sat_add64(r->last_ns, FIN_LINGER_NS);
	return fin < idle ? fin : idle;
}

/* Why a record whose quiet time ran out ends. */
static enum flowcache_end_reason quiet_reason(const struct rec *r)
{
	return (r->flags & REC_FIN) ? FLOWCACHE_END_OF_FLOW : FLOWCACHE_END_IDLE;
}

static uint64_t deadline(const struct flowcache *fc, const struct rec *r)
{
	uint64_t idle = quiet_deadline(fc, r);
	uint64_t active;

	if (r->packets == 0)
		return idle;
	active = wr_sat_add64(r->first_ns, fc->p.active_timeout_ns);
	return active < idle ? active : idle;
}

static void wheel_insert(struct flowcache *fc, uint32_t i, uint64_t due)
{
	struct rec *r = &fc->recs[i];
	uint64_t ahead;
	uint32_t slot;

	ahead = due > fc->wheel_time ? (due - fc->wheel_time) / SLOT_NS : 0;
	if (ahead >= WHEEL_SLOTS)
		ahead = WHEEL_SLOTS - 1; /* looked at again when that slot comes round */
	slot = (fc->cursor + (uint32_t)ahead) % WHEEL_SLOTS;
	r->wslot = slot;
	r->wprev = NIL;
	r->wnext = fc->wheel[slot];
	if (r->wnext != NIL)
		fc->recs[r->wnext].wprev = i;
	fc->wheel[slot] = i;
}

static void wheel_remove(struct flowcache *fc, uint32_t i)
{
	struct rec *r = &fc->recs[i];

	if (r->wslot == NIL)
		return;
	if (r->wprev != NIL)
		fc->recs[r->wprev].wnext = r->wnext;
	else
		fc->wheel[r->wslot] = r->wnext;
	if (r->wnext != NIL)
		fc->recs[r->wnext].wprev = r->wprev;
	r->wslot = NIL;
}

/* ---------------------------------------------------------------------------------------- */
/* Records in and out                                                                         */

static uint32_t pending_room(const struct flowcache *fc)
{
	return PENDING_CAP - fc->pend_n;
}

/* Copies a record's current counters into o. */
static void rec_copy(const struct rec *r, struct flowcache_record *o, enum flowcache_end_reason why)
{
	memset(&o->key, 0, sizeof(o->key));
	if (r->flags & REC_V6) {
		memcpy(o->key.src, r->src6, 16);
		memcpy(o->key.dst, r->dst6, 16);
	} else {
		memcpy(o->key.src, r->k.addr, 4);
		memcpy(o->key.dst, r->k.addr + 4, 4);
	}
	o->key.sport = r->k.sport;
	o->key.dport = r->k.dport;
	o->key.proto = r->k.proto;
	o->key.ip_version = r->k.ip_version;
	o->key.vlan_depth = r->k.vlan_depth;
	memcpy(o->key.vlan, r->k.vlan, sizeof(o->key.vlan));
	o->first_ns = r->first_ns;
	o->last_ns = r->last_ns;
	o->packets = r->packets - r->rev_packets;
	o->octets = r->octets - r->rev_octets;
	o->tcp_flags = r->tcp_flags;
	o->tos = r->tos;
	o->end_reason = (uint8_t)why;
	o->port = r->port;
	o->ttl_min = r->ttl_min;
	o->ttl_max = r->ttl_max;
	o->icmp = r->icmp;
	o->mpls_top = r->mpls_top;
	o->rev_tcp_flags = r->rev_tcp_flags;
	o->rev_packets = r->rev_packets;
	o->rev_octets = r->rev_octets;
}

/* Copies a record's current counters out as an ended record. */
static void record_out(struct flowcache *fc, const struct rec *r, enum flowcache_end_reason why)
{
	rec_copy(r, &fc->pending[(fc->pend_head + fc->pend_n) % PENDING_CAP], why);
	fc->pend_n++;
}

/* Ends the current record of a flow that goes on (active timeout, or a gap longer than the
 * idle timeout seen by its next packet). */
static void restart_record(struct flowcache *fc, struct rec *r, enum flowcache_end_reason why)
{
	if (r->packets > 0)
		record_out(fc, r, why);
	r->packets = 0;
	r->octets = 0;
	r->tcp_flags = 0;
	if (fc->p.biflow) {
		r->rev_packets = 0;
		r->rev_octets = 0;
		r->rev_tcp_flags = 0;
	}
}

/* Removes a flow from the table and the wheel and frees its record (already reported). */
static void release(struct flowcache *fc, uint32_t i)
{
	struct rec *r = &fc->recs[i];
	uint32_t b = r->hash & fc->bucket_mask;
	uint16_t tag = hash_tag(r->hash);
	struct bucket *bk;
	int pass, w;

	wheel_remove(fc, i);
	for (pass = 0; pass < 2; pass++, b = bucket2(fc, r->hash & fc->bucket_mask, tag)) {
		bk = &fc->buckets[b];
		for (w = 0; w < WAYS; w++) {
			if (bk->tag[w] == tag && bk->idx[w] == i) {
				bk->tag[w] = 0;
				if (pass == 1)
					fc->buckets[r->hash & fc->bucket_mask].spilled--;
				goto freed;
			}
		}
	}
freed:
	r->flags = 0;
	r->wnext = fc->free_head;
	fc->free_head = i;
	fc->live--;
}

static void end_flow(struct flowcache *fc, uint32_t i, enum flowcache_end_reason why)
{
	if (fc->recs[i].packets > 0)
		record_out(fc, &fc->recs[i], why);
	release(fc, i);
}

/* The flow to evict when the pool is full: the earliest deadline among the first VICTIM_LOOK
 * flows met walking the wheel from its cursor (slots hold flows by deadline, so these are the
 * least recently active ones, give or take the flows whose deadline moved on since). */
static uint32_t pick_victim(struct flowcache *fc)
{
	uint32_t best = NIL, seen = 0, s, i;
	uint64_t best_due = UINT64_MAX;

	for (s = 0; s < WHEEL_SLOTS && seen < VICTIM_LOOK; s++) {
		for (i = fc->wheel[(fc->cursor + s) % WHEEL_SLOTS]; i != NIL && seen < VICTIM_LOOK;
		     i = fc->recs[i].wnext, seen++) {
			uint64_t due = deadline(fc, &fc->recs[i]);

			if (best == NIL || due < best_due) {
				best_due = due;
				best = i;
			}
		}
	}
	return best;
}

/* Frees a slot of full bucket b by moving one of its flows to that flow's other bucket, where
 * there is room (one cuckoo step: the records are read, which is fine on this rare path).
 * Returns 1 if a slot was freed. */
static int make_room(struct flowcache *fc, uint32_t b)
{
	struct bucket *bk = &fc->buckets[b];
	int w;

	for (w = 0; w < WAYS; w++) {
		uint32_t h = fc->recs[bk->idx[w]].hash, first = h & fc->bucket_mask;
		uint32_t other = first == b ? bucket2(fc, first, bk->tag[w]) : first;
		struct bucket *ob = &fc->buckets[other];
		unsigned room = tag_bits(ob, 0);
		int ow;

		if (room == 0)
			continue;
		ow = FIRST_SLOT(room);
		ob->tag[ow] = bk->tag[w];
		ob->idx[ow] = bk->idx[w];
		bk->tag[w] = 0;
		if (first == b)
			fc->buckets[first].spilled++; /* now in its second bucket */
		else
			fc->buckets[first].spilled--; /* back in its first */
		return 1;
	}
	return 0;
}

/* Creates a flow for m in bucket b1, or b2 when b1 is full. Returns its record or NIL. */
static uint32_t create(struct flowcache *fc, const struct capture_meta *m, uint32_t h, uint32_t b1,
                       uint32_t b2, const struct key24 *k)
{
	struct bucket *bk1 = &fc->buckets[b1], *bk2 = &fc->buckets[b2], *bk;
	unsigned free1 = tag_bits(bk1, 0), free2 = tag_bits(bk2, 0), freebits;
	int w;
	uint32_t i;
	struct rec *r;

	if (free1 == 0 && free2 == 0 && (make_room(fc, b1) || make_room(fc, b2)))
		return create(fc, m, h, b1, b2, k);
	if (free1 == 0 && free2 == 0) {
		/* Both buckets full and none of their flows can move (rare: the table has twice
		 * the slots of the pool): evict the flow of these 16 with the earliest deadline. */
		uint64_t best_due = UINT64_MAX;
		uint32_t victim = NIL;

		for (w = 0; w < 2 * WAYS; w++) {
			uint32_t j = w < WAYS ? bk1->idx[w] : bk2->idx[w - WAYS];
			uint64_t due = deadline(fc, &fc->recs[j]);

			if (victim == NIL || due < best_due) {
				best_due = due;
				victim = j;
			}
		}
		end_flow(fc, victim, FLOWCACHE_END_RESOURCES);
		fc->st.evicted++;
		return create(fc, m, h, b1, b2, k);
	}
	if (fc->free_head == NIL && fc->fresh == fc->p.max_flows) {
		i = pick_victim(fc);
		if (i == NIL)
			return NIL;
		end_flow(fc, i, FLOWCACHE_END_RESOURCES);
		fc->st.evicted++;
		/* The victim may have freed a slot in one of our buckets: count again. */
		return create(fc, m, h, b1, b2, k);
	}
	/* The first bucket while it has room: then a lookup reads one bucket, and reads the
	 * second only when the first has spilled flows into it. */
	if (free1) {
		bk = bk1;
		freebits = free1;
	} else {
		bk = bk2;
		freebits = free2;
		bk1->spilled++;
	}
	w = FIRST_SLOT(freebits);
	if (fc->free_head != NIL) {
		i = fc->free_head;
		fc->free_head = fc->recs[i].wnext;
	} else {
		i = fc->fresh++;
	}
	r = &fc->recs[i];
	bk->tag[w] = hash_tag(h);
	bk->idx[w] = i;

	r->octets = 0;
	r->first_ns = m->ts_ns;
	r->last_ns = m->ts_ns;
	r->packets = 0;
	r->tcp_flags = 0;
	/* tos, port, TTL, ICMP and MPLS: set by fold() as the record's first packet's */
	r->flags = REC_LIVE | (m->key.ip_version == 6 ? REC_V6 : 0);
	r->k = *k;
	if (r->flags & REC_V6) {
		memcpy(r->src6, m->key.src, 16);
		memcpy(r->dst6, m->key.dst, 16);
	}
	r->hash = h;
	r->rev_packets = 0;
	r->rev_octets = 0;
	r->rev_tcp_flags = 0;
	r->wslot = NIL; /* slotted by fold() when its first packet starts the record */
	fc->live++;
	fc->st.flows_created++;
	return i;
}

/* Full lookup in both buckets (after an insert earlier in the same burst, or a tag hit on
 * another key). Sets *match (MATCH_FWD or MATCH_REV) when found. */
static uint32_t lookup(struct flowcache *fc, uint32_t b1, uint32_t b2, uint16_t tag,
                       const struct pkt_key *pk, int *match)
{
	const struct bucket *bk = &fc->buckets[b1];
	int pass;

	for (pass = 0; pass < 1 + (fc->buckets[b1].spilled != 0); pass++, bk = &fc->buckets[b2]) {
		unsigned bits;

		for (bits = tag_bits(bk, tag); bits; bits &= bits - 1) {
			uint32_t i = bk->idx[FIRST_SLOT(bits)];

			*match = key_matches(fc, &fc->recs[i], pk);
			if (*match)
				return i;
		}
	}
	return NIL;
}

/* First record index whose tag matches in b1 then b2, or NIL: a guess to prefetch. */
static uint32_t tag_candidate(const struct flowcache *fc, uint32_t b1, uint16_t tag)
{
	unsigned bits = tag_bits(&fc->buckets[b1], tag);
	uint32_t b2;

	if (bits)
		return fc->buckets[b1].idx[FIRST_SLOT(bits)];
	if (fc->buckets[b1].spilled == 0)
		return NIL;
	b2 = bucket2(fc, b1, tag);
	bits = tag_bits(&fc->buckets[b2], tag);
	return bits ? fc->buckets[b2].idx[FIRST_SLOT(bits)] : NIL;
}

/* minimumTTL / maximumTTL: a record's range widens with each packet. */
static inline void fold_ttl(struct rec *r, uint8_t ttl)
{
	r->ttl_min = ttl < r->ttl_min ? ttl : r->ttl_min;
	r->ttl_max = ttl > r->ttl_max ? ttl : r->ttl_max;
}

/* Folds one packet into flow i (match: its direction), first ending the record if a timer
 * ran out before it. A new flow has last_ns == ts, so only a flow seen before can have gone
 * idle. */
static void fold(struct flowcache *fc, uint32_t i, const struct capture_meta *m, int match)
{
	struct rec *r = &fc->recs[i];
	uint64_t ts = m->ts_ns;
	int start;

	/* Most packets: in order, well inside every timer (first <= last <= ts, so the
	 * differences cannot wrap), not the first of a record, forward, no TCP end: counters. */
	if (WR_LIKELY(ts >= r->last_ns && ts - r->last_ns < fc->quiet_min &&
	              ts - r->first_ns < fc->p.active_timeout_ns &&
	              r->packets - 1u < UINT32_MAX - 1u && match == MATCH_FWD &&
	              !(m->tcp_flags & (TCP_FIN | TCP_RST)))) {
		r->last_ns = ts;
		r->packets++;
		r->octets += m->l3_octets;
		r->tcp_flags |= m->tcp_flags;
		fold_ttl(r, m->ttl);
		return;
	}

	if (m->ts_ns >= quiet_deadline(fc, r)) {
		/* Quiet (or closed by a FIN) before this packet, possibly after an active export
		 * emptied the record: the record ends and the packet starts the flow anew, as its
		 * initiator. */
		restart_record(fc, r, quiet_reason(r));
		r->flags &= (uint8_t)~REC_FIN;
		fc->st.flows_created++;
		if (match == MATCH_REV) {
			reverse_key(r);
			match = MATCH_FWD;
		}
	} else if (r->packets > 0 &&
	           m->ts_ns >= wr_sat_add64(r->first_ns, fc->p.active_timeout_ns)) {
		restart_record(fc, r, FLOWCACHE_END_ACTIVE);
	} else if (WR_UNLIKELY(r->packets == UINT32_MAX)) {
		restart_record(fc, r, FLOWCACHE_END_ACTIVE); /* the counter would wrap */
	} else if (WR_UNLIKELY(r->packets > 0 && m->ts_ns < r->first_ns &&
	                       r->last_ns - m->ts_ns >= fc->p.active_timeout_ns)) {
		/* A packet so late that the record would span more than the active timeout. */
		restart_record(fc, r, FLOWCACHE_END_ACTIVE);
	}
	start = r->packets == 0;
	if (start) {
		/* The record's own times and port: after an active export, last_ns may still be a
		 * later packet of the previous record when packets arrive out of order. */
		r->first_ns = m->ts_ns;
		r->last_ns = m->ts_ns;
		r->tos = m->tos;
		r->port = m->port;
		r->ttl_min = m->ttl;
		r->ttl_max = m->ttl;
		r->icmp = m->icmp;
		r->mpls_top = m->mpls_top;
	}
	if (m->ts_ns > r->last_ns)
		r->last_ns = m->ts_ns;
	if (m->ts_ns < r->first_ns) {
		/* An earlier packet, out of order: the active deadline moves earlier too. */
		r->first_ns = m->ts_ns;
		start = 1;
	}
	r->packets++;
	r->octets += m->l3_octets;
	fold_ttl(r, m->ttl);
	if (WR_LIKELY(match == MATCH_FWD)) {
		r->tcp_flags |= m->tcp_flags;
	} else {
		r->rev_packets++;
		r->rev_octets += m->l3_octets;
		r->rev_tcp_flags |= m->tcp_flags;
	}
	if (start) {
		/* A record's deadline only moves later while its packets come in order, but a new
		 * record (or an earlier first packet) brings an active deadline that may be earlier
		 * than the slot the flow sits on. */
		wheel_remove(fc, i);
		wheel_insert(fc, i, deadline(fc, r));
	}
	if (m->key.proto == 6 && (m->tcp_flags & (TCP_FIN | TCP_RST))) {
		if (m->tcp_flags & TCP_RST) {
			end_flow(fc, i, FLOWCACHE_END_OF_FLOW); /* nothing follows a reset */
		} else if (!(r->flags & REC_FIN)) {
			/* FIN: the flow ends after a short linger, which keeps the last ACKs of
			 * the teardown in this record; its deadline moves earlier. */
			r->flags |= REC_FIN;
			wheel_remove(fc, i);
			wheel_insert(fc, i, deadline(fc, r));
		}
	}
}

#define BULK 32

/* A burst on its way through the three passes. */
struct burst {
	const struct capture_meta *metas;
	unsigned n;
	uint32_t h[BULK], b1[BULK], cand[BULK]; /* the second bucket is derived when needed */
	uint16_t tag[BULK];
};

/* Pass 1: hash, and prefetch the first bucket. */
static void burst_hash(struct flowcache *fc, struct burst *b, const struct capture_meta *metas,
                       unsigned n)
{
	unsigned k;

	b->metas = metas;
	b->n = n;
	for (k = 0; k < b->n; k++) {
		b->h[k] = table_hash(fc, &metas[k]);
		b->tag[k] = hash_tag(b->h[k]);
		b->b1[k] = b->h[k] & fc->bucket_mask;
		__builtin_prefetch(&fc->buckets[b->b1[k]]);
	}
}

/* Pass 2: tags only; prefetch the record a tag points at. */
static void burst_find(struct flowcache *fc, struct burst *b)
{
	unsigned k;

	for (k = 0; k < b->n; k++) {
		uint32_t c = tag_candidate(fc, b->b1[k], b->tag[k]);

		b->cand[k] = c;
		if (c != NIL) {
			__builtin_prefetch(&fc->recs[c], 1);
			if (b->metas[k].key.ip_version == 6)
				__builtin_prefetch((uint8_t *)&fc->recs[c] + 64, 1);
		}
	}
}

/* Pass 3: compare the full key; update, or insert. */
static void burst_fold(struct flowcache *fc, struct burst *b)
{
	uint64_t folded = 0, octets = 0; /* added to the statistics once per burst */
	unsigned k;

	if (WR_UNLIKELY(fc->wheel_time == 0) && b->n > 0) {
		/* The first packet starts the wheel at its own time: a deadline may be as close as
		 * the FIN linger, so the wheel must not start at the first idle deadline. */
		fc->wheel_time = b->metas[0].ts_ns - b->metas[0].ts_ns % SLOT_NS;
		if (fc->wheel_time == 0)
			fc->wheel_time = SLOT_NS; /* 0 means "not started" */
	}
	for (k = 0; k < b->n; k++) {
		const struct capture_meta *m = &b->metas[k];
		struct pkt_key pk;
		uint32_t i = b->cand[k];
		int match = 0;

		if (WR_UNLIKELY(pending_room(fc) < 2)) {
			fc->st.no_slot++; /* expire() not called for too long */
			continue;
		}
		/* The common case first: a uniflow IPv4 packet whose candidate holds its key,
		 * matched without building the packet's keys for the general lookup. */
		if (!fc->p.biflow && i != NIL && live_v4_match(&fc->recs[i], &m->key)) {
			match = MATCH_FWD;
			goto found;
		}
		pk.key = &m->key;
		key24_from(&pk.fwd, &m->key, 0);
		if (fc->p.biflow)
			key24_from(&pk.rev, &m->key, 1);
		/* The candidate was chosen before the packets ahead of this one were folded: it
		 * is only a guess until the key matches. */
		if (i != NIL)
			match = key_matches(fc, &fc->recs[i], &pk);
		if (!match)
			i = lookup(fc, b->b1[k], bucket2(fc, b->b1[k], b->tag[k]), b->tag[k], &pk,
			           &match);
		if (i == NIL) {
			i = create(fc, m, b->h[k], b->b1[k], bucket2(fc, b->b1[k], b->tag[k]),
			           &pk.fwd);
			match = MATCH_FWD;
		}
		if (WR_UNLIKELY(i == NIL)) {
			fc->st.no_slot++;
			continue;
		}
	found:
		fold(fc, i, m, match);
		folded++;
		octets += m->l3_octets;
	}
	fc->st.packets += folded;
	fc->st.octets += octets;
	b->n = 0;
}

void flowcache_update_burst(struct flowcache *fc, const struct capture_meta *metas, unsigned n)
{
	struct burst b;
	unsigned base, c;

	for (base = 0; base < n; base += c) {
		c = n - base < BULK ? n - base : BULK;
		burst_hash(fc, &b, metas + base, c);
		burst_find(fc, &b);
		burst_fold(fc, &b);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Expiry and flush                                                                           */

static unsigned drain_pending(struct flowcache *fc, struct flowcache_record *out, unsigned max)
{
	unsigned n = 0;

	while (n < max && fc->pend_n > 0) {
		out[n] = fc->pending[fc->pend_head];
		fc->st.exported[out[n].end_reason]++;
		fc->pend_head = (fc->pend_head + 1) % PENDING_CAP;
		fc->pend_n--;
		n++;
	}
	return n;
}

/*
 * The clock stepped back (the probe follows packet time back when the input jumps back): the
 * wheel restarts at now_ns and every flow is slotted again by its deadline. O(flows), on a
 * rare event; without it nothing would expire until the clock caught up with the old time.
 */
static void wheel_rewind(struct flowcache *fc, uint64_t now_ns)
{
	uint32_t chain = NIL, s, i, next;

	for (s = 0; s < WHEEL_SLOTS; s++) {
		for (i = fc->wheel[s]; i != NIL; i = next) {
			next = fc->recs[i].wnext;
			fc->recs[i].wnext = chain; /* a private chain until re-slotted */
			chain = i;
		}
		fc->wheel[s] = NIL;
	}
	fc->wheel_time = now_ns - now_ns % SLOT_NS;
	if (fc->wheel_time == 0)
		fc->wheel_time = SLOT_NS;
	for (i = chain; i != NIL; i = next) {
		next = fc->recs[i].wnext;
		wheel_insert(fc, i, deadline(fc, &fc->recs[i]));
	}
}

int flowcache_expire_behind(const struct flowcache *fc, uint64_t now_ns)
{
	/* A slot is processed once its end has passed; the last slot before 2^64 never ends, so
	 * the wheel time cannot wrap. */
	return fc->wheel_time != 0 && fc->wheel_time <= UINT64_MAX - SLOT_NS &&
	       fc->wheel_time + SLOT_NS <= now_ns;
}

unsigned flowcache_expire(struct flowcache *fc, uint64_t now_ns, struct flowcache_record *out,
                          unsigned max)
{
	unsigned n = drain_pending(fc, out, max), visits = 0;

	if (WR_UNLIKELY(fc->wheel_time != 0 && now_ns + SLOT_NS < fc->wheel_time))
		wheel_rewind(fc, now_ns);

	if (fc->wheel_time != 0 && now_ns > fc->wheel_time &&
	    (now_ns - fc->wheel_time) / SLOT_NS > WHEEL_SLOTS) {
		/* The clock jumped past a whole turn: one turn visits every flow. */
		uint64_t t = now_ns - now_ns % SLOT_NS - (uint64_t)WHEEL_SLOTS * SLOT_NS;

		fc->cursor = (uint32_t)(fc->cursor + (t - fc->wheel_time) / SLOT_NS) % WHEEL_SLOTS;
		fc->wheel_time = t;
	}
	while (n < max && visits < EXPIRE_VISIT && flowcache_expire_behind(fc, now_ns)) {
		uint32_t i = fc->wheel[fc->cursor];
		struct rec *r;
		uint64_t due;

		if (i == NIL) {
			fc->wheel_time += SLOT_NS;
			fc->cursor = (fc->cursor + 1) % WHEEL_SLOTS;
			visits++;
			continue;
		}
		r = &fc->recs[i];
		due = deadline(fc, r);
		visits++;
		if (due > now_ns) {
			wheel_remove(fc, i);
			wheel_insert(fc, i, due);
			continue;
		}
		if (quiet_deadline(fc, r) <= now_ns) {
			end_flow(fc, i, quiet_reason(r));
		} else {
			restart_record(fc, r, FLOWCACHE_END_ACTIVE);
			wheel_remove(fc, i);
			wheel_insert(fc, i, deadline(fc, r));
		}
		n += drain_pending(fc, out + n, max - n);
	}
	return n;
}

unsigned flowcache_flush(struct flowcache *fc, struct flowcache_record *out, unsigned max)
{
	unsigned n = drain_pending(fc, out, max);
	uint32_t s;

	for (s = 0; s < WHEEL_SLOTS && n < max; s++) {
		while (n < max && fc->wheel[s] != NIL) {
			end_flow(fc, fc->wheel[s], FLOWCACHE_END_FORCED);
			n += drain_pending(fc, out + n, max - n);
		}
	}
	return n;
}

void flowcache_get_stats(const struct flowcache *fc, struct flowcache_stats *ret)
{
	*ret = fc->st;
	ret->active = fc->live;
}

int flowcache_set_timeouts(struct flowcache *fc, uint64_t idle_timeout_ns,
                           uint64_t active_timeout_ns)
{
	uint32_t i;

	if (idle_timeout_ns == 0 || active_timeout_ns == 0)
		return -EINVAL;
	fc->p.idle_timeout_ns = idle_timeout_ns;
	fc->p.active_timeout_ns = active_timeout_ns;
	fc->quiet_min = quiet_min_of(idle_timeout_ns);
	/* A flow sits on the slot of its old deadline: a longer timeout only re-slots it when
	 * that slot comes due, but a shorter one would let it leave late, so every flow on the
	 * wheel moves to the slot of its new deadline now. */
	for (i = 0; i < fc->fresh; i++)
		if (fc->recs[i].wslot != NIL && fc->recs[i].flags & REC_LIVE) {
			wheel_remove(fc, i);
			wheel_insert(fc, i, deadline(fc, &fc->recs[i]));
		}
	return 0;
}

unsigned flowcache_top(const struct flowcache *fc, struct flowcache_record *out, unsigned n)
{
	uint32_t best[FLOWCACHE_TOP_MAX], i;
	unsigned got = 0, k;

	if (n > FLOWCACHE_TOP_MAX)
		n = FLOWCACHE_TOP_MAX;
	for (i = 0; i < fc->fresh && n > 0; i++) {
		const struct rec *r = &fc->recs[i];

		if (r->wslot == NIL || !(r->flags & REC_LIVE) || r->packets == 0)
			continue;
		if (got == n && r->octets <= fc->recs[best[n - 1]].octets)
			continue;
		/* insertion into best[], largest first */
		k = got < n ? got++ : n - 1;
		while (k > 0 && fc->recs[best[k - 1]].octets < r->octets) {
			best[k] = best[k - 1];
			k--;
		}
		best[k] = i;
	}
	for (k = 0; k < got; k++)
		rec_copy(&fc->recs[best[k]], &out[k], FLOWCACHE_END_FORCED);
	return got;
}
