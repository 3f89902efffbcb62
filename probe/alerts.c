/*
 * The detector thread: takes the workers' closed bins, runs the detect engine on them and
 * sends every event on as a weir.alert.v1 message: to the Redis publisher (--redis), to a
 * file of JSON lines (--alerts-file), and into the summary's counts.
 *
 * Workers hand bins over under one mutex, once per bin each: not on the per-packet path.
 * Capture losses for the health gate are read from the readers' published counters.
 */
#include "alerts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define RUN_EVERY_US 50000 /* the detector looks for closed bins this often */
#define NAP_US       2000  /* ... and, reading files, whether the workers have ended */
#define EVENTS_MAX   256

int probe_alerts_open(struct probe *pr, char *err, size_t errlen)
{
	struct probe_config *c = &pr->cfg;
	struct probe_alerts *al = &pr->alerts;
	struct detect_engine_params ep;

	/* the command line checked the parameters and loaded the watch list */
	memset(al, 0, sizeof(*al));
	al->watch = c->watch_built; /* ours from now on */
	c->watch_built = NULL;
	if (al->watch == NULL) {
		snprintf(err, errlen, "no watch list");
		return -EINVAL;
	}
	memset(&ep, 0, sizeof(ep));
	ep.detect = &c->detect;
	ep.watch = al->watch;
	ep.n_workers = pr->n_workers;
	ep.n_links = pr->n_inputs;
	ep.bin_ns = c->bin_ms * WR_NS_PER_MS;
	ep.max_series = c->max_series;
	al->engine = detect_engine_create(&ep);
	if (al->engine == NULL)
		goto nomem;
	for (unsigned w = 0; w < pr->n_workers; w++) {
		pr->workers[w].dc = detect_counter_create(al->watch, w, ep.bin_ns);
		if (pr->workers[w].dc == NULL)
			goto nomem;
	}
	if (pthread_mutex_init(&al->mu, NULL) != 0)
		goto nomem;
	al->mu_ok = 1;
	if (pthread_mutex_init(&al->view_mu, NULL) != 0)
		goto nomem;
	al->view_mu_ok = 1;
	al->detect = c->detect;
	if (c->alerts_file) {
		al->file = fopen(c->alerts_file, "w");
		if (al->file == NULL) {
			snprintf(err, errlen, "--alerts-file '%s': %s", c->alerts_file,
			         strerror(errno));
			return -errno;
		}
	}
	if (c->probe_id == NULL) {
		if (gethostname(al->probe_id, sizeof(al->probe_id) - 1) != 0)
			snprintf(al->probe_id, sizeof(al->probe_id), "weir");
	} else {
		snprintf(al->probe_id, sizeof(al->probe_id), "%s", c->probe_id);
	}
#if WEIR_HAVE_HIREDIS
	if (c->redis_url) {
		struct redispub_params rp;

		redispub_params_default(&rp);
		rp.url = c->redis_url;
		if (c->redis_prefix)
			rp.prefix = c->redis_prefix;
		rp.probe_id = al->probe_id;
		rp.detect = &c->detect;
		al->redis = redispub_create(&rp, err, errlen);
		if (al->redis == NULL)
			return -EINVAL;
	}
#else
	if (c->redis_url) {
		snprintf(err, errlen, "--redis: this weir was built without hiredis");
		return -ENOTSUP;
	}
#endif
	return 0;
nomem:
	snprintf(err, errlen, "out of memory for the detector");
	return -ENOMEM;
}

void probe_alerts_emit_bin(void *arg, struct detect_bin *bin)
{
	struct probe *pr = arg;
	struct probe_alerts *al = &pr->alerts;

	/* only the hand-over is under the lock: the detector evaluates outside it, so a worker
	 * never waits for an evaluation */
	pthread_mutex_lock(&al->mu);
	if (al->n_inbox == al->cap_inbox) {
		unsigned cap = al->cap_inbox ? 2 * al->cap_inbox : 64;
		struct detect_bin **v = realloc(al->inbox, cap * sizeof(*v));

		if (v == NULL) {
			al->bins_lost++;
			pthread_mutex_unlock(&al->mu);
			detect_bin_free(bin);
			return;
		}
		al->inbox = v;
		al->cap_inbox = cap;
	}
	al->inbox[al->n_inbox++] = bin;
	pthread_mutex_unlock(&al->mu);
}

