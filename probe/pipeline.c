/*
 * The data path of the probe: readers, workers and the exporter thread (layouts in probe.h).
 *
 * A reader turns a burst from its queue into parsed, selected packets (struct capture_meta)
 * and keeps the capture clock: the newest packet time, guarded against single bad timestamps,
 * or the wall clock while a live queue is quiet. A worker folds packets into its flow cache and
 * expires flows at the oldest clock among the readers that feed it (a later clock could end a
 * flow whose packets are still on their way), then puts the records into its SPSC ring. When
 * every reader has ended, or on stop, every flow left is flushed (reason forced end).
 *
 * Back-pressure: a file input waits for ring space, so nothing is lost and nothing is timed; a
 * live input never stalls behind a worker or a collector: a full worker ring drops packets and
 * a full export ring drops records, each counted where it happened.
 *
 * The exporter thread drains every worker's ring into every exporter and drives their timers.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drv_gen.h"
#include "drv_pcap.h"
#include "probe.h"
#include "weir_config.h"
#if WEIR_HAVE_LIBTRACE
#include "drv_trace.h"
#endif
#if WEIR_HAVE_DPDK
#include "drv_dpdk.h"
#endif

#define RING_RECORDS   65536
#define RING_PACKETS   32768 /* parsed packets a reader may have in flight, over its workers */
#define RING_MIN       4096  /* ... but at least this many to each worker */
#define EXPIRE_CHUNK   64
#define FRAG_ENTRIES   4096
#define FRAG_TIMEOUT_S 60 /* the IPv6 reassembly timeout of RFC 8200 */
#define DRAIN_BURSTS   32 /* bursts a worker folds between two expire calls (flowcache.h) */

static const struct capture_driver_ops *const drivers[] = {
    &drv_pcap_ops,
    &drv_gen_ops,
#if WEIR_HAVE_LIBTRACE
    &drv_trace_ops,
#endif
#if WEIR_HAVE_DPDK
    &drv_dpdk_ops,
#endif
};

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

static const struct capture_driver_ops *driver_for(const char *input, const char **ret_spec)
{
	const char *colon = strchr(input, ':');
	size_t i;

	if (colon == NULL)
		return NULL;
	for (i = 0; i < WR_ARRAY_SIZE(drivers); i++) {
		size_t n = strlen(drivers[i]->name);

		if ((size_t)(colon - input) == n && strncmp(input, drivers[i]->name, n) == 0) {
			*ret_spec = colon + 1;
			return drivers[i];
		}
	}
	return NULL;
}

/* A selector as collectors see it (RFC 5476/5477); an input that does not sample is count-based
 * 1 in 1. */
static void describe_selector(const struct capture_sampler_params *sp, struct ipfix_selector *ret)
{
	memset(ret, 0, sizeof(*ret));
	switch (sp->algo) {
	case CAPTURE_SAMPLE_NONE:
	case CAPTURE_SAMPLE_COUNT:
		ret->algorithm = 1;
		ret->interval = 1;
		ret->space = sp->algo == CAPTURE_SAMPLE_COUNT ? sp->interval - 1 : 0;
		break;
	case CAPTURE_SAMPLE_RANDOM:
		ret->algorithm = 3;
		ret->size = 1;
		ret->population = sp->interval;
		break;
	case CAPTURE_SAMPLE_PROB:
		ret->algorithm = 4;
		ret->probability = sp->probability;
		break;
	default: /* hash-based, on invariant fields or on the flow key */
		ret->algorithm = 6;
		ret->hash_max = UINT32_MAX / sp->interval;
		ret->hash_init = sp->seed;
		break;
	}
}

/* The selector report: one selector per input (selectorId = input number) as soon as any
 * input samples, so that every record says how it was selected; none otherwise. */
static void describe_sampling(const struct probe_config *c, struct ipfix_sampling *ret)
{
	unsigned i, any = 0;

	_Static_assert(PROBE_MAX_INPUTS <= IPFIX_MAX_SELECTORS, "a selector per input");
	memset(ret, 0, sizeof(*ret));
	for (i = 0; i < c->n_inputs; i++)
		any |= c->sample[i].algo != CAPTURE_SAMPLE_NONE;
	if (!any)
		return;
	ret->n_selectors = c->n_inputs;
	for (i = 0; i < c->n_inputs; i++)
		describe_selector(&c->sample[i], &ret->sel[i]);
}

