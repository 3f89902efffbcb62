/*
 * probe: the weir program. Private header shared by main.c (command line, lifecycle, summary)
 * and pipeline.c (reader, worker and exporter threads).
 *
 * Each input has one or more RX queues, each read by a reader (parse, sample, capture clock),
 * and `--workers` workers, each owning a flow cache. Two layouts:
 *  - direct: a worker polls its own queues and folds their packets into its cache, run to
 *    completion (one worker, or a device whose symmetric RSS already sends both directions of
 *    every flow to the same queue);
 *  - steering: each queue's reader has a thread that hands parsed packets to the workers
 *    through SPSC rings, picked by the parser's direction-symmetric hash, so both directions of
 *    a flow always meet in the same cache.
 * Workers hand expired records to one exporter thread through one SPSC ring each. Counters are
 * plain fields written by one thread and read by main after the join.
 */
#ifndef PROBE_H
#define PROBE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "alerts.h"
#include "capture.h"
#include "flowcache.h"
#include "ipfix.h"
#include "wr.h"

#define PROBE_MAX_INPUTS  16
#define PROBE_MAX_OUTPUTS 8
#define PROBE_MAX_WORKERS 16 /* per input */
#define PROBE_MAX_QUEUES  16 /* per input */
#define PROBE_BURST       32
#define PROBE_MAX_WATCH   16
#define PROBE_MAX_EAL     64      /* EAL arguments from the config file */
#define PROBE_SIG_DONE    SIGUSR2 /* exporter -> main thread: the pipeline has finished */

struct probe_config {
	const char *inputs[PROBE_MAX_INPUTS];
	unsigned n_inputs;
	const char *outputs[PROBE_MAX_OUTPUTS];
	unsigned n_outputs;
	uint64_t idle_timeout_s;
	uint64_t active_timeout_s;
	uint64_t max_flows;  /* per input, shared out among its workers */
	uint32_t workers;    /* flow-cache workers per input */
	int rx_thread;       /* read and steer in a thread of its own even with one worker */
	int no_pin;          /* leave thread placement to the scheduler */
	uint64_t duration_s; /* stop after this long (0: at the end of the inputs or a signal) */
	struct ipfix_exporter_params ipfix;
	struct capture_open_params capture;
	/* Per input, packet selection before the table (algo NONE: every packet goes in) and
	 * its --sample spec for the summary (NULL: none). */
	struct capture_sampler_params sample[PROBE_MAX_INPUTS];
	const char *sample_spec[PROBE_MAX_INPUTS];
	uint8_t sample_own[PROBE_MAX_INPUTS]; /* set by --sample N=... (else the default) */
	int biflow;                           /* one record per bidirectional flow (RFC 5103) */
	const char *summary_json;             /* write the final counters here as JSON, or NULL */
	/* rate anomaly checks (detect/) and their alerts */
	const char *watch[PROBE_MAX_WATCH]; /* --watch specs; the link is always watched */
	struct detect_watch *watch_built;   /* the specs, loaded by the command line; the probe
	                                       takes it over */
	unsigned n_watch;
	uint64_t bin_ms;             /* counting bin [1000] */
	uint64_t max_series;         /* series the detector keeps at most [100000] */
	struct detect_params detect; /* thresholds and holds (detect_params_default()) */
	const char *redis_url;       /* --redis, or NULL */
	const char *redis_prefix;    /* --redis-prefix [weir] */
	const char *alerts_file;     /* --alerts-file: JSON lines, or NULL */
	const char *probe_id;        /* --probe-id [the host name] */
	int quiet;                   /* no summary on stderr */
	/* running it as a service */
	uint64_t status_interval_s; /* a status line on a terminal's stderr this often, 0: none */
	const char *metrics;        /* ADDR:PORT of /metrics (loopback), or NULL */
	const char *control_socket; /* the weirctl socket's path, or NULL */
	const char *user;           /* switch to this user after opening everything, or NULL */
	int allow_root;             /* run as root without --user */
	const char *log_level;      /* wr_log spec */
	const char *sample_every;   /* --sample without N=, as given (NULL: none) */
	/* where the settings came from (options.c) */
	const char *config_file;             /* -c FILE, or NULL */
	int check_only;                      /* -t: check the settings and exit */
	const char *eal_file[PROBE_MAX_EAL]; /* eal: of the config file */
	unsigned n_eal_file;
	struct probe_owned *owned; /* strings read from the config file */
};

