/*
 * report: what weir tells about a run, from its counters: the summary on stderr, the JSON of
 * --summary-json and the control socket's `stats`, the Prometheus exposition of /metrics and
 * the terminal's status line. Used at the end of a run (after the join) and while it runs: then
 * the counters are read while their threads write them. Each is a whole aligned 64-bit word
 * written by one thread, so a figure may lag by a burst but is never torn.
 */
#include "report.h"

#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

/* A counter another thread is writing: one whole word, possibly a burst behind. */
#define LIVE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* The packets an input's readers have read so far: every one gets a verdict. */
static uint64_t input_read(const struct probe_input *in)
{
	uint64_t n = 0;

	for (unsigned q = 0; q < in->n_queues; q++)
		for (unsigned v = 0; v < CAPTURE_VERDICT_MAX; v++)
			n += LIVE(in->readers[q].verdicts[v]);
	return n;
}

void probe_totals(const struct probe *pr, struct probe_totals *t)
{
	int live = atomic_load(&((struct probe *)pr)->running);
	unsigned i, q, v;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < pr->n_inputs; i++) {
		const struct probe_input *in = &pr->inputs[i];
		struct input_totals it;

		add_input(in, &it);
		t->not_sampled += it.not_sampled;
		t->sampled_observed += it.observed;
		t->sampled_selected += it.selected;
		t->read += live ? input_read(in) : in->cstats.packets;
		t->bytes += in->cstats.bytes;
		t->dropped += in->cstats.dropped;
		t->if_dropped += in->cstats.if_dropped;
		t->errors += in->cstats.errors;
		t->nombuf += in->cstats.nombuf;
		for (q = 0; q < in->n_queues; q++) {
			const struct probe_reader *r = &in->readers[q];

			for (v = 0; v < CAPTURE_VERDICT_MAX; v++) {
				uint64_t n = LIVE(r->verdicts[v]);

				t->verdicts[v] += n;
				if (v == CAPTURE_OK)
					continue;
				if (capture_verdict_is_malformed(v))
					t->malformed += n;
				else
					t->non_ip += n;
			}
			if (live) /* the driver's losses as polled by the reader so far */
				t->dropped +=
				    atomic_load_explicit(&r->dropped_pub, memory_order_relaxed);
			t->ring_full += r->ring_full;
			t->frag_matched += r->fstats.matched;
			t->frag_unmatched += r->fstats.unmatched;
			t->clock_steps_back += r->clock_steps_back;
			t->clock_outliers += r->clock_outliers;
		}
	}
	for (i = 0; i < pr->n_workers; i++) {
		const struct probe_worker *w = &pr->workers[i];

		t->in_flows += LIVE(w->fcstats.packets);
		t->no_slot += LIVE(w->fcstats.no_slot);
		t->flows_created += LIVE(w->fcstats.flows_created);
		t->flows_active += LIVE(w->fcstats.active);
		if (live)
			t->bytes += LIVE(w->fcstats.octets);
		for (v = 1; v < 6; v++)
			t->records[v] += LIVE(w->fcstats.exported[v]);
		t->records_out += LIVE(w->records_out);
		t->records_dropped += LIVE(w->records_dropped);
	}
	for (i = 0; i < pr->n_exporters; i++) {
		struct ipfix_exporter_stats s;

		ipfix_exporter_get_stats(pr->exporters[i], &s);
		t->records_sent += s.records;
		t->records_lost += s.records_lost;
		t->packets_lost += s.packets_lost;
	}
	t->alerts_firing = probe_alerts_firing((struct probe *)pr, NULL, NULL);
}