/* Opens input i: the driver, its readers and its workers (flow caches). */
static int open_input(struct probe *pr, unsigned i, const struct flowcache_params *fp0, char *err,
                      size_t errlen)
{
	struct probe_input *in = &pr->inputs[i];
	struct capture_open_params cp = pr->cfg.capture;
	struct flowcache_params fp = *fp0;
	char msg[CAPTURE_ERR_LEN];
	const char *spec;
	unsigned q, k;
	int rc;

	in->pr = pr;
	in->index = i;
	in->name = pr->cfg.inputs[i];
	in->ops = driver_for(in->name, &spec);
	if (in->ops == NULL) {
		snprintf(
		    err, errlen,
		    "input '%s': unknown input type (expected pcap:FILE, pcap:IFACE, gen:SPEC%s%s)",
		    in->name, WEIR_HAVE_LIBTRACE ? ", trace:URI" : "",
		    WEIR_HAVE_DPDK ? ", dpdk:DEVICE" : "");
		return -EINVAL;
	}
	cp.port = (uint16_t)i;
	cp.queues = (uint16_t)pr->cfg.workers;
	msg[0] = '\0';
	rc = in->ops->open(spec, &cp, &in->handle, msg, sizeof(msg));
	if (rc < 0) {
		snprintf(err, errlen, "input '%s': %s", in->name, msg[0] ? msg : strerror(-rc));
		return rc;
	}
	in->caps = in->ops->caps(in->handle);
	in->n_queues = in->ops->queues ? in->ops->queues(in->handle) : 1;
	if (in->n_queues < 1 || in->n_queues > PROBE_MAX_QUEUES) {
		snprintf(err, errlen, "input '%s': %u RX queues (at most %u)", in->name,
		         in->n_queues, PROBE_MAX_QUEUES);
		return -EINVAL;
	}
	if (in->ops->describe)
		wr_strlcpy(in->describe, in->ops->describe(in->handle), sizeof(in->describe));
	in->n_workers = pr->cfg.workers;
	/* One worker needs no steering (unless asked for a reader thread: a pipeline over two
	 * cores), and neither does a device whose symmetric RSS gives each worker its own queues.
	 */
	in->steering =
	    pr->cfg.rx_thread || (in->n_workers > 1 && !(in->caps & CAPTURE_CAP_SYMMETRIC_RSS &&
	                                                 in->n_queues % in->n_workers == 0));
	in->workers = &pr->workers[pr->n_workers];
	pr->n_workers += in->n_workers;
	fp.max_flows = (uint32_t)((pr->cfg.max_flows + in->n_workers - 1) / in->n_workers);
	for (k = 0; k < in->n_workers; k++) {
		struct probe_worker *w = &in->workers[k];

		w->pr = pr;
		w->in = in;
		w->index = k;
		w->max_flows = fp.max_flows;
		w->fc = flowcache_create(&fp);
		w->ring = wr_ring_create(RING_RECORDS, sizeof(struct flowcache_record));
		if (w->fc == NULL || w->ring == NULL)
			goto nomem;
	}
	for (q = 0; q < in->n_queues; q++) {
		struct probe_reader *r = &in->readers[q];

		r->in = in;
		r->queue = q;
		r->idle_ns = fp.idle_timeout_ns;
		r->sampler.p.algo = CAPTURE_SAMPLE_NONE;
		if (pr->cfg.sample[i].algo != CAPTURE_SAMPLE_NONE) {
			struct capture_sampler_params sp = pr->cfg.sample[i];

			sp.selector_id = i + 1; /* one selector per input */
			capture_sampler_init(&r->sampler, &sp);
		}
		r->frags = capture_frag_create(FRAG_ENTRIES, FRAG_TIMEOUT_S * WR_NS_PER_S);
		if (r->frags == NULL)
			goto nomem;
		if (!in->steering) {
			struct probe_worker *w = &in->workers[q % in->n_workers];

			w->direct[w->n_direct++] = r;
			continue;
		}
		for (k = 0; k < in->n_workers; k++) {
			r->to_worker[k] = wr_ring_create(RING_PACKETS / in->n_workers > RING_MIN
			                                     ? RING_PACKETS / in->n_workers
			                                     : RING_MIN,
			                                 sizeof(struct capture_meta));
			if (r->to_worker[k] == NULL)
				goto nomem;
		}
	}
	return 0;
nomem:
	rc = -errno;
	snprintf(err, errlen, "input '%s': cannot allocate the flow cache: %s", in->name,
	         strerror(errno));
	return rc ? rc : -ENOMEM;
}

int probe_pipeline_open(struct probe *pr, char *err, size_t errlen)
{
	struct flowcache_params fp = {
	    .max_flows = (uint32_t)pr->cfg.max_flows,
	    .idle_timeout_ns = pr->cfg.idle_timeout_s * WR_NS_PER_S,
	    .active_timeout_ns = pr->cfg.active_timeout_s * WR_NS_PER_S,
	    .biflow = pr->cfg.biflow,
	};
	char msg[CAPTURE_ERR_LEN];
	unsigned i;
	int rc;

	if (pr->cfg.workers == 0)
		pr->cfg.workers = 1;
	if (pr->cfg.workers > PROBE_MAX_WORKERS || pr->cfg.n_inputs > PROBE_MAX_INPUTS) {
		snprintf(err, errlen, "%u workers and %u inputs (at most %d and %d)",
		         pr->cfg.workers, pr->cfg.n_inputs, PROBE_MAX_WORKERS, PROBE_MAX_INPUTS);
		return -EINVAL;
	}
	for (i = 0; i < pr->cfg.n_inputs; i++) {
		rc = open_input(pr, i, &fp, err, errlen);
		if (rc < 0)
			return rc;
		pr->n_inputs++;
	}
	describe_sampling(&pr->cfg, &pr->cfg.ipfix.sampling);
	pr->cfg.ipfix.biflow = pr->cfg.biflow;
	for (i = 0; i < pr->cfg.n_outputs; i++) {
		const char *out = pr->cfg.outputs[i];
		struct ipfix_exporter *ex;

		if (strncmp(out, "ipfix:", 6) != 0) {
			snprintf(
			    err, errlen,
			    "output '%s': unknown output type (expected ipfix:udp://HOST:PORT, "
			    "ipfix:tcp://HOST:PORT or ipfix:file:PATH)",
			    out);
			return -EINVAL;
		}
		msg[0] = '\0';
		ex = ipfix_exporter_create(out + 6, &pr->cfg.ipfix, msg, sizeof(msg));
		if (ex == NULL) {
			rc = -errno;
			snprintf(err, errlen, "output '%s': %s", out,
			         msg[0] ? msg : strerror(errno));
			return rc ? rc : -EINVAL;
		}
		pr->exporters[pr->n_exporters++] = ex;
	}
	return probe_alerts_open(pr, err, errlen);
}