struct probe_input;

/* A running total of losses, written by one thread and read by the exporter thread at any
 * time (so relaxed atomics; the writer only touches it when something is lost). */
struct probe_loss {
	_Atomic uint64_t items;   /* packets, or flow records */
	_Atomic uint64_t packets; /* flow records: the packets in them */
	_Atomic uint64_t octets;
	_Atomic uint64_t first_ns; /* time of the first and last loss; 0: none yet */
	_Atomic uint64_t last_ns;
};

/* One RX queue of an input and what reads it. Written by the one thread that reads the queue
 * (the worker in the direct layout, its own thread when steering). */
struct probe_reader {
	struct probe_input *in;
	unsigned queue;
	struct capture_frag_table *frags;
	struct capture_sampler sampler; /* packet selection before the table */
	uint64_t idle_ns;               /* bounds how far the clock may step back */
	uint64_t clock_ns;              /* the capture clock: packet time, wall time when quiet */
	uint64_t jump_ns;               /* a jump ahead waiting for a second packet to confirm */
	int error;                      /* fatal input error (-errno), 0 if it ended normally */
	char errmsg[CAPTURE_ERR_LEN];
	/* steering layout */
	pthread_t thread;
	struct wr_ring *to_worker[PROBE_MAX_WORKERS]; /* parsed packets (struct capture_meta) */
	_Atomic uint64_t clock_pub; /* clock_ns, published after the packets before it */
	atomic_int finished;        /* set after the last packet is in the rings */
	/* counters */
	uint64_t verdicts[CAPTURE_VERDICT_MAX];
	uint64_t not_sampled; /* parsed packets the selector passed over */
	/* live input: parsed packets lost to a full worker ring (written by the reader only,
	 * relaxed; the detector's health gate reads it while capture runs) */
	_Atomic uint64_t ring_full;
	uint64_t clock_steps_back; /* packets so far behind the clock that it was reset to them */
	uint64_t clock_outliers;   /* jumps ahead that the next packet did not confirm */
	struct capture_stats qstats;
	struct capture_frag_stats fstats;
	/* IP packets observed but in no flow (malformed, ring full), for the exporter's
	 * Metering Process Reliability record: written by the reader, read by the exporter */
	struct probe_loss ignored;
	/* for the health gate too: the packets the driver reports lost before weir saw them
	 * (kernel or NIC drops, no buffers), the increases of its counter summed, as polled by
	 * queue 0's thread every STATS_POLL_MS on a live input; relaxed, read by any thread */
	_Atomic uint64_t dropped_pub;
	uint64_t dropped_raw;  /* the driver's counter at the last poll */
	uint64_t stats_due_ns; /* next poll (monotonic) */
	unsigned bursts;       /* since the last look at the clock */
};

/* A flow cache and the thread that owns it. */
struct probe_worker {
	struct probe *pr;
	struct probe_input *in;
	unsigned index;                                /* within its input */
	struct probe_reader *direct[PROBE_MAX_QUEUES]; /* queues it polls itself (direct) */
	unsigned n_direct;
	struct flowcache *fc;
	struct wr_ring *ring; /* expired records to the exporter thread */
	pthread_t thread;
	atomic_int done; /* set by the worker when its last record is in the ring */
	/* counters, written by the worker only */
	uint64_t records_out;      /* records put into the ring */
	uint64_t records_dropped;  /* records lost because the ring was full (live inputs) */
	struct probe_loss dropped; /* the same, with packets and octets, for the exporter */
	struct flowcache_stats fcstats;
	uint64_t max_flows; /* its cache's share of --max-flows */
	/* what a running weir shows: the worker refreshes fcstats every PUBLISH_MS and answers a
	 * request for its largest flows (the control socket's `flows top N`) */
	unsigned ticks;
	uint64_t publish_due_ns;
	atomic_uint top_want;         /* set by the asker: N (0: no request) */
	atomic_int top_done;          /* set by the worker when top/n_top hold the answer */
	struct flowcache_record *top; /* the asker's buffer */
	unsigned n_top;
	unsigned timeouts_seen; /* the reload generation of the timeouts in its cache */
	/* in-line rate counting for the detector */
	struct detect_counter *dc;
	uint64_t flows_counted; /* flow-cache creations already given to dc */
	uint64_t next_bin_ns;   /* when to hand dc the next creations */
};