/* The input's line(s): packets, drops where the source counts them, and how it is read. */
static void print_input(FILE *f, const struct probe_input *in)
{
	const struct capture_stats *c = &in->cstats;
	unsigned q, k;

	fprintf(f, "  input %s: %" PRIu64 " packets, %" PRIu64 " bytes", in->name, c->packets,
	        c->bytes);
	if (in->caps & CAPTURE_CAP_LIVE)
		fprintf(f,
		        ", %" PRIu64 " dropped by the kernel or NIC, %" PRIu64 " by the interface",
		        c->dropped, c->if_dropped);
	if (c->errors || c->nombuf)
		fprintf(f, ", %" PRIu64 " receive errors, %" PRIu64 " lost for want of buffers",
		        c->errors, c->nombuf);
	if (c->truncated_file)
		fprintf(f, " (file ends inside a record)");
	fprintf(f, "\n");
	if (in->describe[0])
		fprintf(f, "    %s\n", in->describe);
	if (in->n_workers > 1 || in->n_queues > 1) {
		fprintf(f, "    %u queue%s, %u worker%s (%s):", in->n_queues,
		        in->n_queues > 1 ? "s" : "", in->n_workers, in->n_workers > 1 ? "s" : "",
		        in->steering ? "software steering" : "each worker reads its own queues");
		for (q = 0; in->n_queues > 1 && q < in->n_queues; q++)
			fprintf(f, " q%u %" PRIu64, q, in->readers[q].qstats.packets);
		for (k = 0; k < in->n_workers; k++)
			fprintf(f, "%s w%u %" PRIu64, k || in->n_queues > 1 ? "," : "", k,
			        in->workers[k].fcstats.packets);
		fprintf(f, " packets\n");
	}
}

/* The detector's part of the summary: series, alerts by kind, and where they went. */
static void print_alerts(FILE *f, const struct probe *pr)
{
	const struct probe_alerts *al = &pr->alerts;

	fprintf(f,
	        "  alerts: %" PRIu64 " series checked over %" PRIu64 " bins; %" PRIu64
	        " raised (%" PRIu64 " drops, %" PRIu64 " surges, %" PRIu64 " level shifts, %" PRIu64
	        " flapping, %" PRIu64 " probe degraded), %" PRIu64 " updates, %" PRIu64
	        " cleared\n",
	        al->engine_stats.series, al->engine_stats.bins, al->events[0],
	        al->raised[DETECT_RATE_DROP], al->raised[DETECT_RATE_SURGE],
	        al->raised[DETECT_LEVEL_SHIFT], al->raised[DETECT_FLAPPING],
	        al->raised[DETECT_PROBE_DEGRADED], al->events[1], al->events[2]);
	if (al->engine_stats.admitted)
		fprintf(f,
		        "  alerts: %" PRIu64
		        " busy destination prefixes admitted as series, %" PRIu64
		        " retired after dst_prefix_idle_s without a packet\n",
		        al->engine_stats.admitted, al->engine_stats.retired);
	if (al->engine_stats.series_refused)
		fprintf(f, "  alerts: %" PRIu64 " series refused past the cap of %" PRIu64 "\n",
		        al->engine_stats.series_refused, pr->cfg.max_series);
	if (al->bins_lost)
		fprintf(f, "  alerts: %" PRIu64 " bins lost for want of memory\n", al->bins_lost);
	if (pr->cfg.redis_url) {
		char masked[1024];

		fprintf(f,
		        "  redis %s: %" PRIu64 " messages published, %" PRIu64
		        " still spooled, %" PRIu64 " updates dropped, %" PRIu64 " lost, %" PRIu64
		        " reconnects\n",
		        probe_redact_url(pr->cfg.redis_url, masked, sizeof(masked)),
		        al->redis_stats.published, al->redis_stats.spooled_now,
		        al->redis_stats.updates_dropped, al->redis_stats.lost,
		        al->redis_stats.reconnects);
	}
}

/* "Where are my drops": every place a packet, a record or an alert can be lost or cut short,
 * in the order a packet meets them, zeros included (a zero is an answer too). */