static int offline(const struct probe_input *in)
{
	return (in->caps & CAPTURE_CAP_OFFLINE) != 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Readers                                                                                    */

/*
 * The capture clock is the newest packet time, guarded against single bad timestamps:
 *  - a jump ahead by more than the idle timeout is believed only when the next packet is
 *    ahead too (a genuine quiet spell), so one far-future time cannot expire every flow;
 *  - a packet further behind the clock than the idle timeout moves the clock back to it (the
 *    input went back in time), so the clock cannot stay stuck in the future.
 */
static void advance_clock(struct probe_reader *r, uint64_t ts_ns)
{
	int far_ahead = ts_ns > r->clock_ns && ts_ns - r->clock_ns > r->idle_ns && r->clock_ns;

	if (far_ahead && !r->jump_ns) {
		r->jump_ns = ts_ns; /* wait for the next packet */
		return;
	}
	if (far_ahead) { /* confirmed */
		r->clock_ns = ts_ns < r->jump_ns ? ts_ns : r->jump_ns;
	} else {
		if (r->jump_ns)
			r->clock_outliers++; /* the packet before this one was alone out there */
		if (ts_ns > r->clock_ns) {
			r->clock_ns = ts_ns;
		} else if (r->clock_ns - ts_ns > r->idle_ns) {
			r->clock_ns = ts_ns;
			r->clock_steps_back++;
		}
	}
	r->jump_ns = 0;
}

/* Adds a loss to a running total (one writer). */
static void loss_add(struct probe_loss *l, uint64_t items, uint64_t packets, uint64_t octets,
                     uint64_t when_ns)
{
#define LOSS_ADD(f, v)                                                                        \
	atomic_store_explicit(&l->f, atomic_load_explicit(&l->f, memory_order_relaxed) + (v), \
	                      memory_order_relaxed)
	LOSS_ADD(items, items);
	LOSS_ADD(packets, packets);
	LOSS_ADD(octets, octets);
#undef LOSS_ADD
	if (atomic_load_explicit(&l->first_ns, memory_order_relaxed) == 0)
		atomic_store_explicit(&l->first_ns, when_ns, memory_order_relaxed);
	atomic_store_explicit(&l->last_ns, when_ns, memory_order_relaxed);
}

/* Queue 0's thread of a live input polls the driver's loss counters (kernel drops, NIC
 * missed, no buffers; the driver wants them read from the thread that reads its packets) for
 * the detector's health gate: every STATS_POLL_MS, looking at the clock every 64 bursts or
 * when the input is quiet. */
#define STATS_POLL_MS 250
#define PUBLISH_MS    200 /* a worker refreshes its live counters this often */

static void poll_drops(struct probe_reader *r, int quiet)
{
	struct probe_input *in = r->in;
	struct capture_stats st;
	uint64_t now, raw, sum;

	if (r->queue != 0 || offline(in) || (!quiet && (++r->bursts & 63) != 0))
		return;
	now = wr_mono_ns();
	if (now < r->stats_due_ns)
		return;
	r->stats_due_ns = now + STATS_POLL_MS * WR_NS_PER_MS;
	in->ops->stats(in->handle, &st);
	raw = st.dropped + st.nombuf;
	/* only increases count: a 32-bit counter (pcap's ps_drop) wraps, a device's may reset */
	sum = atomic_load_explicit(&r->dropped_pub, memory_order_relaxed);
	if (raw >= r->dropped_raw)
		sum += raw - r->dropped_raw;
	else if (r->dropped_raw <= UINT32_MAX && r->dropped_raw > 0xf0000000u)
		sum += (raw - r->dropped_raw) & UINT32_MAX;
	else /* a reset: what came since */
		sum += raw;
	r->dropped_raw = raw;
	atomic_store_explicit(&r->dropped_pub, sum, memory_order_relaxed);
}

/*
 * Reads one burst from the reader's queue and parses it: the selected packets go to metas.
 * Returns how many, or -ENODATA when the queue has ended (r->error set on a fatal error). A
 * quiet live queue moves the clock to the wall clock. (A file that has nothing yet, a pipe,
 * keeps its clock: time is packet time.)
 */
static int reader_burst(struct probe_reader *r, struct capture_meta *metas)
{
	struct probe_input *in = r->in;
	struct capture_pkt pkts[PROBE_BURST];
	int n, i, ok;

	n = in->ops->rx_burst_queue
	        ? in->ops->rx_burst_queue(in->handle, r->queue, pkts, PROBE_BURST)
	        : in->ops->rx_burst(in->handle, pkts, PROBE_BURST);
	if (n < 0) {
		if (n != -ENODATA) {
			r->error = n;
			wr_strlcpy(r->errmsg, in->ops->last_error(in->handle), sizeof(r->errmsg));
		}
		return -ENODATA;
	}
	poll_drops(r, n == 0);
	if (n == 0) {
		if (!offline(in)) {
			uint64_t now = wr_wall_ns();

			if (now > r->clock_ns)
				r->clock_ns = now;
		}
		return 0;
	}
	for (i = 0, ok = 0; i < n; i++) {
		enum capture_verdict v = capture_parse(&pkts[i], r->frags, &metas[ok]);

		r->verdicts[v]++;
		advance_clock(r, pkts[i].ts_ns);
		if (v != CAPTURE_OK) {
			if (capture_verdict_is_malformed(v))
				loss_add(&r->ignored, 1, 1, pkts[i].wirelen, pkts[i].ts_ns);
			continue;
		}
		if (r->sampler.p.algo != CAPTURE_SAMPLE_NONE &&
		    !capture_sampler_select(&r->sampler, &metas[ok])) {
			r->not_sampled++;
			continue;
		}
		ok++;
	}
	return ok;
}

/*
 * Puts n items into ring q and returns how many went in. A file input waits for room (nothing
 * is lost by waiting on a file), and so does `must` (the final flush); otherwise, a live input
 * or a stop, what does not fit is left for the caller to count.
 */
static unsigned ring_put(struct probe_input *in, struct wr_ring *q, const void *items, unsigned n,
                         size_t size, int must)
{
	unsigned sent = 0;

	for (;;) {
		sent += wr_ring_enqueue_burst(q, (const uint8_t *)items + (size_t)sent * size,
		                              n - sent);
		if (sent == n)
			return sent;
		/* a file waits for room even on a stop: the workers drain until their readers
		 * end, so a graceful stop loses nothing; only a start that failed gives up */
		if (!must &&
		    (!offline(in) || atomic_load_explicit(&in->pr->abandon, memory_order_relaxed)))
			return sent;
		sleep_us(20);
	}
}

/* The worker of a packet: both directions of a flow hash alike, so they meet there. */
static inline unsigned steer(uint32_t hash, unsigned n_workers)
{
	return (unsigned)(((uint64_t)(hash * 0x9E3779B1u) * n_workers) >> 32);
}

/* Steering layout: a reader's thread parses its queue and deals the packets out. */
static void *reader_main(void *arg)
{
	struct probe_reader *r = arg;
	struct probe_input *in = r->in;
	struct capture_meta metas[PROBE_BURST], out[PROBE_MAX_WORKERS][PROBE_BURST];
	unsigned cnt[PROBE_MAX_WORKERS], k;
	int n, i;

	if (in->ops->thread_init)
		in->ops->thread_init(in->handle);
	while (!atomic_load_explicit(&in->pr->stop, memory_order_relaxed)) {
		n = reader_burst(r, metas);
		if (n < 0)
			break;
		if (in->n_workers == 1) {
			cnt[0] = (unsigned)n; /* no dealing out: straight from metas */
		} else {
			memset(cnt, 0, sizeof(cnt));
			for (i = 0; i < n; i++) {
				k = steer(metas[i].hash, in->n_workers);
				out[k][cnt[k]++] = metas[i];
			}
		}
		for (k = 0; k < in->n_workers; k++) {
			const struct capture_meta *items = in->n_workers == 1 ? metas : out[k];
			unsigned put =
			    ring_put(in, r->to_worker[k], items, cnt[k], sizeof(metas[0]), 0);
			uint64_t octets = 0;

			if (put == cnt[k])
				continue;
			for (unsigned j = put; j < cnt[k]; j++)
				octets += items[j].l3_octets;
			/* one writer: a load and a store, no locked add */
			atomic_store_explicit(
			    &r->ring_full,
			    atomic_load_explicit(&r->ring_full, memory_order_relaxed) + cnt[k] -
			        put,
			    memory_order_relaxed);
			loss_add(&r->ignored, cnt[k] - put, cnt[k] - put, octets, items[put].ts_ns);
		}
		atomic_store_explicit(&r->clock_pub, r->clock_ns, memory_order_release);
		if (n == 0 && !offline(in))
			sleep_us(100); /* a quiet live queue (a DPDK port would spin) */
	}
	atomic_store_explicit(&r->clock_pub, r->clock_ns, memory_order_release);
	atomic_store_explicit(&r->finished, 1, memory_order_release);
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Workers                                                                                    */

/* Puts records into the worker's ring: all of them for a file or the final flush (nothing
 * is captured any more); a running live input drops and counts what does not fit. */
static void push_records(struct probe_worker *w, const struct flowcache_record *recs, unsigned n,
                         int flushing)
{
	unsigned sent =
	    ring_put(w->in, w->ring, recs, n, sizeof(recs[0]), flushing || offline(w->in));

	w->records_dropped += n - sent;
	w->records_out += sent;
	if (sent < n) {
		uint64_t packets = 0, octets = 0;

		for (unsigned i = sent; i < n; i++) {
			packets += recs[i].packets + recs[i].rev_packets;
			octets += recs[i].octets + recs[i].rev_octets;
		}
		loss_add(&w->dropped, n - sent, packets, octets, wr_wall_ns());
	}
}

/* Hands every record due at now_ns (or, with flush, every record) to the exporter. */
static void drain_cache(struct probe_worker *w, uint64_t now_ns, int flush)
{
	struct flowcache_record recs[EXPIRE_CHUNK];
	unsigned n;

	if (!flush && now_ns == 0)
		return; /* no clock yet */
	do {
		n = flush ? flowcache_flush(w->fc, recs, EXPIRE_CHUNK)
		          : flowcache_expire(w->fc, now_ns, recs, EXPIRE_CHUNK);
		push_records(w, recs, n, flush);
	} while (n == EXPIRE_CHUNK || (!flush && flowcache_expire_behind(w->fc, now_ns)));
}

/* What a worker knows of one reader that feeds it. */
struct feed {
	uint64_t clock; /* the reader's clock as far as the worker has folded its packets */
	int ended;      /* the reader has ended and its packets are all folded */
};

/* The oldest clock among the feeds still running, or, when all have ended, the newest. */
static uint64_t oldest_clock(const struct feed *f, unsigned n)
{
	uint64_t min = UINT64_MAX, max = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (!f[i].ended && f[i].clock < min)
			min = f[i].clock;
		if (f[i].clock > max)
			max = f[i].clock;
	}
	return min != UINT64_MAX ? min : max;
}

/* Rate counting: the flows the cache created go to the counter once per bin, before the bin
 * that holds them closes (a burst whose packets cross into the next bin hands them first). */
static void hand_flows(struct probe_worker *w, uint64_t clock)
{
	uint64_t bin = w->pr->cfg.bin_ms * WR_NS_PER_MS;
	struct flowcache_stats st;

	flowcache_get_stats(w->fc, &st);
	detect_counter_add_flows(w->dc, w->in->index, st.flows_created - w->flows_counted);
	w->flows_counted = st.flows_created;
	w->next_bin_ns = clock - clock % bin + bin;
}

/* Lets the counter close the bins that end before `clock`. */
static void count_tick(struct probe_worker *w, uint64_t clock, int final)
{
	if (final || clock >= w->next_bin_ns)
		hand_flows(w, clock);
	detect_counter_tick(w->dc, clock, final, probe_alerts_emit_bin, w->pr);
}

static inline void count_burst(struct probe_worker *w, const struct capture_meta *metas, unsigned n)
{
	if (n && metas[n - 1].ts_ns >= w->next_bin_ns)
		hand_flows(w, metas[n - 1].ts_ns);
	detect_counter_add_burst(w->dc, metas, n, probe_alerts_emit_bin, w->pr);
}

/* What a worker does with its clock between bursts: expire flows, close bins. */
static void worker_tick(struct probe_worker *w, uint64_t clock)
{
	drain_cache(w, clock, 0);
	count_tick(w, clock, 0);
}

/* weirctl's flows top: the worker answers a request of `want` flows it finds pending. The
 * request is claimed before the answer is written: an asker who gave up finds it claimed
 * and waits. */
static void answer_top(struct probe_worker *w, unsigned want)
{
	if (want && atomic_compare_exchange_strong(&w->top_want, &want, 0)) {
		w->n_top = flowcache_top(w->fc, w->top, want);
		atomic_store_explicit(&w->top_done, 1, memory_order_release);
	}
}

/* Every PUBLISH_MS (looked at every 16 turns of the loop, and on every quiet one): the
 * counters for a live look, a reload's timeouts, a request for the largest flows. */
static void worker_publish(struct probe_worker *w, int quiet)
{
	struct probe *pr = w->pr;
	unsigned want, gen;
	uint64_t now;

	if ((++w->ticks & 15) != 0 && !quiet)
		return;
	now = wr_mono_ns();
	want = atomic_load_explicit(&w->top_want, memory_order_acquire);
	if (now < w->publish_due_ns && want == 0)
		return;
	w->publish_due_ns = now + PUBLISH_MS * WR_NS_PER_MS;
	flowcache_get_stats(w->fc, &w->fcstats);
	gen = atomic_load_explicit(&pr->timeouts_gen, memory_order_acquire);
	if (gen != w->timeouts_seen) {
		w->timeouts_seen = gen;
		flowcache_set_timeouts(w->fc, atomic_load(&pr->idle_ns_next),
		                       atomic_load(&pr->active_ns_next));
	}
	answer_top(w, want);
}

/* Direct layout: the worker reads its own queues, run to completion. */
static void worker_direct(struct probe_worker *w)
{
	struct probe_input *in = w->in;
	struct capture_meta metas[PROBE_BURST];
	struct feed feeds[PROBE_MAX_QUEUES] = {{0, 0}};
	unsigned j, active, got;
	int n;

	if (in->ops->thread_init)
		in->ops->thread_init(in->handle);
	for (;;) {
		if (atomic_load_explicit(&w->pr->stop, memory_order_relaxed))
			break;
		active = 0;
		got = 0;
		for (j = 0; j < w->n_direct; j++) {
			if (feeds[j].ended)
				continue;
			n = reader_burst(w->direct[j], metas);
			feeds[j].clock = w->direct[j]->clock_ns;
			if (n < 0) {
				feeds[j].ended = 1;
				continue;
			}
			active++;
			got += (unsigned)n;
			flowcache_update_burst(w->fc, metas, (unsigned)n);
			count_burst(w, metas, (unsigned)n);
		}
		if (active == 0)
			break;
		worker_tick(w, oldest_clock(feeds, w->n_direct));
		worker_publish(w, got == 0);
	}
}

/* Steering layout: the worker takes parsed packets from every reader of its input. */
static void worker_steered(struct probe_worker *w)
{
	struct probe_input *in = w->in;
	struct capture_meta metas[PROBE_BURST];
	struct feed feeds[PROBE_MAX_QUEUES] = {{0, 0}};
	uint64_t newest[PROBE_MAX_QUEUES] = {0}; /* the newest packet time folded, per reader */
	unsigned q, n, i, got, bursts, ended, idle = 0;

	for (;;) {
		got = 0;
		ended = 0;
		for (q = 0; q < in->n_queues; q++) {
			struct probe_reader *r = &in->readers[q];
			/* Read before draining: what was published came with packets already in
			 * the ring, so an empty ring afterwards means they are all folded. */
			int fin = atomic_load_explicit(&r->finished, memory_order_acquire);
			uint64_t c = atomic_load_explicit(&r->clock_pub, memory_order_acquire);

			if (feeds[q].ended) {
				ended++;
				continue;
			}
			bursts = 0;
			do {
				n = wr_ring_dequeue_burst(r->to_worker[w->index], metas,
				                          PROBE_BURST);
				for (i = 0; i < n; i++)
					if (metas[i].ts_ns > newest[q])
						newest[q] = metas[i].ts_ns;
				flowcache_update_burst(w->fc, metas, n);
				count_burst(w, metas, n);
				got += n;
			} while (n == PROBE_BURST && ++bursts < DRAIN_BURSTS);
			if (n == PROBE_BURST) {
				/* More to come, and the published clock may run ahead of it: go
				 * as far as the newest packet folded, but no further than the
				 * reader's clock (which a lone far-future time does not move). */
				feeds[q].clock = newest[q] < c ? newest[q] : c;
			} else {
				feeds[q].clock = c;
				feeds[q].ended = fin;
			}
			worker_tick(w, oldest_clock(feeds, in->n_queues));
		}
		if (ended == in->n_queues)
			break;
		worker_publish(w, got == 0);
		/* Quiet: back off. (Spinning instead slowed the reader down on a two-CPU
		 * machine: 8.4 -> 5.4 Mpps with --rx-thread on DPDK.) */
		if (got != 0)
			idle = 0;
		else
			sleep_us(++idle < 100 ? 10 : 200);
	}
}

static void *worker_main(void *arg)
{
	struct probe_worker *w = arg;

	if (w->in->steering)
		worker_steered(w);
	else
		worker_direct(w);
	drain_cache(w, 0, 1);
	count_tick(w, 0, 1);
	flowcache_get_stats(w->fc, &w->fcstats);
	atomic_store_explicit(&w->done, 1, memory_order_release);
	/* flushed: an asker still waiting gets an empty answer */
	answer_top(w, atomic_load_explicit(&w->top_want, memory_order_acquire));
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Exporter                                                                                   */

static void export_records(struct probe *pr, const struct flowcache_record *recs, unsigned n)
{
	uint64_t now = wr_wall_ns();
	unsigned i;

	for (i = 0; i < pr->n_exporters; i++)
		ipfix_exporter_add(pr->exporters[i], recs, n, now);
	pr->records_exported += n;
}

static uint64_t loss_get(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* Sums one kind of loss over readers or workers into *items/packets/octets and the window. */
static void loss_sum(struct probe_loss *l, uint64_t *items, uint64_t *packets, uint64_t *octets,
                     uint64_t *first, uint64_t *last)
{
	uint64_t f = loss_get(&l->first_ns), t = loss_get(&l->last_ns);

	*items += loss_get(&l->items);
	*packets += loss_get(&l->packets);
	*octets += loss_get(&l->octets);
	if (f != 0 && (*first == 0 || f < *first))
		*first = f;
	if (t > *last)
		*last = t;
}

/* Tells every exporter what the metering process has lost so far, for its reliability
 * records. */
static void report_losses(struct probe *pr)
{
	struct ipfix_metering_losses l;
	uint64_t ignored_items = 0;
	unsigned i, q;

	memset(&l, 0, sizeof(l));
	for (i = 0; i < pr->n_inputs; i++)
		for (q = 0; q < pr->inputs[i].n_queues; q++)
			loss_sum(&pr->inputs[i].readers[q].ignored, &ignored_items,
			         &l.ignored_packets, &l.ignored_octets, &l.ignored_first_ns,
			         &l.ignored_last_ns);
	for (i = 0; i < pr->n_workers; i++)
		loss_sum(&pr->workers[i].dropped, &l.dropped_flows, &l.dropped_packets,
		         &l.dropped_octets, &l.dropped_first_ns, &l.dropped_last_ns);
	for (i = 0; i < pr->n_exporters; i++)
		ipfix_exporter_set_losses(pr->exporters[i], &l);
}

static void *exporter_main(void *arg)
{
	struct probe *pr = arg;
	struct flowcache_record recs[256];
	uint64_t next_tick = 0;
	unsigned i, n, got;
	int all_done;

	for (;;) {
		/* Read the done flags before draining: a worker sets done only after its last
		 * record is in the ring, so an empty drain after seeing all done is final. */
		all_done = 1;
		for (i = 0; i < pr->n_workers; i++)
			all_done &=
			    atomic_load_explicit(&pr->workers[i].done, memory_order_acquire);
		got = 0;
		for (i = 0; i < pr->n_workers; i++) {
			while ((n = wr_ring_dequeue_burst(pr->workers[i].ring, recs,
			                                  WR_ARRAY_SIZE(recs))) > 0) {
				export_records(pr, recs, n);
				got += n;
			}
		}
		if (wr_mono_ns() >= next_tick) {
			uint64_t now = wr_wall_ns();

			report_losses(pr);
			for (i = 0; i < pr->n_exporters; i++)
				ipfix_exporter_tick(pr->exporters[i], now);
			next_tick = wr_mono_ns() + 50 * WR_NS_PER_MS;
		}
		if (all_done && got == 0)
			break;
		if (got == 0)
			sleep_us(1000);
	}
	report_losses(pr);
	for (i = 0; i < pr->n_exporters; i++)
		ipfix_exporter_finish(pr->exporters[i], wr_wall_ns());
	atomic_store_explicit(&pr->export_done, 1, memory_order_release);
	pthread_kill(pr->main_thread, PROBE_SIG_DONE); /* its wait ends now, not at its tick */
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Lifecycle                                                                                  */

/* Every busy thread started so far (workers and readers), and the CPUs they go on. */
struct started {
	pthread_t *ids[PROBE_MAX_INPUTS * (PROBE_MAX_QUEUES + PROBE_MAX_WORKERS)];
	unsigned n;
	int cpus[CPU_SETSIZE]; /* the CPUs the process may use */
	unsigned n_cpus;
	int pin; /* one CPU per busy thread, and one more for the exporter */
};

/*
 * Busy threads (workers, readers) poll; the exporter mostly sleeps. When the process may use
 * more CPUs than there are busy threads, each busy thread gets a CPU of its own and the
 * exporter the last one, so that it never takes time from the packet path; otherwise the
 * scheduler places them (and --no-pin leaves it to the scheduler always).
 */
static void plan_cpus(struct probe *pr, struct started *st)
{
	unsigned i, busy = pr->n_workers;
	cpu_set_t set;
	int c;

	for (i = 0; i < pr->n_inputs; i++)
		busy += pr->inputs[i].steering ? pr->inputs[i].n_queues : 0;
	st->n_cpus = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				st->cpus[st->n_cpus++] = c;
	st->pin = !pr->cfg.no_pin && st->n_cpus > busy;
	if (st->pin) {
		size_t off =
		    (size_t)snprintf(pr->cpu_plan, sizeof(pr->cpu_plan),
		                     busy > 1 ? "packet threads on CPUs" : "packet thread on CPU");

		for (i = 0; i < busy && off < sizeof(pr->cpu_plan); i++)
			off += (size_t)snprintf(pr->cpu_plan + off, sizeof(pr->cpu_plan) - off,
			                        "%s %d", i ? "," : "", st->cpus[i]);
		if (off < sizeof(pr->cpu_plan))
			snprintf(pr->cpu_plan + off, sizeof(pr->cpu_plan) - off,
			         "%s, the exporter on CPU %d", busy > 1 ? " (one each)" : "",
			         st->cpus[st->n_cpus - 1]);
	}
}

static void pin(pthread_t t, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(t, sizeof(set), &set); /* a hint: a refusal changes nothing else */
}

/* Starts a busy thread named name (as top -H and /proc show it). */
static int start_thread(struct started *st, pthread_t *id, void *(*fn)(void *), void *arg,
                        const char *name, char *err, size_t errlen)
{
	int rc = pthread_create(id, NULL, fn, arg);

	if (rc != 0) {
		snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(*id, name);
	if (st->pin)
		pin(*id, st->cpus[st->n]);
	st->ids[st->n++] = id;
	return 0;
}

/* "weir-worker0.1": input 0, worker 1 (cut to 15 characters). buf holds 48. */
static const char *thread_name(char *buf, const char *what, unsigned input, unsigned k)
{
	snprintf(buf, 48, "weir-%s%u.%u", what, input, k);
	buf[15] = '\0'; /* the kernel's limit */
	return buf;
}

static int thread_started(const struct started *st, const pthread_t *id)
{
	unsigned i;

	for (i = 0; i < st->n; i++)
		if (st->ids[i] == id)
			return 1;
	return 0;
}

int probe_pipeline_start_inputs(struct probe *pr, char *err, size_t errlen)
{
	unsigned i;
	int rc;

	for (i = 0; i < pr->n_inputs; i++) {
		struct probe_input *in = &pr->inputs[i];

		rc = in->ops->start(in->handle);
		if (rc < 0) {
			snprintf(err, errlen, "input '%s': cannot start: %s", in->name,
			         in->ops->last_error(in->handle)[0]
			             ? in->ops->last_error(in->handle)
			             : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int probe_pipeline_start(struct probe *pr, char *err, size_t errlen)
{
	struct started st = {.n = 0};
	char name[48];
	unsigned i, q, k;
	int rc;

	plan_cpus(pr, &st);
	atomic_store(&pr->running, 1); /* live counters: read from the readers and workers */
	rc = pthread_create(&pr->export_thread, NULL, exporter_main, pr);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the exporter thread: %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(pr->export_thread, "weir-export");
	if (st.pin)
		pin(pr->export_thread, st.cpus[st.n_cpus - 1]);
	rc = pthread_create(&pr->alerts.thread, NULL, probe_alerts_main, pr);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the detector thread: %s", strerror(rc));
		rc = -rc;
		goto fail;
	}
	pr->alerts.started = 1;
	pthread_setname_np(pr->alerts.thread, "weir-detect");
	if (st.pin)
		pin(pr->alerts.thread, st.cpus[st.n_cpus - 1]);
	for (i = 0; i < pr->n_inputs; i++) {
		struct probe_input *in = &pr->inputs[i];

		/* Workers first: a reader of a file waits for its workers to make room. */
		for (k = 0; k < in->n_workers; k++)
			if ((rc = start_thread(&st, &in->workers[k].thread, worker_main,
			                       &in->workers[k], thread_name(name, "worker", i, k),
			                       err, errlen)) < 0)
				goto fail;
		for (q = 0; in->steering && q < in->n_queues; q++)
			if ((rc = start_thread(&st, &in->readers[q].thread, reader_main,
			                       &in->readers[q], thread_name(name, "reader", i, q),
			                       err, errlen)) < 0)
				goto fail;
	}
	return 0;
fail:
	/* What started runs to a stop; a reader that did not start counts as finished (set
	 * before any started thread can look), and a reader waiting for a worker that did not
	 * start gives up (abandon). */
	atomic_store(&pr->abandon, 1);
	for (i = 0; i < pr->n_inputs; i++)
		for (q = 0; q < pr->inputs[i].n_queues; q++)
			if (!thread_started(&st, &pr->inputs[i].readers[q].thread))
				atomic_store(&pr->inputs[i].readers[q].finished, 1);
	probe_pipeline_request_stop(pr);
	for (i = 0; i < st.n; i++)
		pthread_join(*st.ids[i], NULL);
	for (i = 0; i < pr->n_workers; i++)
		atomic_store(&pr->workers[i].done, 1);
	pthread_join(pr->export_thread, NULL);
	if (pr->alerts.started)
		pthread_join(pr->alerts.thread, NULL);
	pr->alerts.started = 0;
	atomic_store(&pr->running, 0);
	return rc;
}

void probe_pipeline_request_stop(struct probe *pr)
{
	unsigned i;

	atomic_store(&pr->stop, 1);
	for (i = 0; i < pr->n_inputs; i++)
		pr->inputs[i].ops->stop(pr->inputs[i].handle);
}

int probe_pipeline_finished(struct probe *pr)
{
	return atomic_load_explicit(&pr->export_done, memory_order_acquire);
}

void probe_pipeline_join(struct probe *pr)
{
	unsigned i, q;

	for (i = 0; i < pr->n_inputs; i++) {
		struct probe_input *in = &pr->inputs[i];

		for (q = 0; in->steering && q < in->n_queues; q++)
			pthread_join(in->readers[q].thread, NULL);
	}
	for (i = 0; i < pr->n_workers; i++)
		pthread_join(pr->workers[i].thread, NULL);
	pthread_join(pr->export_thread, NULL);
	atomic_store(&pr->running, 0);
	if (pr->alerts.started)
		pthread_join(pr->alerts.thread, NULL);
	pr->alerts.started = 0;
	probe_alerts_finish(pr);
	/* Every thread has ended: the counters are final. */
	for (i = 0; i < pr->n_inputs; i++) {
		struct probe_input *in = &pr->inputs[i];

		in->ops->stats(in->handle, &in->cstats);
		for (q = 0; q < in->n_queues; q++) {
			struct probe_reader *r = &in->readers[q];

			if (in->ops->queue_stats)
				in->ops->queue_stats(in->handle, q, &r->qstats);
			capture_frag_stats(r->frags, &r->fstats);
		}
	}
}

void probe_pipeline_close(struct probe *pr)
{
	unsigned i, q, k;

	probe_alerts_close(pr);
	for (i = 0; i < pr->n_exporters; i++)
		ipfix_exporter_free(pr->exporters[i]);
	for (i = 0; i < pr->n_workers; i++) {
		flowcache_free(pr->workers[i].fc);
		wr_ring_free(pr->workers[i].ring);
	}
	for (i = 0; i < PROBE_MAX_INPUTS; i++) {
		struct probe_input *in = &pr->inputs[i];

		if (in->ops && in->handle)
			in->ops->close(in->handle);
		for (q = 0; q < PROBE_MAX_QUEUES; q++) {
			capture_frag_free(in->readers[q].frags);
			for (k = 0; k < PROBE_MAX_WORKERS; k++)
				wr_ring_free(in->readers[q].to_worker[k]);
		}
	}
#if WEIR_HAVE_DPDK
	drv_dpdk_cleanup(); /* the EAL, once no port is open */
#endif
}

void probe_pipeline_set_timeouts(struct probe *pr, uint64_t idle_s, uint64_t active_s)
{
	atomic_store(&pr->idle_ns_next, idle_s * WR_NS_PER_S);
	atomic_store(&pr->active_ns_next, active_s * WR_NS_PER_S);
	atomic_fetch_add_explicit(&pr->timeouts_gen, 1, memory_order_release);
}

/* Asks one worker for its n largest flows, written to buf. Returns how many (0 when it has
 * ended, or gave no answer within a second: the request is then taken back). */
static unsigned ask_top(struct probe_worker *w, struct flowcache_record *buf, unsigned n)
{
	uint64_t deadline = wr_mono_ns() + WR_NS_PER_S;
	unsigned want = n;
	int claimed = 0;

	if (atomic_load_explicit(&w->done, memory_order_acquire))
		return 0; /* flushed: its cache is empty */
	w->top = buf;
	atomic_store_explicit(&w->top_done, 0, memory_order_relaxed);
	atomic_store_explicit(&w->top_want, n, memory_order_release);
	while (!atomic_load_explicit(&w->top_done, memory_order_acquire)) {
		if (!claimed && wr_mono_ns() >= deadline) {
			if (atomic_compare_exchange_strong(&w->top_want, &want, 0))
				return 0; /* taken back before the worker claimed it */
			claimed = 1;      /* the worker has it: its answer comes soon */
		}
		sleep_us(1000);
	}
	return w->n_top;
}

static int larger_flow_first(const void *a, const void *b)
{
	const struct flowcache_record *x = a, *y = b;
	uint64_t sx = x->octets + x->rev_octets, sy = y->octets + y->rev_octets;

	return sx < sy ? 1 : sx > sy ? -1 : 0;
}

unsigned probe_pipeline_top_flows(struct probe *pr, struct flowcache_record *out, unsigned n)
{
	struct flowcache_record *all = malloc((size_t)n * pr->n_workers * sizeof(*all));
	unsigned i, got = 0;

	if (all == NULL)
		return 0;
	for (i = 0; i < pr->n_workers; i++)
		got += ask_top(&pr->workers[i], all + got, n);
	qsort(all, got, sizeof(*all), larger_flow_first);
	if (got > n)
		got = n;
	memcpy(out, all, (size_t)got * sizeof(*out));
	free(all);
	return got;
}
