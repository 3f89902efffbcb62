/*
 * weir: command line, lifecycle and the end-of-run summary.
 *
 * Everything is opened and checked before any thread starts, so a bad option, an unreadable
 * file, an unknown interface or an unreachable output path stops weir with a message before
 * it has read a packet. SIGINT and SIGTERM are blocked in every thread and taken by the main
 * thread with sigtimedwait(): the first asks the workers to stop (they flush every flow and the
 * exporter sends it), a second exits at once.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "probe.h"
#include "weir_config.h"

static struct probe the_probe; /* large: kept off the stack */

/* Waits for the pipeline to finish, taking SIGINT/SIGTERM on the way (they are blocked in
 * every thread, so they queue here). */
static void wait_for_pipeline(struct probe *pr, const sigset_t *sigs)
{
	const struct timespec tick = {0, 100 * 1000 * 1000};
	uint64_t end = pr->cfg.duration_s ? wr_mono_ns() + pr->cfg.duration_s * WR_NS_PER_S : 0;
	int seen = 0, sig;

	while (!probe_pipeline_finished(pr)) {
		sig = sigtimedwait(sigs, NULL, &tick);
		if (end && !seen && wr_mono_ns() >= end) {
			seen = 1; /* as if signalled: a signal now exits at once */
			probe_pipeline_request_stop(pr);
		}
		if (sig <= 0)
			continue;
		if (seen++) {
			fprintf(stderr, "weir: second %s: exiting without flushing\n",
			        sig == SIGINT ? "SIGINT" : "SIGTERM");
			_exit(128 + sig);
		}
		fprintf(stderr, "weir: %s: stopping capture, exporting every flow\n",
		        sig == SIGINT ? "SIGINT" : "SIGTERM");
		probe_pipeline_request_stop(pr);
	}
}

/* Totals over every input, reader and worker, for the summary and its conservation check. */
struct totals {
	uint64_t read, in_flows, non_ip, malformed, no_slot, not_sampled, ring_full;
	uint64_t sampled_observed, sampled_selected;
	uint64_t verdicts[CAPTURE_VERDICT_MAX];
	uint64_t dropped, if_dropped, errors, nombuf;
	uint64_t frag_matched, frag_unmatched;
	uint64_t flows_created, records[6], records_out, records_dropped;
	uint64_t clock_steps_back, clock_outliers;
};

/* Per input: what its readers and workers counted. */
struct input_totals {
	uint64_t in_flows, observed, selected, not_sampled;
};

static void add_input(const struct probe_input *in, struct input_totals *it)
{
	unsigned q, k;

	memset(it, 0, sizeof(*it));
	for (q = 0; q < in->n_queues; q++) {
		it->observed += in->readers[q].sampler.observed;
		it->selected += in->readers[q].sampler.selected;
		it->not_sampled += in->readers[q].not_sampled;
	}
	for (k = 0; k < in->n_workers; k++)
		it->in_flows += in->workers[k].fcstats.packets;
}

static void add_totals(const struct probe *pr, struct totals *t)
{
	unsigned i, q, v;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < pr->n_inputs; i++) {
		const struct probe_input *in = &pr->inputs[i];
		struct input_totals it;

		add_input(in, &it);
		t->not_sampled += it.not_sampled;
		t->sampled_observed += it.observed;
		t->sampled_selected += it.selected;
		t->read += in->cstats.packets;
		t->dropped += in->cstats.dropped;
		t->if_dropped += in->cstats.if_dropped;
		t->errors += in->cstats.errors;
		t->nombuf += in->cstats.nombuf;
		for (q = 0; q < in->n_queues; q++) {
			const struct probe_reader *r = &in->readers[q];

			for (v = 0; v < CAPTURE_VERDICT_MAX; v++) {
				t->verdicts[v] += r->verdicts[v];
				if (v == CAPTURE_OK)
					continue;
				if (capture_verdict_is_malformed(v))
					t->malformed += r->verdicts[v];
				else
					t->non_ip += r->verdicts[v];
			}
			t->ring_full += r->ring_full;
			t->frag_matched += r->fstats.matched;
			t->frag_unmatched += r->fstats.unmatched;
			t->clock_steps_back += r->clock_steps_back;
			t->clock_outliers += r->clock_outliers;
		}
	}
	for (i = 0; i < pr->n_workers; i++) {
		const struct probe_worker *w = &pr->workers[i];

		t->in_flows += w->fcstats.packets;
		t->no_slot += w->fcstats.no_slot;
		t->flows_created += w->fcstats.flows_created;
		for (v = 1; v < 6; v++)
			t->records[v] += w->fcstats.exported[v];
		t->records_out += w->records_out;
		t->records_dropped += w->records_dropped;
	}
}