/* Capture losses so far, over every reader: packets lost to full worker rings. */
static uint64_t capture_lost(struct probe *pr)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < pr->n_inputs; i++)
		for (unsigned q = 0; q < pr->inputs[i].n_queues; q++)
			n += atomic_load_explicit(&pr->inputs[i].readers[q].ring_full,
			                          memory_order_relaxed) +
			     atomic_load_explicit(&pr->inputs[i].readers[q].dropped_pub,
			                          memory_order_relaxed);
	return n;
}

static void describe(struct probe *pr, const struct detect_alert *a, struct redispub_alert *m)
{
	struct probe_alerts *al = &pr->alerts;

	memset(m, 0, sizeof(*m));
	m->ev = a->ev;
	m->run_s = al->run_s;
	if (a->id == DETECT_PROBE_ID) {
		snprintf(m->link, sizeof(m->link), "probe");
		snprintf(m->family, sizeof(m->family), "probe");
		snprintf(m->key, sizeof(m->key), "capture");
		snprintf(m->metric, sizeof(m->metric), "packets");
	} else {
		const char *link =
		    a->family == DETECT_FAM_LINK ? pr->inputs[a->link].name : pr->inputs[0].name;

		snprintf(m->link, sizeof(m->link), "%s",
		         pr->n_inputs == 1 || a->family == DETECT_FAM_LINK ? link : "all");
		snprintf(m->family, sizeof(m->family), "%s", detect_family_name(a->family));
		if (a->family == DETECT_FAM_LINK)
			snprintf(m->key, sizeof(m->key), "%s", pr->inputs[a->link].name);
		else if (a->family == DETECT_FAM_DSTPFX) /* by the prefix the event was made for */
			detect_hh_key_name(a->hh_key, m->key, sizeof(m->key));
		else
			detect_watch_key_name(al->watch, a->id, m->key, sizeof(m->key));
		snprintf(m->metric, sizeof(m->metric), "%s", detect_metric_name(a->metric));
	}
	if (a->parent_episode) { /* the alert of the link's packet series it is attached to */
		struct detect_alert pa = {.id = detect_series_id(DETECT_FAM_LINK, 0),
		                          .family = DETECT_FAM_LINK,
		                          .metric = DETECT_PACKETS};
		struct redispub_alert parent;

		pa.ev.episode = a->parent_episode;
		describe(pr, &pa, &parent);
		redispub_alert_id(&parent, al->probe_id, m->parent_alert_id,
		                  sizeof(m->parent_alert_id));
	}
	m->capture_degraded = a->degraded;
}

/* Keeps the list of firing alerts: a raise adds, an update replaces the message, a clear
 * removes. Under view_mu. A message that cannot be kept (no memory) leaves the list as it
 * was: the control socket then shows the alert's older message, or misses a new one. */
static void track_firing(struct probe_alerts *al, const struct redispub_alert *m, const char *json)
{
	char id[sizeof(al->firing[0].id)];
	unsigned i;

	redispub_alert_id(m, al->probe_id, id, sizeof(id));
	for (i = 0; i < al->n_firing && strcmp(al->firing[i].id, id) != 0; i++)
		;
	if (m->ev.type == DETECT_CLEAR) {
		if (i < al->n_firing) {
			free(al->firing[i].json);
			al->firing[i] = al->firing[--al->n_firing];
		}
		return;
	}
	if (i == al->n_firing) {
		if (al->n_firing == al->cap_firing) {
			unsigned cap = al->cap_firing ? 2 * al->cap_firing : 16;
			struct probe_firing *f = realloc(al->firing, cap * sizeof(*f));

			if (f == NULL)
				return;
			al->firing = f;
			al->cap_firing = cap;
		}
		snprintf(al->firing[i].id, sizeof(al->firing[i].id), "%s", id);
		al->firing[i].kind = m->ev.kind;
		al->firing[i].json = NULL;
		al->n_firing++;
	}
	{
		char *copy = strdup(json);

		if (copy != NULL) {
			free(al->firing[i].json);
			al->firing[i].json = copy;
		}
	}
}

