/*
 * watch: which aggregates weir counts per bin, the in-line counters of a worker, and the
 * engine that merges the workers' bins and runs a detect_series per (aggregate, metric).
 *
 * Families (`--watch FAMILY[:ARG]`): link (per input, the default), proto, vlan (outer tag),
 * dport (destination port of TCP, UDP and SCTP), prefixes:FILE (destination address, longest
 * prefix match over the file's IPv4 and IPv6 prefixes) and asn:FILE (destination's origin AS,
 * from a prefix-to-AS file: "prefix<TAB>length<TAB>asn" per line, as CAIDA's pfx2as) and
 * dst-prefix (automatic series for the busy destination /24s and /48s: a heavy-hitter sketch
 * in each worker proposes candidates, the engine admits those with at least
 * DETECT_HH_ADMIT packets in a bin, and from the next bin on the workers count them exactly).
 * Metrics: packets and bits per second for every series; new flows per second for the link.
 * "none" alone turns counting off (a probe that only exports flows): no series and no rate
 * alert, but the workers' bins still close on the clock, so probe_degraded is still raised.
 *
 * A worker counts into its own counter (plain increments) and closes a bin when its clock
 * (packet time, or the capture clock while the input is quiet) passes the bin's end; the
 * closed bin goes to the engine as a list of non-zero cells. The engine waits until every
 * worker has closed a bin, then feeds every known series its count (zero when absent: a
 * drop to zero is the alert that matters most) and returns the events.
 *
 * Threading: a counter belongs to its worker; the engine to the detector thread. Pure logic:
 * the files are read by detect_watch_load(), everything else does no I/O.
 */
#ifndef DETECT_WATCH_H
#define DETECT_WATCH_H

#include "detect.h"

#include <stddef.h>
#include <stdint.h>

struct capture_meta;

enum detect_family {
	DETECT_FAM_LINK = 0,
	DETECT_FAM_PROTO,
	DETECT_FAM_VLAN,
	DETECT_FAM_DPORT,
	DETECT_FAM_PREFIX,
	DETECT_FAM_ASN,
	DETECT_FAM_DSTPFX, /* automatic /24 (IPv4) and /48 (IPv6) series */
	DETECT_FAM_COUNT
};

enum detect_metric { DETECT_PACKETS = 0, DETECT_BITS, DETECT_FLOWS, DETECT_METRICS };

/* The watch list: families and their tables. Built by detect_watch_add(), read-only after. */
struct detect_watch;

struct detect_watch *detect_watch_create(void);
void detect_watch_free(struct detect_watch *w);

/* Adds one `--watch` spec ("link", "proto", "vlan", "dport", "prefixes:FILE", "asn:FILE").
 * 0, or -EINVAL / -ENOENT / -ENOMEM with a message naming the spec, file, line and value. */
int detect_watch_add(struct detect_watch *w, const char *spec, char *err, size_t errlen);

/* dst-prefix: admits a candidate prefix (the engine's thread only; the workers' counters
 * see it from their next packet). Returns its series index, or -EEXIST, -ENOSPC (its set of
 * four slots is taken, or half of all slots are). */
int detect_watch_hh_admit(struct detect_watch *w, uint64_t key);
/* Frees the slot of an admitted prefix (the engine's thread only). A worker may still count
 * a few packets of it under the slot; its cells carry the prefix, and the engine takes cells
 * by prefix, never by slot alone, so a slot given to another prefix gets none of them. */
void detect_watch_hh_retire(struct detect_watch *w, uint32_t slot);
/* The series index of an admitted prefix, or -1. Any thread. */
int detect_watch_hh_slot(const struct detect_watch *w, uint64_t key);
/* The prefix in a slot now (0: free). Any thread. */
uint64_t detect_watch_hh_key(const struct detect_watch *w, uint32_t slot);
/* Writes a dst-prefix key as "198.51.100.0/24" or "2001:db8:aa::/48"; 0, or -1 (not one). */
int detect_hh_key_name(uint64_t key, char *buf, size_t len);

/* Whether a family is watched (link always is, unless "none"). */
int detect_watch_has(const struct detect_watch *w, int family);

/* Series ids: family << 24 | index. Names the series' key ("tcp", "443", "10.0.0.0/8",
 * "AS64500", "100") for messages; the link's key is given by the caller. */
static inline uint32_t detect_series_id(int family, uint32_t index)
{
	return (uint32_t)family << 24 | (index & 0xffffffu);
}
void detect_watch_key_name(const struct detect_watch *w, uint32_t id, char *buf, size_t len);
const char *detect_family_name(int family);
const char *detect_metric_name(int metric);