/* One -i INPUT. */
struct probe_input {
	struct probe *pr;
	unsigned index;   /* 0-based; selectorId and the records' port are index + 1 and index */
	const char *name; /* the INPUT argument */
	const struct capture_driver_ops *ops;
	void *handle;
	uint32_t caps;
	int steering; /* the steering layout (else direct) */
	unsigned n_queues;
	struct probe_reader readers[PROBE_MAX_QUEUES];
	unsigned n_workers;
	struct probe_worker *workers; /* n_workers entries of probe.workers */
	char describe[CAPTURE_ERR_LEN];
	struct capture_stats cstats;
};

struct probe {
	struct probe_config cfg;
	struct probe_input inputs[PROBE_MAX_INPUTS];
	unsigned n_inputs;
	struct probe_worker workers[PROBE_MAX_INPUTS * PROBE_MAX_WORKERS];
	unsigned n_workers;
	struct ipfix_exporter *exporters[PROBE_MAX_OUTPUTS];
	unsigned n_exporters;
	pthread_t export_thread;
	uint64_t records_exported; /* records handed to the exporters (exporter thread) */
	uint64_t elapsed_ns;       /* from the start of the threads to their end */
	uint64_t start_ns;         /* when they started (monotonic) */
	char cpu_plan[128];        /* how threads were placed on CPUs ("" if not pinned) */
	atomic_int stop;           /* set on a signal: stop reading, flush, exit */
	atomic_int running;        /* threads started and not yet joined */
	atomic_int abandon;        /* a failed start: readers stop waiting for their workers */
	/* a reload's flow timeouts, for the workers to take (generation counted) */
	_Atomic uint64_t idle_ns_next, active_ns_next;
	atomic_uint timeouts_gen;
	atomic_int export_done;        /* set by the exporter thread when everything is sent */
	pthread_t main_thread;         /* woken (PROBE_SIG_DONE) when export_done is set */
	struct probe_alerts alerts;    /* the detector thread and its outputs */
	struct probe_control *control; /* weirctl's socket and /metrics (control.c), or NULL */
	pthread_mutex_t cfg_mu;        /* a reload changes cfg under it; others read under it */
};

/* Opens every input and output and allocates every table; nothing runs yet. On error returns
 * -errno with a message naming the input or output in err. */
int probe_pipeline_open(struct probe *pr, char *err, size_t errlen);

/* Starts delivery on every input (a live source's socket may be opened here, so before
 * privileges are dropped). 0 or -errno with a message in err. */
int probe_pipeline_start_inputs(struct probe *pr, char *err, size_t errlen);

/* Starts the worker and exporter threads. 0 or -errno. */
int probe_pipeline_start(struct probe *pr, char *err, size_t errlen);

/* Asks the workers to stop reading; they flush every flow and the exporter sends it. Any
 * thread. */
void probe_pipeline_request_stop(struct probe *pr);

/* True once every record has been handed to the outputs (the threads are about to end). */
int probe_pipeline_finished(struct probe *pr);

/* Waits for every thread: inputs read to their end (or stopped), every flow exported. */
void probe_pipeline_join(struct probe *pr);

/* A reload: every worker takes these flow timeouts at its next look (within PUBLISH_MS). */
void probe_pipeline_set_timeouts(struct probe *pr, uint64_t idle_s, uint64_t active_s);

/* Asks every running worker for its n largest flows (n <= FLOWCACHE_TOP_MAX) and merges
 * them into out (room for n), largest first. Waits up to a second for the workers. Returns
 * how many. One asker at a time. */
unsigned probe_pipeline_top_flows(struct probe *pr, struct flowcache_record *out, unsigned n);

/* Frees everything probe_pipeline_open() made. */
void probe_pipeline_close(struct probe *pr);

#endif /* PROBE_H */