static void deliver(struct probe *pr, const struct detect_alert *a)
{
	struct probe_alerts *al = &pr->alerts;
	struct redispub_alert m;
	char json[REDISPUB_JSON_MAX];
	int len;

	describe(pr, a, &m);
	if (a->ev.type >= DETECT_RAISE && a->ev.type <= DETECT_CLEAR)
		al->events[a->ev.type - 1]++;
	if (a->ev.type == DETECT_RAISE && a->ev.kind < WR_ARRAY_SIZE(al->raised))
		al->raised[a->ev.kind]++;
	/* formatted once for the file and Redis alike (the publisher was given the same probe
	 * id and parameters) */
	len = redispub_format_with(&m, al->probe_id, &al->detect, json, sizeof(json));
	if (al->file && len > 0) {
		fwrite(json, 1, (size_t)len, al->file);
		fputc('\n', al->file);
	}
	if (len > 0 && a->ev.type >= DETECT_RAISE && a->ev.type <= DETECT_CLEAR) {
		pthread_mutex_lock(&al->view_mu);
		track_firing(al, &m, json);
		pthread_mutex_unlock(&al->view_mu);
	}
#if WEIR_HAVE_HIREDIS
	if (al->redis)
		redispub_submit_json(al->redis, &m, json, len);
#endif
}

static unsigned run_once(struct probe *pr)
{
	struct probe_alerts *al = &pr->alerts;
	struct detect_alert ev[EVENTS_MAX];
	uint64_t lost = capture_lost(pr);
	unsigned n, n_work, total = 0;

	/* take the bins the workers handed over, then evaluate without the lock */
	pthread_mutex_lock(&al->mu);
	{
		struct detect_bin **t = al->inbox;
		unsigned cap = al->cap_inbox;

		al->inbox = al->work;
		al->cap_inbox = al->cap_work;
		al->work = t;
		al->cap_work = cap;
		n_work = al->n_inbox;
		al->n_inbox = 0;
	}
	pthread_mutex_unlock(&al->mu);
	/* set once, from the first bins (not a worker's end mark), before any alert names it */
	for (unsigned i = 0; al->run_s == 0 && i < n_work; i++)
		if (al->work[i]->start_ns != UINT64_MAX)
			al->run_s = al->work[i]->start_ns / WR_NS_PER_S;
	pthread_mutex_lock(&al->view_mu);
	if (al->detect_next_set) { /* a reload: from this run on */
		al->detect = al->detect_next;
		al->detect_next_set = 0;
		detect_engine_set_params(al->engine, &al->detect);
	}
	pthread_mutex_unlock(&al->view_mu);
	for (unsigned i = 0; i < n_work; i++)
		detect_engine_put(al->engine, al->work[i]);
	do {
		n = detect_engine_run(al->engine, lost > al->lost_seen ? lost - al->lost_seen : 0,
		                      ev, EVENTS_MAX);
		al->lost_seen = lost;
		for (unsigned i = 0; i < n; i++)
			deliver(pr, &ev[i]);
		total += n;
	} while (n == EVENTS_MAX);
	if (al->file && total)
		fflush(al->file);
	pthread_mutex_lock(&al->view_mu);
	detect_engine_get_stats(al->engine, &al->engine_live);
	pthread_mutex_unlock(&al->view_mu);
	return total;
}

static int workers_done(struct probe *pr)
{
	for (unsigned w = 0; w < pr->n_workers; w++)
		if (!atomic_load_explicit(&pr->workers[w].done, memory_order_acquire))
			return 0;
	return 1;
}