/* One non-zero cell of a closed bin. */
struct detect_cell {
	uint32_t id;    /* detect_series_id(), or DETECT_CANDIDATE */
	uint32_t flows; /* new flows (link only) */
	uint64_t packets;
	uint64_t bytes; /* IP octets */
	uint64_t key;   /* candidates and dst-prefix: the prefix (version << 56 | /24 or /48) */
};

#define DETECT_CANDIDATE UINT32_MAX /* a heavy-hitter candidate, not yet a series */
#define DETECT_PROBE_ID  UINT32_MAX /* an alert's id: the probe's own health (probe_degraded) */
#define DETECT_HH_ADMIT  200        /* packets in one bin that admit a candidate */
#define DETECT_HH_SLOTS  65536      /* automatic series at most */

/* A closed bin of one worker. cells is owned by the bin (detect_bin_free). */
struct detect_bin {
	uint64_t start_ns; /* bin start; the bin is [start, start + bin) */
	unsigned worker;
	unsigned n_cells;
	struct detect_cell *cells;
};
void detect_bin_free(struct detect_bin *b);

/* Per-worker counter. bin_ns: bin length. */
struct detect_counter;
struct detect_counter *detect_counter_create(const struct detect_watch *w, unsigned worker,
                                             uint64_t bin_ns);
void detect_counter_free(struct detect_counter *c);

/* Counts a burst of parsed packets (their port field is the link index). Bins that close
 * on the way are returned through `emit` (which takes ownership of the bin). */
typedef void (*detect_bin_fn)(void *arg, struct detect_bin *bin);
void detect_counter_add_burst(struct detect_counter *c, const struct capture_meta *metas,
                              unsigned n, detect_bin_fn emit, void *arg);
/* New flows of a link since the last call (the worker's flow-cache creations). */
void detect_counter_add_flows(struct detect_counter *c, unsigned link, uint64_t flows);
/* Closes every bin that ends at or before now_ns (the worker's clock); with final, closes the
 * open bin too and marks the worker finished. */
void detect_counter_tick(struct detect_counter *c, uint64_t now_ns, int final, detect_bin_fn emit,
                         void *arg);

/* The engine. */
struct detect_engine_params {
	const struct detect_params *detect; /* thresholds and holds */
	struct detect_watch *watch;         /* dst-prefix admissions are written into it */
	unsigned n_workers;                 /* bins come from workers 0..n-1 */
	unsigned n_links;                   /* link indexes 0..n-1 */
	uint64_t bin_ns;
	unsigned max_series; /* hard cap on series (new ones beyond are counted) */
};

/* An event of a series: what detect_series_update() said, and who the series is. */
struct detect_alert {
	struct detect_event ev;
	uint32_t id;             /* detect_series_id(), or DETECT_PROBE_ID */
	uint8_t metric;          /* enum detect_metric */
	uint8_t family;          /* enum detect_family */
	uint32_t link;           /* link index for link series; otherwise 0 */
	uint32_t parent_episode; /* a child raised while its link's alert fires: that alert's
	                            episode (0: none) */
	int degraded;            /* the capture health gate was on */
	uint64_t hh_key;         /* dst-prefix: the prefix the series counted when the event was
	                            made (detect_hh_key_name()); its slot may be retired and
	                            given to another prefix before the event is delivered */
};

struct detect_engine_stats {
	uint64_t bins;           /* bins evaluated */
	uint64_t series;         /* series known */
	uint64_t series_refused; /* new series beyond max_series (or the dst-prefix slots) */
	uint64_t admitted;       /* dst-prefix series admitted */
	uint64_t retired;        /* dst-prefix series retired after dst_prefix_idle_s quiet */
	uint64_t bins_forced;    /* bins evaluated before every worker had closed them */
	uint64_t events;
};

struct detect_engine;
struct detect_engine *detect_engine_create(const struct detect_engine_params *p);
void detect_engine_free(struct detect_engine *e);

/* Takes a worker's closed bin (ownership passes). Then drains: every bin that all workers
 * have closed is evaluated; events go to `out` (up to max, the rest kept for the next call).
 * lost_packets: capture losses (NIC missed, ring full, no buffers) since the last call, for
 * the health gate (the packets received are the bins' link counts). Returns the number of
 * events written. */
void detect_engine_put(struct detect_engine *e, struct detect_bin *bin);
unsigned detect_engine_run(struct detect_engine *e, uint64_t lost_packets, struct detect_alert *out,
                           unsigned max);
void detect_engine_get_stats(const struct detect_engine *e, struct detect_engine_stats *ret);
/* Replaces the detector parameters (a reload; p already checked). Series keep their state:
 * the new thresholds and holds apply from the next bin. */
void detect_engine_set_params(struct detect_engine *e, const struct detect_params *p);

#endif /* DETECT_WATCH_H */
