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
	/* counters, written by the detector thread, read after the join */
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

#endif /* PROBE_ALERTS_H */