static void print_drops(FILE *f, const struct probe *pr, const struct probe_totals *t)
{
	struct redispub_stats rs = pr->alerts.redis_stats;

	fprintf(f, "  drops, where a packet, record or alert can be lost:\n");
	fprintf(f, "    %-36s %" PRIu64 "\n", "NIC or kernel missed", t->dropped);
	fprintf(f, "    %-36s %" PRIu64 "\n", "dropped by the interface", t->if_dropped);
	fprintf(f, "    %-36s %" PRIu64 "\n", "no buffers (DPDK mbufs)", t->nombuf);
	fprintf(f, "    %-36s %" PRIu64 "\n", "receive errors", t->errors);
	fprintf(f, "    %-36s %" PRIu64 "\n", "worker queue full", t->ring_full);
	fprintf(f, "    %-36s %" PRIu64 "\n", "parse errors (malformed)", t->malformed);
	fprintf(f, "    %-36s %" PRIu64 "\n", "no flow-cache slot", t->no_slot);
	fprintf(f, "    %-36s %" PRIu64 " (records ended early, no packet lost)\n",
	        "cache evictions (cache full)", t->records[FLOWCACHE_END_RESOURCES]);
	fprintf(f, "    %-36s %" PRIu64 "\n", "records lost to a full export queue",
	        t->records_dropped);
	fprintf(f, "    %-36s %" PRIu64 " (%" PRIu64 " packets)\n", "records not sent (export)",
	        t->records_lost, t->packets_lost);
	fprintf(f, "    %-36s %" PRIu64 " spooled, %" PRIu64 " lost, %" PRIu64 " updates dropped\n",
	        "alerts to Redis", rs.spooled_now, rs.lost, rs.updates_dropped);
}