void *probe_alerts_main(void *arg)
{
	struct probe *pr = arg;
	unsigned nap = NAP_US;

	/* files end on their own: naps, so that the run ends when its workers do; a live
	 * capture ends on a stop, and one more RUN_EVERY_US then does not matter */
	for (unsigned i = 0; i < pr->n_inputs; i++)
		if (!(pr->inputs[i].caps & CAPTURE_CAP_OFFLINE))
			nap = RUN_EVERY_US;
	for (;;) {
		int done = workers_done(pr);

		run_once(pr);
		if (done)
			break;
		for (unsigned t = 0; t < RUN_EVERY_US && !workers_done(pr); t += nap)
			usleep(nap);
	}
	run_once(pr); /* the workers' last bins */
	return NULL;
}

void probe_alerts_finish(struct probe *pr)
{
	struct probe_alerts *al = &pr->alerts;

	if (al->engine)
		detect_engine_get_stats(al->engine, &al->engine_stats);
#if WEIR_HAVE_HIREDIS
	if (al->redis) {
		redispub_flush(al->redis, 3000);
		redispub_stats(al->redis, &al->redis_stats);
	}
#endif
}

void probe_alerts_close(struct probe *pr)
{
	struct probe_alerts *al = &pr->alerts;

#if WEIR_HAVE_HIREDIS
	redispub_free(al->redis);
	al->redis = NULL;
#endif
	if (al->file)
		fclose(al->file);
	al->file = NULL;
	for (unsigned w = 0; w < pr->n_workers; w++) {
		detect_counter_free(pr->workers[w].dc);
		pr->workers[w].dc = NULL;
	}
	for (unsigned i = 0; i < al->n_inbox; i++)
		detect_bin_free(al->inbox[i]);
	free(al->inbox);
	free(al->work);
	al->inbox = al->work = NULL;
	al->n_inbox = al->cap_inbox = al->cap_work = 0;
	detect_engine_free(al->engine);
	al->engine = NULL;
	detect_watch_free(al->watch);
	al->watch = NULL;
	detect_watch_free(pr->cfg.watch_built); /* never taken over: the open failed first */
	pr->cfg.watch_built = NULL;
	if (al->mu_ok)
		pthread_mutex_destroy(&al->mu);
	al->mu_ok = 0;
	for (unsigned i = 0; i < al->n_firing; i++)
		free(al->firing[i].json);
	free(al->firing);
	al->firing = NULL;
	al->n_firing = al->cap_firing = 0;
	if (al->view_mu_ok)
		pthread_mutex_destroy(&al->view_mu);
	al->view_mu_ok = 0;
}

void probe_alerts_set_params(struct probe *pr, const struct detect_params *p)
{
	struct probe_alerts *al = &pr->alerts;

	pthread_mutex_lock(&al->view_mu);
	al->detect_next = *p;
	al->detect_next_set = 1;
	pthread_mutex_unlock(&al->view_mu);
}

unsigned probe_alerts_firing(struct probe *pr, FILE *f, uint64_t by_kind[8])
{
	struct probe_alerts *al = &pr->alerts;
	unsigned n;

	if (!al->view_mu_ok)
		return 0;
	if (by_kind)
		memset(by_kind, 0, 8 * sizeof(by_kind[0]));
	pthread_mutex_lock(&al->view_mu);
	n = al->n_firing;
	for (unsigned i = 0; i < n; i++) {
		if (f && al->firing[i].json)
			fprintf(f, "%s\n", al->firing[i].json);
		if (by_kind && al->firing[i].kind >= 0 && al->firing[i].kind < 8)
			by_kind[al->firing[i].kind]++;
	}
	pthread_mutex_unlock(&al->view_mu);
	return n;
}

void probe_alerts_engine_stats(struct probe *pr, struct detect_engine_stats *ret)
{
	struct probe_alerts *al = &pr->alerts;

	memset(ret, 0, sizeof(*ret));
	if (!al->view_mu_ok)
		return;
	pthread_mutex_lock(&al->view_mu);
	*ret = al->engine_live;
	pthread_mutex_unlock(&al->view_mu);
}
