/*
 * The data path of the probe: worker threads (one per input) and the exporter thread.
 *
 * A worker runs to completion on bursts: rx_burst -> capture_parse each packet -> flowcache
 * update -> flowcache_expire at the newest packet time -> records into its SPSC ring. A live
 * input that goes quiet still advances the clock (wall time) so flows expire. At the end of
 * the input, or on stop, every flow left is flushed with reason forced end. When the ring is
 * full a file input waits (nothing is lost and nothing is timed), a live input drops the
 * records and counts them: capture must never stall behind a collector.
 *
 * The exporter thread drains every ring into every exporter and drives their timers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "drv_gen.h"
#include "drv_pcap.h"
#include "probe.h"

#define RING_RECORDS   65536
#define EXPIRE_CHUNK   64
#define FRAG_ENTRIES   4096
#define FRAG_TIMEOUT_S 60 /* the IPv6 reassembly timeout of RFC 8200 */

static const struct capture_driver_ops *const drivers[] = {
    &drv_pcap_ops,
    &drv_gen_ops,
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

	for (i = 0; i < pr->cfg.n_inputs; i++) {
		struct probe_worker *w = &pr->workers[i];
		struct capture_open_params cp = pr->cfg.capture;
		const char *spec;

		w->pr = pr;
		w->name = pr->cfg.inputs[i];
		w->idle_ns = fp.idle_timeout_ns;
		w->ops = driver_for(w->name, &spec);
		if (w->ops == NULL) {
			snprintf(err, errlen,
			         "input '%s': unknown input type (expected pcap:FILE, pcap:IFACE "
			         "or gen:SPEC)",
			         w->name);
			return -EINVAL;
		}
		cp.port = (uint16_t)i;
		w->sampler.p.algo = CAPTURE_SAMPLE_NONE;
		if (pr->cfg.sample[i].algo != CAPTURE_SAMPLE_NONE) {
			struct capture_sampler_params sp = pr->cfg.sample[i];

			sp.selector_id = i + 1; /* one selector per input */
			capture_sampler_init(&w->sampler, &sp);
		}
		msg[0] = '\0';
		rc = w->ops->open(spec, &cp, &w->handle, msg, sizeof(msg));
		if (rc < 0) {
			snprintf(err, errlen, "input '%s': %s", w->name,
			         msg[0] ? msg : strerror(-rc));
			return rc;
		}
		pr->n_workers++;
		w->caps = w->ops->caps(w->handle);
		w->fc = flowcache_create(&fp);
		w->frags = capture_frag_create(FRAG_ENTRIES, FRAG_TIMEOUT_S * WR_NS_PER_S);
		w->ring = wr_ring_create(RING_RECORDS, sizeof(struct flowcache_record));
		if (w->fc == NULL || w->frags == NULL || w->ring == NULL) {
			rc = -errno;
			snprintf(err, errlen, "input '%s': cannot allocate the flow cache: %s",
			         w->name, strerror(errno));
			return rc;
		}
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
	return 0;
}

/* Puts records into the worker's ring. A file input waits for space, and so does the final
 * flush (nothing is captured any more); a running live input drops and counts. */
static void push_records(struct probe_worker *w, const struct flowcache_record *recs, unsigned n,
                         int flushing)
{
	unsigned sent = 0;

	for (;;) {
		sent += wr_ring_enqueue_burst(w->ring, recs + sent, n - sent);
		if (sent == n)
			break;
		if (!flushing && !(w->caps & CAPTURE_CAP_OFFLINE)) {
			w->records_dropped += n - sent;
			break;
		}
		sleep_us(50);
	}
	w->records_out += sent;
}

/* Hands every record due at now_ns (or, with flush, every record) to the exporter. */
static void drain_cache(struct probe_worker *w, uint64_t now_ns, int flush)
{
	struct flowcache_record recs[EXPIRE_CHUNK];
	unsigned n;

	do {
		n = flush ? flowcache_flush(w->fc, recs, EXPIRE_CHUNK)
		          : flowcache_expire(w->fc, now_ns, recs, EXPIRE_CHUNK);
		push_records(w, recs, n, flush);
	} while (n == EXPIRE_CHUNK || (!flush && flowcache_expire_behind(w->fc, now_ns)));
}

/*
 * The capture clock is the newest packet time, guarded against single bad timestamps:
 *  - a jump ahead by more than the idle timeout is believed only when the next packet is
 *    ahead too (a genuine quiet spell), so one far-future time cannot expire every flow;
 *  - a packet further behind the clock than the idle timeout moves the clock back to it (the
 *    input went back in time), so the clock cannot stay stuck in the future.
 */
static void advance_clock(struct probe_worker *w, uint64_t ts_ns)
{
	int far_ahead = ts_ns > w->clock_ns && ts_ns - w->clock_ns > w->idle_ns && w->clock_ns;

	if (far_ahead && !w->jump_ns) {
		w->jump_ns = ts_ns; /* wait for the next packet */
		return;
	}
	if (far_ahead) { /* confirmed */
		w->clock_ns = ts_ns < w->jump_ns ? ts_ns : w->jump_ns;
	} else {
		if (w->jump_ns)
			w->clock_outliers++; /* the packet before this one was alone out there */
		if (ts_ns > w->clock_ns) {
			w->clock_ns = ts_ns;
		} else if (w->clock_ns - ts_ns > w->idle_ns) {
			w->clock_ns = ts_ns;
			w->clock_steps_back++;
		}
	}
	w->jump_ns = 0;
}

static void *worker_main(void *arg)
{
	struct probe_worker *w = arg;
	struct capture_pkt pkts[PROBE_BURST];
	struct capture_meta metas[PROBE_BURST];
	int n, i, ok;

	for (;;) {
		if (atomic_load_explicit(&w->pr->stop, memory_order_relaxed))
			break;
		n = w->ops->rx_burst(w->handle, pkts, PROBE_BURST);
		if (n < 0) {
			if (n != -ENODATA) {
				w->error = n;
				wr_strlcpy(w->errmsg, w->ops->last_error(w->handle),
				           sizeof(w->errmsg));
			}
			break;
		}
		if (n == 0) {
			/* A quiet live link: the capture clock follows the wall clock. (A file
			 * that has nothing yet, a pipe, keeps its clock: time is packet time.) */
			uint64_t now = wr_wall_ns();

			if (!(w->caps & CAPTURE_CAP_OFFLINE)) {
				if (now > w->clock_ns)
					w->clock_ns = now;
				drain_cache(w, w->clock_ns, 0);
			}
			continue;
		}
		for (i = 0, ok = 0; i < n; i++) {
			enum capture_verdict v = capture_parse(&pkts[i], w->frags, &metas[ok]);

			w->verdicts[v]++;
			advance_clock(w, pkts[i].ts_ns);
			if (v != CAPTURE_OK)
				continue;
			if (w->sampler.p.algo != CAPTURE_SAMPLE_NONE &&
			    !capture_sampler_select(&w->sampler, &metas[ok])) {
				w->not_sampled++;
				continue;
			}
			ok++;
		}
		flowcache_update_burst(w->fc, metas, (unsigned)ok);
		drain_cache(w, w->clock_ns, 0);
	}
	drain_cache(w, 0, 1);
	w->ops->stats(w->handle, &w->cstats);
	capture_frag_stats(w->frags, &w->fstats);
	flowcache_get_stats(w->fc, &w->fcstats);
	atomic_store_explicit(&w->done, 1, memory_order_release);
	return NULL;
}

static void export_records(struct probe *pr, const struct flowcache_record *recs, unsigned n)
{
	uint64_t now = wr_wall_ns();
	unsigned i;

	for (i = 0; i < pr->n_exporters; i++)
		ipfix_exporter_add(pr->exporters[i], recs, n, now);
	pr->records_exported += n;
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

			for (i = 0; i < pr->n_exporters; i++)
				ipfix_exporter_tick(pr->exporters[i], now);
			next_tick = wr_mono_ns() + 50 * WR_NS_PER_MS;
		}
		if (all_done && got == 0)
			break;
		if (got == 0)
			sleep_us(1000);
	}
	for (i = 0; i < pr->n_exporters; i++)
		ipfix_exporter_flush(pr->exporters[i], wr_wall_ns());
	atomic_store_explicit(&pr->export_done, 1, memory_order_release);
	return NULL;
}