void probe_report_summary(FILE *f, const struct probe *pr, const struct probe_totals *t)
{
	unsigned i, v;

	fprintf(f, "weir: summary\n");
	for (i = 0; i < pr->n_inputs; i++)
		print_input(f, &pr->inputs[i]);
	if (pr->cpu_plan[0])
		fprintf(f, "  threads: %s\n", pr->cpu_plan);
	fprintf(f,
	        "  packets: %" PRIu64 " read, %" PRIu64 " parsed, %" PRIu64 " in flows, %" PRIu64
	        " non-IP, %" PRIu64 " malformed\n",
	        t->read, t->verdicts[CAPTURE_OK], t->in_flows, t->non_ip, t->malformed);
	for (v = 1; v < CAPTURE_VERDICT_MAX; v++)
		if (t->verdicts[v])
			fprintf(f, "    %-18s %" PRIu64 "\n", capture_verdict_name(v),
			        t->verdicts[v]);
	if (t->frag_matched || t->frag_unmatched)
		fprintf(f,
		        "  fragments: %" PRIu64 " non-first joined their flow, %" PRIu64
		        " without a first fragment (ports 0)\n",
		        t->frag_matched, t->frag_unmatched);
	fprintf(f,
	        "  flows: %" PRIu64 " created; %" PRIu64 " records (idle %" PRIu64
	        ", active %" PRIu64 ", end of flow %" PRIu64 ", forced end %" PRIu64
	        ", evicted %" PRIu64 ")\n",
	        t->flows_created, t->records_out + t->records_dropped, t->records[1], t->records[2],
	        t->records[3], t->records[4], t->records[5]);
	if (t->records_dropped)
		fprintf(f, "  records lost to a full export queue: %" PRIu64 "\n",
		        t->records_dropped);
	if (t->clock_outliers)
		fprintf(f,
		        "  clock: %" PRIu64
		        " packets with a time far ahead of their neighbours did "
		        "not move it\n",
		        t->clock_outliers);
	if (t->clock_steps_back)
		fprintf(f,
		        "  clock: stepped back %" PRIu64 " times to packets older than the idle "
		        "timeout (bad or out-of-order timestamps)\n",
		        t->clock_steps_back);
	for (i = 0; i < pr->n_exporters; i++) {
		struct ipfix_exporter_stats s;

		ipfix_exporter_get_stats(pr->exporters[i], &s);
		fprintf(f,
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
		fprintf(f,
		        "  sampling input %s (%s, selectorId %u): %" PRIu64
		        " packets observed, %" PRIu64 " selected, %" PRIu64 " passed over\n",
		        in->name, pr->cfg.sample_spec[i], i + 1, it.observed, it.selected,
		        it.not_sampled);
	}
	if (t->ring_full)
		fprintf(f, "  packets lost to a full worker queue: %" PRIu64 "\n", t->ring_full);
	print_alerts(f, pr);
	print_drops(f, pr, t);
	fprintf(f, "  accounting: %s (read = in flows + non-IP + malformed%s%s%s)\n",
	        probe_totals_balanced(t) ? "balanced" : "MISMATCH",
	        t->not_sampled ? " + not sampled" : "", t->no_slot ? " + no slot" : "",
	        t->ring_full ? " + worker queue full" : "");
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

void probe_report_json(FILE *f, const struct probe *pr, const struct probe_totals *t)
{
	unsigned i, v;

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
	fprintf(f, "  \"elapsed_s\": %.6f,\n  \"cpu_plan\": ",
	        (atomic_load(&((struct probe *)pr)->running) ? wr_mono_ns() - pr->start_ns
	                                                     : pr->elapsed_ns) /
	            1e9);
	json_string(f, pr->cpu_plan);
	fprintf(f, ",\n");
	fprintf(f, "  \"clock_steps_back\": %" PRIu64 ",\n  \"clock_outliers\": %" PRIu64 ",\n",
	        t->clock_steps_back, t->clock_outliers);
	{
		const struct probe_alerts *al = &pr->alerts;
		struct detect_engine_stats es = al->engine_stats; /* final */

		if (atomic_load(&((struct probe *)pr)->running)) /* as of the detector's last run */
			probe_alerts_engine_stats((struct probe *)pr, &es);

		fprintf(f,
		        "  \"alerts\": {\"series\": %" PRIu64 ", \"bins\": %" PRIu64
		        ", \"bins_lost\": %" PRIu64 ", \"series_refused\": %" PRIu64
		        ", \"admitted\": %" PRIu64 ", \"retired\": %" PRIu64
		        ", \"raised\": %" PRIu64 ", \"updates\": %" PRIu64 ", \"cleared\": %" PRIu64
		        ", \"raised_by_kind\": {",
		        es.series, es.bins, al->bins_lost, es.series_refused, es.admitted,
		        es.retired, al->events[0], al->events[1], al->events[2]);
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
}

/* ---------------------------------------------------------------------------------------- */
/* Prometheus text exposition                                                                 */

/* "# HELP" and "# TYPE" of one metric family. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP weir_%s %s\n# TYPE weir_%s %s\n", name, help, name, type);
}

/* A label value, escaped as the exposition format wants (backslash, quote, newline). */
static void label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* One sample of a per-input metric: name{input="..."} value. */
static void per_input(FILE *f, const char *name, const struct probe_input *in, uint64_t v)
{
	fprintf(f, "weir_%s{input=\"", name);
	label(f, in->name);
	fprintf(f, "\"} %" PRIu64 "\n", v);
}

/* One sample of a per-worker metric (ratio: printed as a fraction). */
static void per_worker(FILE *f, const char *name, const struct probe_worker *w, uint64_t v,
                       uint64_t per)
{
	fprintf(f, "weir_%s{input=\"", name);
	label(f, w->in->name);
	if (per)
		fprintf(f, "\",worker=\"%u\"} %.6f\n", w->index, (double)v / (double)per);
	else
		fprintf(f, "\",worker=\"%u\"} %" PRIu64 "\n", w->index, v);
}

/* A counter family with a sample per output: the field at `off` of its exporter's stats. */
static void per_output(FILE *f, const struct probe *pr, const char *name, const char *help,
                       size_t off)
{
	family(f, name, "counter", help);
	for (unsigned i = 0; i < pr->n_exporters; i++) {
		struct ipfix_exporter_stats s;
		uint64_t v;

		ipfix_exporter_get_stats(pr->exporters[i], &s);
		memcpy(&v, (const uint8_t *)&s + off, sizeof(v));
		fprintf(f, "weir_%s{output=\"", name);
		label(f, ipfix_exporter_url(pr->exporters[i]));
		fprintf(f, "\"} %" PRIu64 "\n", v);
	}
}

void probe_report_metrics(FILE *f, const struct probe *pr, const struct probe_totals *t)
{
	struct probe *mpr = (struct probe *)pr; /* the locks of the views are taken */
	struct detect_engine_stats es;
	struct redispub_stats rs = pr->alerts.redis_stats;
	uint64_t firing[8];
	unsigned i, v;

	family(f, "up", "gauge", "1 while capture runs");
	fprintf(f, "weir_up %d\n", atomic_load(&mpr->running));
	family(f, "packets_total", "counter", "packets read, by what the parser made of them");
	for (v = 0; v < CAPTURE_VERDICT_MAX; v++)
		fprintf(f, "weir_packets_total{verdict=\"%s\"} %" PRIu64 "\n",
		        capture_verdict_name(v), t->verdicts[v]);
	family(f, "packets_read_total", "counter", "packets read, per input");
	for (i = 0; i < pr->n_inputs; i++)
		per_input(f, "packets_read_total", &pr->inputs[i], input_read(&pr->inputs[i]));
	family(f, "drops_total", "counter",
	       "packets, records and alerts lost, by place (see the summary's drops)");
	fprintf(f, "weir_drops_total{place=\"nic_missed\"} %" PRIu64 "\n", t->dropped);
	fprintf(f, "weir_drops_total{place=\"no_mbufs\"} %" PRIu64 "\n", t->nombuf);
	fprintf(f, "weir_drops_total{place=\"ring_full\"} %" PRIu64 "\n", t->ring_full);
	fprintf(f, "weir_drops_total{place=\"parse_error\"} %" PRIu64 "\n", t->malformed);
	fprintf(f, "weir_drops_total{place=\"no_slot\"} %" PRIu64 "\n", t->no_slot);
	fprintf(f, "weir_drops_total{place=\"export_queue_full\"} %" PRIu64 "\n",
	        t->records_dropped);
	fprintf(f, "weir_drops_total{place=\"export_not_sent\"} %" PRIu64 "\n", t->records_lost);
	fprintf(f, "weir_drops_total{place=\"alerts_lost\"} %" PRIu64 "\n", rs.lost);
	family(f, "worker_packets_total", "counter", "packets folded into flows, per worker");
	for (i = 0; i < pr->n_workers; i++)
		per_worker(f, "worker_packets_total", &pr->workers[i],
		           LIVE(pr->workers[i].fcstats.packets), 0);
	family(f, "worker_flows_created_total", "counter", "flows created, per worker");
	for (i = 0; i < pr->n_workers; i++)
		per_worker(f, "worker_flows_created_total", &pr->workers[i],
		           LIVE(pr->workers[i].fcstats.flows_created), 0);
	family(f, "flows_active", "gauge", "flows in the cache, per worker");
	for (i = 0; i < pr->n_workers; i++)
		per_worker(f, "flows_active", &pr->workers[i], LIVE(pr->workers[i].fcstats.active),
		           0);
	family(f, "flowcache_occupancy_ratio", "gauge",
	       "flows in the cache over its capacity, per worker");
	for (i = 0; i < pr->n_workers; i++)
		per_worker(f, "flowcache_occupancy_ratio", &pr->workers[i],
		           LIVE(pr->workers[i].fcstats.active), pr->workers[i].max_flows);
	family(f, "export_queue_depth", "gauge",
	       "records waiting between a worker and the exporter");
	for (i = 0; i < pr->n_workers; i++)
		per_worker(f, "export_queue_depth", &pr->workers[i],
		           pr->workers[i].ring ? wr_ring_count(pr->workers[i].ring) : 0, 0);
	family(f, "records_total", "counter", "flow records ended, by flowEndReason");
	{
		static const char *const why[6] = {
		    "", "idle", "active", "end_of_flow", "forced_end", "lack_of_resources"};

		for (v = 1; v < 6; v++)
			fprintf(f, "weir_records_total{reason=\"%s\"} %" PRIu64 "\n", why[v],
			        t->records[v]);
	}
	per_output(f, pr, "export_records_total", "records sent, per output",
	           offsetof(struct ipfix_exporter_stats, records));
	per_output(f, pr, "export_records_lost_total", "records not sent, per output",
	           offsetof(struct ipfix_exporter_stats, records_lost));
#if WEIR_HAVE_HIREDIS
	if (pr->alerts.redis)
		redispub_stats(pr->alerts.redis, &rs);
#endif
	family(f, "redis_queue_depth", "gauge",
	       "alert messages spooled for Redis, in flight included");
	fprintf(f, "weir_redis_queue_depth %" PRIu64 "\n", rs.spooled_now);
	family(f, "redis_published_total", "counter", "alert messages Redis acknowledged");
	fprintf(f, "weir_redis_published_total %" PRIu64 "\n", rs.published);
	probe_alerts_engine_stats(mpr, &es);
	family(f, "detect_series", "gauge", "rate series the detector checks");
	fprintf(f, "weir_detect_series %" PRIu64 "\n", es.series);
	probe_alerts_firing(mpr, NULL, firing);
	family(f, "alerts_raised_total", "counter", "alerts raised, by kind");
	for (int k = DETECT_RATE_DROP; k <= DETECT_PROBE_DEGRADED; k++)
		fprintf(f, "weir_alerts_raised_total{kind=\"%s\"} %" PRIu64 "\n",
		        detect_kind_name(k), LIVE(pr->alerts.raised[k]));
	family(f, "alerts_firing", "gauge", "alerts raised and not cleared, by kind");
	for (int k = DETECT_RATE_DROP; k <= DETECT_PROBE_DEGRADED; k++)
		fprintf(f, "weir_alerts_firing{kind=\"%s\"} %" PRIu64 "\n", detect_kind_name(k),
		        firing[k]);
}

/* ---------------------------------------------------------------------------------------- */
/* Status line                                                                                */

/* "1.2M", "340k", "12": a count in a few characters. */
static const char *human(double v, char *buf, size_t len)
{
	if (v >= 1e9)
		snprintf(buf, len, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
	return buf;
}

void probe_report_status(char *buf, size_t len, const struct probe *pr,
                         const struct probe_totals *t, struct probe_rate_mark *mark)
{
	uint64_t now = wr_mono_ns(), done = 0, total = 0;
	double dt = mark->mono_ns && now > mark->mono_ns ? (double)(now - mark->mono_ns) / 1e9 : 0;
	double pps = dt > 0 ? (double)(t->read - mark->read) / dt : 0;
	double bps = dt > 0 ? (double)(t->bytes - mark->bytes) * 8 / dt : 0;
	double rps = dt > 0 ? (double)(t->records_sent - mark->records) / dt : 0;
	char a[16], b[16], c[16];
	int known = 1, n;
	size_t used;

	n = snprintf(buf, len,
	             "%s pps %.3f Gbit/s | flows %s active, %s records/s | drops: nic %" PRIu64
	             ", ring %" PRIu64 ", parse %" PRIu64 ", export %" PRIu64 " | alerts %" PRIu64,
	             human(pps, a, sizeof(a)), bps / 1e9,
	             human((double)t->flows_active, b, sizeof(b)), human(rps, c, sizeof(c)),
	             t->dropped + t->nombuf, t->ring_full, t->malformed,
	             t->records_dropped + t->records_lost, t->alerts_firing);
	used = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
	for (unsigned i = 0; i < pr->n_inputs; i++) {
		const struct probe_input *in = &pr->inputs[i];
		uint64_t d, tt;

		if (in->ops->progress == NULL || in->ops->progress(in->handle, &d, &tt) < 0) {
			known = 0;
			break;
		}
		done += d;
		total += tt;
	}
	if (known && total > 0 && used < len) {
		/* files: a bar, and the time left at the rate since the last line */
		double frac = (double)done / (double)total;
		char bar[21];
		unsigned fill = (unsigned)(frac * 20);

		for (unsigned k = 0; k < 20; k++)
			bar[k] = k < fill ? '#' : '.';
		bar[20] = '\0';
		if (dt > 0 && done > mark->file_done) {
			double eta =
			    (double)(total - done) / ((double)(done - mark->file_done) / dt);

			snprintf(buf + used, len - used, " | [%s] %3.0f%% ETA %um%02us", bar,
			         frac * 100, (unsigned)eta / 60, (unsigned)eta % 60);
		} else {
			snprintf(buf + used, len - used, " | [%s] %3.0f%%", bar, frac * 100);
		}
		mark->file_done = done;
	}
	mark->mono_ns = now;
	mark->read = t->read;
	mark->bytes = t->bytes;
	mark->records = t->records_sent;
}
