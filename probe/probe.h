/*
 * probe: the weir program. Private header shared by main.c (command line, lifecycle, summary)
 * and pipeline.c (worker and exporter threads).
 *
 * Threads: one worker per input (capture -> parse -> flow cache -> expired records), one
 * exporter thread (records -> every IPFIX collector). They meet only at one SPSC ring per
 * worker; counters are plain fields written by one thread and read by main after the join.
 */
#ifndef PROBE_H
#define PROBE_H

#include <pthread.h>
#include <stdatomic.h>

#include "capture.h"
#include "flowcache.h"
#include "ipfix.h"
#include "wr.h"

#define PROBE_MAX_INPUTS  16
#define PROBE_MAX_OUTPUTS 8
#define PROBE_BURST       32

struct probe_config {
	const char *inputs[PROBE_MAX_INPUTS];
	unsigned n_inputs;
	const char *outputs[PROBE_MAX_OUTPUTS];
	unsigned n_outputs;
	uint64_t idle_timeout_s;
	uint64_t active_timeout_s;
	uint64_t max_flows;
	struct ipfix_exporter_params ipfix;
	struct capture_open_params capture;
	/* Per input, packet selection before the table (algo NONE: every packet goes in) and
	 * its --sample spec for the summary (NULL: none). */
	struct capture_sampler_params sample[PROBE_MAX_INPUTS];
	const char *sample_spec[PROBE_MAX_INPUTS];
	uint8_t sample_own[PROBE_MAX_INPUTS]; /* set by --sample N=... (else the default) */
	int biflow;                           /* one record per bidirectional flow (RFC 5103) */
	const char *summary_json;             /* write the final counters here as JSON, or NULL */
	int quiet;                            /* no summary on stderr */
};

/* One input and the worker thread that owns it. */
struct probe_worker {
	struct probe *pr;
	const char *name; /* the INPUT argument */
	const struct capture_driver_ops *ops;
	void *handle;
	uint32_t caps;
	uint64_t idle_ns; /* the idle timeout, which bounds how far the clock may step back */
	struct flowcache *fc;
	struct capture_frag_table *frags;
	struct capture_sampler sampler; /* packet selection before the table */
	struct wr_ring *ring;           /* expired records to the exporter thread */
	pthread_t thread;
	atomic_int done; /* set by the worker when its last record is in the ring */
	int error;       /* fatal input error (-errno), 0 if the input ended normally */
	char errmsg[CAPTURE_ERR_LEN];
	/* counters, written by the worker only */
	uint64_t verdicts[CAPTURE_VERDICT_MAX];
	uint64_t not_sampled;      /* parsed packets the selector passed over */
	uint64_t records_out;      /* records put into the ring */
	uint64_t records_dropped;  /* records lost because the ring was full (live inputs) */
	uint64_t clock_ns;         /* the capture clock: packet time, wall time when quiet */
	uint64_t jump_ns;          /* a jump ahead waiting for a second packet to confirm it */
	uint64_t clock_steps_back; /* packets so far behind the clock that it was reset to them */
	uint64_t clock_outliers;   /* jumps ahead that the next packet did not confirm */
	struct capture_stats cstats;
	struct capture_frag_stats fstats;
	struct flowcache_stats fcstats;
};

struct probe {
	struct probe_config cfg;
	struct probe_worker workers[PROBE_MAX_INPUTS];
	unsigned n_workers;
	struct ipfix_exporter *exporters[PROBE_MAX_OUTPUTS];
	unsigned n_exporters;
	pthread_t export_thread;
	uint64_t records_exported; /* records handed to the exporters (exporter thread) */
	atomic_int stop;           /* set on a signal: stop reading, flush, exit */
	atomic_int export_done;    /* set by the exporter thread when everything is sent */
};

/* Opens every input and output and allocates every table; nothing runs yet. On error returns
 * -errno with a message naming the input or output in err. */
int probe_pipeline_open(struct probe *pr, char *err, size_t errlen);

/* Starts the worker and exporter threads. 0 or -errno. */
int probe_pipeline_start(struct probe *pr, char *err, size_t errlen);

/* Asks the workers to stop reading; they flush every flow and the exporter sends it. Any
 * thread. */
void probe_pipeline_request_stop(struct probe *pr);

/* True once every record has been handed to the outputs (the threads are about to end). */
int probe_pipeline_finished(struct probe *pr);

/* Waits for every thread: inputs read to their end (or stopped), every flow exported. */
void probe_pipeline_join(struct probe *pr);

/* Frees everything probe_pipeline_open() made. */
void probe_pipeline_close(struct probe *pr);

#endif /* PROBE_H */
