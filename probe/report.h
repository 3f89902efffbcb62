/*
 * report: the summary, the JSON counters, the Prometheus exposition and the status line, from
 * the counters of a running or finished probe. Private to probe/.
 */
#ifndef PROBE_REPORT_H
#define PROBE_REPORT_H

#include <stdio.h>

#include "probe.h"

/* Totals over every input, reader and worker, for the summary and its conservation check. */
struct probe_totals {
	uint64_t read, in_flows, non_ip, malformed, no_slot, not_sampled, ring_full;
	uint64_t sampled_observed, sampled_selected;
	uint64_t verdicts[CAPTURE_VERDICT_MAX];
	uint64_t dropped, if_dropped, errors, nombuf;
	uint64_t frag_matched, frag_unmatched;
	uint64_t flows_created, flows_active, records[6], records_out, records_dropped;
	uint64_t clock_steps_back, clock_outliers;
	uint64_t bytes; /* wire bytes read */
	/* the outputs */
	uint64_t records_sent, records_lost, packets_lost;
	uint64_t alerts_firing;
};

/* Adds up the counters (live, or final after the join). */
void probe_totals(const struct probe *pr, struct probe_totals *t);

/* Every packet read is in a flow or in a named counter. */
static inline int probe_totals_balanced(const struct probe_totals *t)
{
	return t->read ==
	       t->in_flows + t->non_ip + t->malformed + t->no_slot + t->not_sampled + t->ring_full;
}

/* The end-of-run summary, with its "where are my drops" section. */
void probe_report_summary(FILE *f, const struct probe *pr, const struct probe_totals *t);

/* The counters as one JSON object (--summary-json, the control socket's `stats`). */
void probe_report_json(FILE *f, const struct probe *pr, const struct probe_totals *t);

/* The Prometheus text exposition (format 0.0.4) of /metrics. */
void probe_report_metrics(FILE *f, const struct probe *pr, const struct probe_totals *t);

/* Rates between two looks at the totals, for the status line. */
struct probe_rate_mark {
	uint64_t mono_ns, read, bytes, records, file_done;
};

/* One status line (no newline) from the totals now and the mark of the last line, which it
 * then moves to now: pps, Gbit/s, active flows, records/s, drops by place, alerts firing, and
 * for files read to their end, a progress bar with the time left. */
void probe_report_status(char *buf, size_t len, const struct probe *pr,
                         const struct probe_totals *t, struct probe_rate_mark *mark);

#endif /* PROBE_REPORT_H */