int probe_pipeline_start(struct probe *pr, char *err, size_t errlen)
{
	unsigned i;
	int rc;

	for (i = 0; i < pr->n_workers; i++) {
		struct probe_worker *w = &pr->workers[i];

		rc = w->ops->start(w->handle);
		if (rc < 0) {
			snprintf(err, errlen, "input '%s': cannot start: %s", w->name,
			         w->ops->last_error(w->handle)[0] ? w->ops->last_error(w->handle)
			                                          : strerror(-rc));
			return rc;
		}
	}
	rc = pthread_create(&pr->export_thread, NULL, exporter_main, pr);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the exporter thread: %s", strerror(rc));
		return -rc;
	}
	for (i = 0; i < pr->n_workers; i++) {
		rc = pthread_create(&pr->workers[i].thread, NULL, worker_main, &pr->workers[i]);
		if (rc != 0) {
			/* Already-started workers run to the end of their input; this one is done.
			 */
			atomic_store(&pr->workers[i].done, 1);
			snprintf(err, errlen, "cannot start a worker thread: %s", strerror(rc));
			probe_pipeline_request_stop(pr);
			for (unsigned j = 0; j < i; j++)
				pthread_join(pr->workers[j].thread, NULL);
			for (unsigned j = i + 1; j < pr->n_workers; j++)
				atomic_store(&pr->workers[j].done, 1);
			pthread_join(pr->export_thread, NULL);
			return -rc;
		}
	}
	return 0;
}

void probe_pipeline_request_stop(struct probe *pr)
{
	unsigned i;

	atomic_store(&pr->stop, 1);
	for (i = 0; i < pr->n_workers; i++)
		pr->workers[i].ops->stop(pr->workers[i].handle);
}

int probe_pipeline_finished(struct probe *pr)
{
	return atomic_load_explicit(&pr->export_done, memory_order_acquire);
}

void probe_pipeline_join(struct probe *pr)
{
	unsigned i;

	for (i = 0; i < pr->n_workers; i++)
		pthread_join(pr->workers[i].thread, NULL);
	pthread_join(pr->export_thread, NULL);
}

void probe_pipeline_close(struct probe *pr)
{
	unsigned i;

	for (i = 0; i < pr->n_exporters; i++)
		ipfix_exporter_free(pr->exporters[i]);
	for (i = 0; i < pr->n_workers; i++) {
		struct probe_worker *w = &pr->workers[i];

		w->ops->close(w->handle);
		flowcache_free(w->fc);
		capture_frag_free(w->frags);
		wr_ring_free(w->ring);
	}
}