/* The input's line(s): packets, drops where the source counts them, and how it is read. */
static void print_input(const struct probe_input *in)
{
	const struct capture_stats *c = &in->cstats;
	unsigned q, k;

	fprintf(stderr, "  input %s: %" PRIu64 " packets, %" PRIu64 " bytes", in->name, c->packets,
	        c->bytes);
	if (in->caps & CAPTURE_CAP_LIVE)
		fprintf(stderr,
		        ", %" PRIu64 " dropped by the kernel or NIC, %" PRIu64 " by the interface",
		        c->dropped, c->if_dropped);
	if (c->errors || c->nombuf)
		fprintf(stderr,
		        ", %" PRIu64 " receive errors, %" PRIu64 " lost for want of buffers",
		        c->errors, c->nombuf);
	if (c->truncated_file)
		fprintf(stderr, " (file ends inside a record)");
	fprintf(stderr, "\n");
	if (in->describe[0])
		fprintf(stderr, "    %s\n", in->describe);
	if (in->n_workers > 1 || in->n_queues > 1) {
		fprintf(stderr, "    %u queue%s, %u worker%s (%s):", in->n_queues,
		        in->n_queues > 1 ? "s" : "", in->n_workers, in->n_workers > 1 ? "s" : "",
		        in->steering ? "software steering" : "each worker reads its own queues");
		for (q = 0; in->n_queues > 1 && q < in->n_queues; q++)
			fprintf(stderr, " q%u %" PRIu64, q, in->readers[q].qstats.packets);
		for (k = 0; k < in->n_workers; k++)
			fprintf(stderr, "%s w%u %" PRIu64, k || in->n_queues > 1 ? "," : "", k,
			        in->workers[k].fcstats.packets);
		fprintf(stderr, " packets\n");
	}
}

/* The detector's part of the summary: series, alerts by kind, and where they went. */
static void print_alerts(const struct probe *pr)
{
	const struct probe_alerts *al = &pr->alerts;

	fprintf(stderr,
	        "  alerts: %" PRIu64 " series checked over %" PRIu64 " bins; %" PRIu64
	        " raised (%" PRIu64 " drops, %" PRIu64 " surges, %" PRIu64 " level shifts, %" PRIu64
	        " flapping, %" PRIu64 " probe degraded), %" PRIu64 " updates, %" PRIu64
	        " cleared\n",
	        al->engine_stats.series, al->engine_stats.bins, al->events[0],
	        al->raised[DETECT_RATE_DROP], al->raised[DETECT_RATE_SURGE],
	        al->raised[DETECT_LEVEL_SHIFT], al->raised[DETECT_FLAPPING],
	        al->raised[DETECT_PROBE_DEGRADED], al->events[1], al->events[2]);
	if (al->engine_stats.admitted)
		fprintf(stderr,
		        "  alerts: %" PRIu64
		        " busy destination prefixes admitted as series, %" PRIu64
		        " retired after dst_prefix_idle_s without a packet\n",
		        al->engine_stats.admitted, al->engine_stats.retired);
	if (al->engine_stats.series_refused)
		fprintf(stderr,
		        "  alerts: %" PRIu64 " series refused past the cap of %" PRIu64 "\n",
		        al->engine_stats.series_refused, pr->cfg.max_series);
	if (al->bins_lost)
		fprintf(stderr, "  alerts: %" PRIu64 " bins lost for want of memory\n",
		        al->bins_lost);
	if (pr->cfg.redis_url)
		fprintf(stderr,
		        "  redis %s: %" PRIu64 " messages published, %" PRIu64
		        " still spooled, %" PRIu64 " updates dropped, %" PRIu64 " lost, %" PRIu64
		        " reconnects\n",
		        pr->cfg.redis_url, al->redis_stats.published, al->redis_stats.spooled_now,
		        al->redis_stats.updates_dropped, al->redis_stats.lost,
		        al->redis_stats.reconnects);
}

