/*
 * flowcache: folds parsed packets into flow records and decides when each record leaves, and
 * why. Records are unidirectional by default; in biflow mode (RFC 5103) one record holds both
 * directions of a conversation, keyed in the direction of its first packet (the initiator),
 * with the counters of the other direction beside the forward ones.
 *
 * A cache belongs to one worker thread (shared nothing, no locks). Packets go in by bursts of
 * parsed metadata; records come out of flowcache_expire() when their idle or active timer has
 * run, when TCP says the flow ended, when the cache is full, or at flowcache_flush() (forced
 * end). Time is packet time: the caller passes the capture clock, which may also be advanced by
 * a tick while the input is idle.
 */
#ifndef FLOWCACHE_H
#define FLOWCACHE_H

#include <stdint.h>

#include "capture.h"

/* Why a record was exported: the flowEndReason values of RFC 7012 (IANA element 136). */
enum flowcache_end_reason {
	FLOWCACHE_END_IDLE = 1,     /* idle timeout */
	FLOWCACHE_END_ACTIVE = 2,   /* active timeout; the flow continues with fresh counters */
	FLOWCACHE_END_OF_FLOW = 3,  /* TCP RST, or min(2 s, idle timeout) after a TCP FIN */
	FLOWCACHE_END_FORCED = 4,   /* flushed at shutdown or end of input */
	FLOWCACHE_END_RESOURCES = 5 /* evicted because the cache was full */
};

/* One flow record as exported. Counters are deltas since the previous export of the flow. In
 * biflow mode, packets/octets/tcp_flags are those of the forward direction (source to
 * destination of the key), rev_* those of the reverse direction, and first_ns/last_ns cover
 * both; in uniflow mode rev_* are 0. */
struct flowcache_record {
	struct capture_flow_key key;
	uint64_t first_ns;  /* first packet covered by this record (packet time) */
	uint64_t last_ns;   /* last packet covered by this record */
	uint64_t packets;   /* packetDeltaCount */
	uint64_t octets;    /* octetDeltaCount: sum of capture_meta.l3_octets */
	uint16_t tcp_flags; /* union of TCP flags */
	uint8_t tos;        /* ipClassOfService of the first packet */
	uint8_t end_reason; /* enum flowcache_end_reason */
	uint16_t port;      /* input port of the first packet */
	uint16_t rev_tcp_flags;
	uint8_t ttl_min;      /* minimumTTL / maximumTTL over the record's packets (a biflow's: */
	uint8_t ttl_max;      /* both directions) */
	uint16_t icmp;        /* ICMP type << 8 | code of the first packet (0: not ICMP) */
	uint32_t mpls_top;    /* top MPLS label entry >> 8 of the first packet (0: none) */
	uint64_t rev_packets; /* reversePacketDeltaCount (biflow) */
	uint64_t rev_octets;  /* reverseOctetDeltaCount (biflow) */
};

struct flowcache_params {
	uint32_t max_flows;         /* hard cap on concurrent flows; full: evict least recent */
	uint64_t idle_timeout_ns;   /* export after this long without a packet */
	uint64_t active_timeout_ns; /* export (and restart counters) after this long since the
	                               record's first packet */
	int biflow;                 /* one record per bidirectional flow (RFC 5103) */
};

struct flowcache_stats {
	uint64_t packets;       /* packets folded into flows */
	uint64_t octets;        /* their l3 octets */
	uint64_t flows_created; /* new records (including continuations after end of flow) */
	uint64_t active;        /* flows in the cache now */
	uint64_t exported[6];   /* records handed out, by end reason (index 1..5) */
	uint64_t evicted;       /* flows ended for lack of space (FLOWCACHE_END_RESOURCES) */
	uint64_t no_slot;       /* packets not folded: no free entry, because more than the
	                           reserve of ended records piled up without flowcache_expire() */
};

struct flowcache;

/* Creates an empty cache. Returns NULL with errno (EINVAL for bad params, ENOMEM). */
struct flowcache *flowcache_create(const struct flowcache_params *params);

/* Frees the cache and every record still in it (without exporting). NULL is a no-op. */
void flowcache_free(struct flowcache *fc);

/*
 * Folds n parsed packets (CAPTURE_OK only) into their flows. Records that end because of these
 * packets (TCP end of flow, eviction when full) are queued inside the cache and come out of the
 * next flowcache_expire() call; the cache never drops a packet for lack of space as long as
 * flowcache_expire() runs between bursts of at most 1024 packets.
 */
void flowcache_update_burst(struct flowcache *fc, const struct capture_meta *metas, unsigned n);

/*
 * Hands out up to max records that are due at packet time now_ns (queued ends and evictions
 * first, then idle and active timeouts), copying them into out. Returns the count. The work per
 * call is bounded (max records and a fixed number of flows moved between timer slots): call
 * again while it returns max or flowcache_expire_behind() is true.
 */
unsigned flowcache_expire(struct flowcache *fc, uint64_t now_ns, struct flowcache_record *out,
                          unsigned max);

/* True while the timer wheel still has slots whose time has passed at now_ns: a call of
 * flowcache_expire() stops after a bounded amount of work, so call it again while this holds,
 * or a flow can leave late (for instance on a quiet link after many flows were re-slotted). */
int flowcache_expire_behind(const struct flowcache *fc, uint64_t now_ns);

/* Hands out up to max records of any flow still in the cache with reason FORCED (after the
 * queued ones). Returns the count; 0 means the cache is empty. */
unsigned flowcache_flush(struct flowcache *fc, struct flowcache_record *out, unsigned max);

void flowcache_get_stats(const struct flowcache *fc, struct flowcache_stats *ret);

/* Changes the idle and active timeouts of a running cache (a reload): every flow is timed
 * again by the new values, so a shorter timeout takes effect at once. O(flows); -EINVAL for
 * a zero timeout (the cache is unchanged). Owner thread only. */
int flowcache_set_timeouts(struct flowcache *fc, uint64_t idle_timeout_ns,
                           uint64_t active_timeout_ns);

#define FLOWCACHE_TOP_MAX 1000
/* The n (at most FLOWCACHE_TOP_MAX) flows with the most octets in their current record,
 * largest first, as records (end_reason FORCED; nothing leaves the cache). Returns how many.
 * O(flows); owner thread only. */
unsigned flowcache_top(const struct flowcache *fc, struct flowcache_record *out, unsigned n);

#endif /* FLOWCACHE_H */
