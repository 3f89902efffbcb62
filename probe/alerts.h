/*
 * probe alerts: the detector thread (bins from the workers in, alerts out to Redis and to a
 * file of JSON lines). Private to probe/.
 */
#ifndef PROBE_ALERTS_H
#define PROBE_ALERTS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "detect.h"
#include "redispub.h"
#include "watch.h"
#include "weir_config.h"

struct probe;

/* A firing alert: its id and the last message about it (raise or update). */
struct probe_firing {
	char id[160];
	int kind;   /* enum detect_kind */
	char *json; /* weir.alert.v1 */
};

struct probe_alerts {
	struct detect_watch *watch;
	struct detect_engine *engine;
	pthread_mutex_t mu; /* guards the inbox: workers put bins, the detector takes them */
	struct detect_bin **inbox, **work; /* handed over / being put into the engine */
	unsigned n_inbox, cap_inbox, cap_work;
	uint64_t bins_lost; /* bins the inbox had no memory for */
	int mu_ok;
	FILE *file;             /* --alerts-file, or NULL */
	struct redispub *redis; /* --redis, or NULL (always NULL without hiredis) */
	char probe_id[64];
	uint64_t lost_seen; /* capture losses already given to the engine */
	uint64_t run_s;     /* the first bin's start (packet time, s): the run in alert ids */
	pthread_t thread;
	int started;
	/* what a running weir shows (the control socket, /metrics): guarded by view_mu */
	pthread_mutex_t view_mu;
	int view_mu_ok;
	struct probe_firing *firing; /* the alerts firing now: raised and not yet cleared */
	unsigned n_firing, cap_firing;
	struct detect_engine_stats engine_live; /* after each run of the engine */
	struct detect_params detect;            /* in effect (the detector thread's copy) */
	struct detect_params detect_next;       /* a reload's, for the detector thread to take */
	int detect_next_set;
	/* counters, written by the detector thread, read after the join (or, whole words,
	 * while it runs) */
	uint64_t events[3]; /* raise, update, clear */
	uint64_t raised[8]; /* raises by enum detect_kind */
	struct detect_engine_stats engine_stats;
	struct redispub_stats redis_stats;
};

/* Takes over the watch list the command line built (cfg.watch_built), and builds the engine,
 * the workers' counters and the outputs. 0 or -errno with a message in err. */
int probe_alerts_open(struct probe *pr, char *err, size_t errlen);
/* detect_bin_fn for the workers' counters (arg: the probe). */
void probe_alerts_emit_bin(void *arg, struct detect_bin *bin);
/* The detector thread: runs until every worker is done and its last bins are evaluated. */
void *probe_alerts_main(void *arg);
/* After the join: flushes the publisher (bounded) and takes the final counters. */
void probe_alerts_finish(struct probe *pr);
void probe_alerts_close(struct probe *pr);

/* A reload: the detector takes p (checked) before its next run. Any thread. */
void probe_alerts_set_params(struct probe *pr, const struct detect_params *p);
/* Writes the firing alerts' last messages, one JSON line each; returns how many. Any thread.
 * by_kind (may be NULL) gets how many fire of each enum detect_kind. */
unsigned probe_alerts_firing(struct probe *pr, FILE *f, uint64_t by_kind[8]);
/* The engine's counters as of its last run. Any thread. */
void probe_alerts_engine_stats(struct probe *pr, struct detect_engine_stats *ret);

#endif /* PROBE_ALERTS_H */