static void print_summary(const struct probe *pr, const struct totals *t, int balanced)
{
	unsigned i, v;

	fprintf(stderr, "weir: summary\n");
	for (i = 0; i < pr->n_inputs; i++)
		print_input(&pr->inputs[i]);
	if (pr->cpu_plan[0])
		fprintf(stderr, "  threads: %s\n", pr->cpu_plan);
	fprintf(stderr,
	        "  packets: %" PRIu64 " read, %" PRIu64 " parsed, %" PRIu64 " in flows, %" PRIu64
	        " non-IP, %" PRIu64 " malformed\n",
	        t->read, t->verdicts[CAPTURE_OK], t->in_flows, t->non_ip, t->malformed);
	for (v = 1; v < CAPTURE_VERDICT_MAX; v++)
		if (t->verdicts[v])
			fprintf(stderr, "    %-18s %" PRIu64 "\n", capture_verdict_name(v),
			        t->verdicts[v]);
	if (t->frag_matched || t->frag_unmatched)
		fprintf(stderr,
		        "  fragments: %" PRIu64 " non-first joined their flow, %" PRIu64
		        " without a first fragment (ports 0)\n",
		        t->frag_matched, t->frag_unmatched);
	fprintf(stderr,
	        "  flows: %" PRIu64 " created; %" PRIu64 " records (idle %" PRIu64
	        ", active %" PRIu64 ", end of flow %" PRIu64 ", forced end %" PRIu64
	        ", evicted %" PRIu64 ")\n",
	        t->flows_created, t->records_out + t->records_dropped, t->records[1], t->records[2],
	        t->records[3], t->records[4], t->records[5]);
	if (t->records_dropped)
		fprintf(stderr, "  records lost to a full export queue: %" PRIu64 "\n",
		        t->records_dropped);
	if (t->clock_outliers)
		fprintf(stderr,
		        "  clock: %" PRIu64
		        " packets with a time far ahead of their neighbours did "
		        "not move it\n",
		        t->clock_outliers);
	if (t->clock_steps_back)
		fprintf(stderr,
		        "  clock: stepped back %" PRIu64 " times to packets older than the idle "
		        "timeout (bad or out-of-order timestamps)\n",
		        t->clock_steps_back);
	for (i = 0; i < pr->n_exporters; i++) {
		struct ipfix_exporter_stats s;

		ipfix_exporter_get_stats(pr->exporters[i], &s);
		fprintf(stderr,
		        "  output ipfix:%s: %" PRIu64 " records in %" PRIu64 " messages, %" PRIu64
		        " bytes sent, %" PRIu64 " records not sent (%" PRIu64 " packets)\n",
		        ipfix_exporter_url(pr->exporters[i]), s.records, s.messages, s.bytes,
		        s.records_lost, s.packets_lost);
	}
	for (i = 0; i < pr->n_inputs; i++) {
		const struct probe_input *in = &pr->inputs[i];
		struct input_totals it;

		if (pr->cfg.sample_spec[i] == NULL)
			continue;
		add_input(in, &it);
		fprintf(stderr,
		        "  sampling input %s (%s, selectorId %u): %" PRIu64
		        " packets observed, %" PRIu64 " selected, %" PRIu64 " passed over\n",
		        in->name, pr->cfg.sample_spec[i], i + 1, it.observed, it.selected,
		        it.not_sampled);
	}
	if (t->ring_full)
		fprintf(stderr, "  packets lost to a full worker queue: %" PRIu64 "\n",
		        t->ring_full);
	print_alerts(pr);
	fprintf(stderr, "  accounting: %s (read = in flows + non-IP + malformed%s%s%s)\n",
	        balanced ? "balanced" : "MISMATCH", t->not_sampled ? " + not sampled" : "",
	        t->no_slot ? " + no slot" : "", t->ring_full ? " + worker queue full" : "");
}

/* Writes s as a JSON string literal (quotes, backslashes and control characters escaped). */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int write_json(const struct probe *pr, const struct totals *t, const char *path)
{
	FILE *f = fopen(path, "w");
	unsigned i, v;

	if (f == NULL)
		return -errno;
	fprintf(f,
	        "{\n  \"packets_read\": %" PRIu64 ",\n  \"packets_in_flows\": %" PRIu64
	        ",\n  \"packets_non_ip\": %" PRIu64 ",\n  \"packets_malformed\": %" PRIu64
	        ",\n  \"packets_no_slot\": %" PRIu64 ",\n  \"packets_not_sampled\": %" PRIu64
	        ",\n  \"sampling_observed\": %" PRIu64 ",\n  \"sampling_selected\": %" PRIu64
	        ",\n  \"packets_ring_full\": %" PRIu64 ",\n  \"dropped\": %" PRIu64
	        ",\n  \"receive_errors\": %" PRIu64 ",\n  \"no_buffers\": %" PRIu64 ",\n",
	        t->read, t->in_flows, t->non_ip, t->malformed, t->no_slot, t->not_sampled,
	        t->sampled_observed, t->sampled_selected, t->ring_full, t->dropped, t->errors,
	        t->nombuf);
	fprintf(f, "  \"verdicts\": {");
	for (v = 0; v < CAPTURE_VERDICT_MAX; v++)
		fprintf(f, "%s\"%s\": %" PRIu64, v ? ", " : "", capture_verdict_name(v),
		        t->verdicts[v]);
	fprintf(f,
	        "},\n  \"fragments_matched\": %" PRIu64 ",\n  \"fragments_unmatched\": %" PRIu64
	        ",\n  \"flows_created\": %" PRIu64 ",\n",
	        t->frag_matched, t->frag_unmatched, t->flows_created);
	fprintf(f,
	        "  \"records\": {\"idle\": %" PRIu64 ", \"active\": %" PRIu64
	        ", \"end_of_flow\": %" PRIu64 ", \"forced_end\": %" PRIu64
	        ", \"lack_of_resources\": %" PRIu64 "},\n",
	        t->records[1], t->records[2], t->records[3], t->records[4], t->records[5]);
	fprintf(f, "  \"elapsed_s\": %.6f,\n  \"cpu_plan\": ", pr->elapsed_ns / 1e9);
	json_string(f, pr->cpu_plan);
	fprintf(f, ",\n");
	fprintf(f, "  \"clock_steps_back\": %" PRIu64 ",\n  \"clock_outliers\": %" PRIu64 ",\n",
	        t->clock_steps_back, t->clock_outliers);
	{
		const struct probe_alerts *al = &pr->alerts;

		fprintf(f,
		        "  \"alerts\": {\"series\": %" PRIu64 ", \"bins\": %" PRIu64
		        ", \"bins_lost\": %" PRIu64 ", \"series_refused\": %" PRIu64
		        ", \"admitted\": %" PRIu64 ", \"retired\": %" PRIu64
		        ", \"raised\": %" PRIu64 ", \"updates\": %" PRIu64 ", \"cleared\": %" PRIu64
		        ", \"raised_by_kind\": {",
		        al->engine_stats.series, al->engine_stats.bins, al->bins_lost,
		        al->engine_stats.series_refused, al->engine_stats.admitted,
		        al->engine_stats.retired, al->events[0], al->events[1], al->events[2]);
		for (int k = DETECT_RATE_DROP; k <= DETECT_PROBE_DEGRADED; k++)
			fprintf(f, "%s\"%s\": %" PRIu64, k > 1 ? ", " : "", detect_kind_name(k),
			        al->raised[k]);
		fprintf(f,
		        "},\n    \"redis\": {\"published\": %" PRIu64 ", \"spooled\": %" PRIu64
		        ", \"updates_dropped\": %" PRIu64 ", \"lost\": %" PRIu64
		        ", \"reconnects\": %" PRIu64 ", \"submitted\": %" PRIu64 "}},\n",
		        al->redis_stats.published, al->redis_stats.spooled_now,
		        al->redis_stats.updates_dropped, al->redis_stats.lost,
		        al->redis_stats.reconnects, al->redis_stats.submitted);
	}
	fprintf(f, "  \"biflow\": %s,\n  \"inputs\": [", pr->cfg.biflow ? "true" : "false");
	for (i = 0; i < pr->n_inputs; i++) {
		const struct probe_input *in = &pr->inputs[i];
		struct input_totals it;
		unsigned k;

		add_input(in, &it);
		fprintf(f, "%s\n    {\"input\": ", i ? "," : "");
		json_string(f, in->name);
		fprintf(f,
		        ", \"packets\": %" PRIu64 ", \"in_flows\": %" PRIu64
		        ", \"queues\": %u, \"steering\": %s, \"workers\": [",
		        in->cstats.packets, it.in_flows, in->n_queues,
		        in->steering ? "true" : "false");
		for (k = 0; k < in->n_workers; k++)
			fprintf(f, "%s%" PRIu64, k ? ", " : "", in->workers[k].fcstats.packets);
		fprintf(f, "], \"queue_packets\": [");
		for (k = 0; k < in->n_queues; k++)
			fprintf(f, "%s%" PRIu64, k ? ", " : "", in->readers[k].qstats.packets);
		fprintf(f, "], \"sample\": ");
		if (pr->cfg.sample_spec[i] != NULL)
			json_string(f, pr->cfg.sample_spec[i]);
		else
			fputs("null", f);
		fprintf(f,
		        ", \"selector_id\": %u, \"sampling_observed\": %" PRIu64
		        ", \"sampling_selected\": %" PRIu64 "}",
		        i + 1, it.observed, it.selected);
	}
	fprintf(f, "\n  ],\n");
	fprintf(f,
	        "  \"records_queued\": %" PRIu64 ",\n  \"records_queue_full\": %" PRIu64
	        ",\n  \"records_exported\": %" PRIu64 ",\n  \"outputs\": [",
	        t->records_out, t->records_dropped, pr->records_exported);
	for (i = 0; i < pr->n_exporters; i++) {
		struct ipfix_exporter_stats s;

		ipfix_exporter_get_stats(pr->exporters[i], &s);
		fprintf(f, "%s\n    {\"url\": ", i ? "," : "");
		json_string(f, ipfix_exporter_url(pr->exporters[i]));
		fprintf(f,
		        ", \"records\": %" PRIu64 ", \"messages\": %" PRIu64 ", \"bytes\": %" PRIu64
		        ", \"records_lost\": %" PRIu64 ", \"packets_lost\": %" PRIu64
		        ", \"octets_lost\": %" PRIu64 ", \"template_sets\": %" PRIu64
		        ", \"stats_messages\": %" PRIu64 ", \"send_errors\": %" PRIu64
		        ", \"connects\": %" PRIu64 ", \"files\": %" PRIu64 "}",
		        s.records, s.messages, s.bytes, s.records_lost, s.packets_lost,
		        s.octets_lost, s.template_sets, s.stats_sent, s.send_errors, s.connects,
		        s.files);
	}
	fprintf(f, "\n  ]\n}\n");
	return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
	struct probe *pr = &the_probe;
	char err[512];
	struct totals t;
	sigset_t sigs;
	int rc, balanced, status = 0;
	unsigned i;

	rc = probe_options_parse(argc, argv, &pr->cfg);
	if (rc >= 0) {
		detect_watch_free(pr->cfg.watch_built);
		probe_options_free(&pr->cfg);
		return rc;
	}

	rc = probe_pipeline_open(pr, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "weir: %s\n", err);
		probe_pipeline_close(pr);
		probe_options_free(&pr->cfg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by every thread started below */
	rc = probe_pipeline_start(pr, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "weir: %s\n", err);
		probe_pipeline_close(pr);
		probe_options_free(&pr->cfg);
		return 1;
	}
	pr->elapsed_ns = wr_mono_ns();
	wait_for_pipeline(pr, &sigs);
	probe_pipeline_join(pr);
	pr->elapsed_ns = wr_mono_ns() - pr->elapsed_ns;

	add_totals(pr, &t);
	balanced =
	    t.read == t.in_flows + t.non_ip + t.malformed + t.no_slot + t.not_sampled + t.ring_full;
	for (i = 0; i < pr->n_inputs; i++) {
		for (unsigned q = 0; q < pr->inputs[i].n_queues; q++) {
			const struct probe_reader *r = &pr->inputs[i].readers[q];

			if (!r->error)
				continue;
			fprintf(stderr,
			        "weir: input '%s': %s (flows read before it were exported)\n",
			        pr->inputs[i].name, r->errmsg[0] ? r->errmsg : strerror(-r->error));
			status = 1;
		}
	}
	if (!pr->cfg.quiet)
		print_summary(pr, &t, balanced);
	if (pr->cfg.summary_json && (rc = write_json(pr, &t, pr->cfg.summary_json)) < 0) {
		fprintf(stderr, "weir: --summary-json '%s': %s\n", pr->cfg.summary_json,
		        strerror(-rc));
		status = 1;
	}
	probe_pipeline_close(pr);
	probe_options_free(&pr->cfg);
	return status;
}
