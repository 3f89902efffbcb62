/*
 * The detect engine: merges the workers' closed bins and feeds every series.
 *
 * Each worker's bins arrive in time order (a worker may skip a long silence). Bin T is
 * evaluated once every worker still running has a bin queued at T or later; the cells of
 * the bins at T are summed per series, and every series known so far is updated, with zero
 * when it had no cell: that is how a drop to zero is seen. Series live in an open-addressed
 * table keyed by series id, each with a detect_series per metric; a series is created by its
 * first cell, up to max_series.
 *
 * Grouping: with a single link, an alert of another family raised while the link's packet
 * series fires is attached to the link's alert (parent_episode). The capture health gate
 * (detect_health) suppresses rate drops while the probe itself is losing packets.
 */
#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wr.h"

#define MAX_QUEUED 4096 /* bins per worker waiting for the others */

struct eseries {
	uint32_t id;                  /* 0xffffffff: empty slot */
	uint32_t quiet;               /* dst-prefix: bins in a row without a packet */
	double count[DETECT_METRICS]; /* this bin */
	struct detect_series s[DETECT_METRICS];
};

struct wqueue {
	struct detect_bin **b;
	unsigned head, n;
	int finished;
};

struct cand_sum {
	uint64_t key, packets;
};

struct detect_engine {
	struct detect_engine_params p;
	struct detect_params dp;
	struct wqueue *q;
	struct eseries *tab;
	uint32_t mask, n_series;
	struct detect_health health;
	uint64_t lost; /* capture losses not yet given to the health check */
	struct detect_alert *held;
	unsigned n_held, cap_held;
	struct detect_engine_stats st;
	struct cand_sum *cand; /* this bin's heavy-hitter candidates, from every worker */
	unsigned n_cand, cap_cand;
	uint32_t *retire; /* dst-prefix series found idle in this bin */
	unsigned n_retire, cap_retire;
	uint32_t hh_episodes; /* the highest episode of any retired dst-prefix series */
};

static void add_candidate(struct detect_engine *e, const struct detect_cell *c)
{
	if (e->n_cand == e->cap_cand) {
		unsigned cap = e->cap_cand ? 2 * e->cap_cand : 256;
		struct cand_sum *v = realloc(e->cand, cap * sizeof(*v));

		if (v == NULL)
			return;
		e->cand = v;
		e->cap_cand = cap;
	}
	e->cand[e->n_cand].key = c->key;
	e->cand[e->n_cand].packets = c->packets;
	e->n_cand++;
}

static int cmp_cand(const void *a, const void *b)
{
	uint64_t x = ((const struct cand_sum *)a)->key, y = ((const struct cand_sum *)b)->key;
	return (x > y) - (x < y);
}

static struct eseries *dst_series(struct detect_engine *e, uint32_t slot);

/* A prefix the workers together saw DETECT_HH_ADMIT times in the bin becomes a series: the
 * workers count it exactly from now on. Its series exists from now on too, so that it ages
 * out even if the prefix never sends again; without room for it, the slot is given back. */
static void admit_candidates(struct detect_engine *e)
{
	unsigned i = 0;

	if (e->n_cand == 0)
		return;
	qsort(e->cand, e->n_cand, sizeof(*e->cand), cmp_cand);
	while (i < e->n_cand) {
		uint64_t key = e->cand[i].key, sum = 0;
		int r;

		for (; i < e->n_cand && e->cand[i].key == key; i++)
			sum += e->cand[i].packets;
		if (sum < DETECT_HH_ADMIT)
			continue;
		r = detect_watch_hh_admit(e->p.watch, key);
		if (r >= 0 && dst_series(e, (uint32_t)r) == NULL)
			detect_watch_hh_retire(e->p.watch, (uint32_t)r); /* counted as refused */
		else if (r >= 0)
			e->st.admitted++;
		else if (r == -ENOSPC)
			e->st.series_refused++;
	}
	e->n_cand = 0;
}

struct detect_engine *detect_engine_create(const struct detect_engine_params *p)
{
	struct detect_engine *e = calloc(1, sizeof(*e));
	uint32_t slots = 1024;

	if (e == NULL || p->n_workers == 0 || p->bin_ns == 0 || p->detect == NULL)
		goto fail;
	e->p = *p;
	e->dp = *p->detect;
	if (e->p.max_series == 0)
		e->p.max_series = 100000;
	e->q = calloc(p->n_workers, sizeof(*e->q));
	if (e->q == NULL)
		goto fail;
	for (unsigned i = 0; i < p->n_workers; i++)
		if ((e->q[i].b = calloc(MAX_QUEUED, sizeof(*e->q[i].b))) == NULL)
			goto fail;
	e->tab = malloc(slots * sizeof(*e->tab));
	if (e->tab == NULL)
		goto fail;
	for (uint32_t i = 0; i < slots; i++)
		e->tab[i].id = UINT32_MAX;
	e->mask = slots - 1;
	return e;
fail:
	detect_engine_free(e);
	errno = ENOMEM;
	return NULL;
}

void detect_engine_free(struct detect_engine *e)
{
	if (e == NULL)
		return;
	if (e->q) {
		for (unsigned i = 0; i < e->p.n_workers; i++) {
			struct wqueue *q = &e->q[i];

			for (unsigned k = 0; q->b && k < q->n; k++)
				detect_bin_free(q->b[(q->head + k) % MAX_QUEUED]);
			free(q->b);
		}
		free(e->q);
	}
	free(e->tab);
	free(e->retire);
	free(e->held);
	free(e->cand);
	free(e);
}

static uint32_t id_hash(uint32_t id)
{
	return (id * 0x9e3779b1u) ^ (id >> 16);
}

static int grow(struct detect_engine *e)
{
	uint32_t slots = 2 * (e->mask + 1);
	struct eseries *t = malloc(slots * sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < slots; i++)
		t[i].id = UINT32_MAX;
	for (uint32_t i = 0; i <= e->mask; i++) {
		uint32_t h;

		if (e->tab[i].id == UINT32_MAX)
			continue;
		for (h = id_hash(e->tab[i].id) & (slots - 1); t[h].id != UINT32_MAX;
		     h = (h + 1) & (slots - 1))
			;
		t[h] = e->tab[i];
	}
	free(e->tab);
	e->tab = t;
	e->mask = slots - 1;
	return 0;
}

/* Removes a series from the table, moving later entries of its probe run back (no
 * tombstones). */
static void erase(struct detect_engine *e, struct eseries *s)
{
	uint32_t i = (uint32_t)(s - e->tab), j = i;

	for (;;) {
		uint32_t k;

		j = (j + 1) & e->mask;
		if (e->tab[j].id == UINT32_MAX)
			break;
		k = id_hash(e->tab[j].id) & e->mask; /* where entry j would like to be */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue; /* it can stay: its run does not pass through i */
		e->tab[i] = e->tab[j];
		i = j;
	}
	e->tab[i].id = UINT32_MAX;
	e->n_series--;
}

static struct eseries *find(struct detect_engine *e, uint32_t id, int create)
{
	uint32_t h;

	for (h = id_hash(id) & e->mask; e->tab[h].id != UINT32_MAX; h = (h + 1) & e->mask)
		if (e->tab[h].id == id)
			return &e->tab[h];
	if (!create)
		return NULL;
	if (e->n_series >= e->p.max_series) {
		e->st.series_refused++;
		return NULL;
	}
	if (2 * (e->n_series + 1) > e->mask + 1) {
		if (grow(e) < 0)
			return NULL;
		return find(e, id, 1);
	}
	memset(&e->tab[h], 0, sizeof(e->tab[h]));
	e->tab[h].id = id;
	e->n_series++;
	return &e->tab[h];
}

/* The series of an admitted prefix, created when new. A prefix admitted again after its
 * series was retired counts its alerts on from the highest episode any retired series
 * reached, so that its alert ids (fingerprint, run, episode) never repeat within a run. */
static struct eseries *dst_series(struct detect_engine *e, uint32_t slot)
{
	uint32_t id = detect_series_id(DETECT_FAM_DSTPFX, slot);
	struct eseries *s = find(e, id, 0);

	if (s == NULL && (s = find(e, id, 1)) != NULL)
		for (int m = 0; m < DETECT_METRICS; m++)
			s->s[m].episode = e->hh_episodes;
	return s;
}

static void evaluate_bin(struct detect_engine *e, uint64_t t);
static uint64_t oldest_queued(const struct detect_engine *e);

void detect_engine_put(struct detect_engine *e, struct detect_bin *bin)
{
	struct wqueue *q;

	if (bin->worker >= e->p.n_workers) {
		detect_bin_free(bin);
		return;
	}
	q = &e->q[bin->worker];
	if (bin->start_ns == UINT64_MAX) {
		q->finished = 1;
		detect_bin_free(bin);
		return;
	}
	while (q->n == MAX_QUEUED) {
		/* another worker has closed nothing for MAX_QUEUED bins: evaluate the oldest bin
		 * with what is there rather than wait for ever (counted). That bin may be another
		 * worker's, leaving this queue full: go on until it has room (each evaluation
		 * takes at least one bin, so this ends). */
		evaluate_bin(e, oldest_queued(e));
		e->st.bins_forced++;
	}
	q->b[(q->head + q->n) % MAX_QUEUED] = bin;
	q->n++;
}

static int hold(struct detect_engine *e, const struct detect_alert *a)
{
	if (e->n_held == e->cap_held) {
		unsigned cap = e->cap_held ? 2 * e->cap_held : 64;
		struct detect_alert *h = realloc(e->held, cap * sizeof(*h));

		if (h == NULL)
			return -ENOMEM;
		e->held = h;
		e->cap_held = cap;
	}
	e->held[e->n_held++] = *a;
	e->st.events++;
	return 0;
}

/* The oldest bin any worker has queued. */
static uint64_t oldest_queued(const struct detect_engine *e)
{
	uint64_t t = UINT64_MAX;

	for (unsigned i = 0; i < e->p.n_workers; i++)
		if (e->q[i].n && e->q[i].b[e->q[i].head]->start_ns < t)
			t = e->q[i].b[e->q[i].head]->start_ns;
	return t;
}

/* The next bin every running worker has closed, or UINT64_MAX when one is still open. */
static uint64_t ready_bin(const struct detect_engine *e)
{
	uint64_t t = UINT64_MAX;
	int any = 0;

	for (unsigned i = 0; i < e->p.n_workers; i++) {
		const struct wqueue *q = &e->q[i];

		if (q->n == 0) {
			if (!q->finished)
				return UINT64_MAX;
			continue;
		}
		any = 1;
		if (q->b[q->head]->start_ns < t)
			t = q->b[q->head]->start_ns;
	}
	return any ? t : UINT64_MAX;
}

/* Feeds a series its counts of the bin ending at `end` and holds what comes out. parent: the
 * link a child's alert is attached to while that link's packet series fires (or NULL). */
static void update_series(struct detect_engine *e, struct eseries *s, uint64_t end, double bin_s,
                          int gate, const struct eseries *parent)
{
	int fam = (int)(s->id >> 24);
	struct detect_event ev;
	struct detect_alert a;

	for (int m = 0; m < DETECT_METRICS; m++) {
		if (m == DETECT_FLOWS && fam != DETECT_FAM_LINK)
			continue;
		if (!detect_series_update(&s->s[m], &e->dp, end, bin_s, s->count[m], gate, &ev))
			continue;
		memset(&a, 0, sizeof(a));
		a.ev = ev;
		a.id = s->id;
		a.metric = (uint8_t)m;
		a.family = (uint8_t)fam;
		a.link = fam == DETECT_FAM_LINK ? (s->id & 0xffffffu) : 0;
		a.degraded = gate;
		if (fam == DETECT_FAM_DSTPFX)
			a.hh_key = detect_watch_hh_key(e->p.watch, s->id & 0xffffffu);
		if (parent != NULL && detect_series_firing(&parent->s[DETECT_PACKETS]))
			a.parent_episode = parent->s[DETECT_PACKETS].episode;
		hold(e, &a);
	}
	memset(s->count, 0, sizeof(s->count));
}

/* An automatic dst-prefix series without a packet for dst_prefix_idle_s and no alert firing
 * is retired: the busy prefixes of a long-running probe change, and the slots are few. */
static int idle(struct detect_engine *e, struct eseries *s, double bin_s)
{
	s->quiet = s->count[DETECT_PACKETS] > 0 ? 0 : s->quiet + 1;
	if (s->quiet * bin_s < e->dp.dst_prefix_idle_s)
		return 0;
	for (int m = 0; m < DETECT_METRICS; m++)
		if (detect_series_firing(&s->s[m]))
			return 0;
	return 1;
}

static void retire_later(struct detect_engine *e, uint32_t id)
{
	if (e->n_retire == e->cap_retire) {
		unsigned cap = e->cap_retire ? 2 * e->cap_retire : 64;
		uint32_t *v = realloc(e->retire, cap * sizeof(*v));

		if (v == NULL)
			return; /* retired at a later bin */
		e->retire = v;
		e->cap_retire = cap;
	}
	e->retire[e->n_retire++] = id;
}

static void evaluate_bin(struct detect_engine *e, uint64_t t)
{
	double bin_s = (double)e->p.bin_ns / 1e9;
	uint64_t end = t + e->p.bin_ns;
	struct eseries *parent = NULL;
	struct detect_alert a;
	double seen = 0;
	int gate;

	/* merge the cells of bin t; heavy-hitter candidates are summed apart */
	e->n_cand = 0;
	for (unsigned i = 0; i < e->p.n_workers; i++) {
		struct wqueue *q = &e->q[i];
		struct detect_bin *b;

		if (q->n == 0 || q->b[q->head]->start_ns != t)
			continue;
		b = q->b[q->head];
		for (unsigned k = 0; k < b->n_cells; k++) {
			const struct detect_cell *c = &b->cells[k];
			struct eseries *s;

			if (c->id == DETECT_CANDIDATE || c->id >> 24 == DETECT_FAM_DSTPFX) {
				/* by prefix, not by the worker's slot: a candidate admitted since
				 * the worker closed this bin counts for its series, so the outcome
				 * does not depend on thread timing; a series retired since is a
				 * candidate again */
				int slot = detect_watch_hh_slot(e->p.watch, c->key);

				if (slot < 0) {
					add_candidate(e, c);
					continue;
				}
				s = dst_series(e, (uint32_t)slot);
			} else {
				s = find(e, c->id, 1);
			}
			if (s == NULL)
				continue;
			s->count[DETECT_PACKETS] += (double)c->packets;
			s->count[DETECT_BITS] += 8.0 * (double)c->bytes;
			s->count[DETECT_FLOWS] += c->flows;
		}
		q->head = (q->head + 1) % MAX_QUEUED;
		q->n--;
		detect_bin_free(b);
	}
	e->st.bins++;

	/* capture health first: its gate applies to this bin's drops; what the links counted
	 * in the bin is what was received */
	for (uint32_t l = 0; l < e->p.n_links; l++) {
		struct eseries *ls = find(e, detect_series_id(DETECT_FAM_LINK, l), 0);

		if (ls)
			seen += ls->count[DETECT_PACKETS];
	}
	memset(&a, 0, sizeof(a));
	if (detect_health_update(&e->health, &e->dp, end, seen, (double)e->lost, &a.ev)) {
		a.id = DETECT_PROBE_ID;
		a.family = DETECT_FAM_LINK;
		a.degraded = detect_health_degraded(&e->health); /* the health it reports */
		hold(e, &a);
	}
	e->lost = 0;
	gate = detect_health_degraded(&e->health);
	if (e->p.n_links == 1)
		parent = find(e, detect_series_id(DETECT_FAM_LINK, 0), 0);

	/* the links first, so that children see their parent's state of this bin */
	for (uint32_t l = 0; l < e->p.n_links; l++) {
		struct eseries *ls = find(e, detect_series_id(DETECT_FAM_LINK, l), 0);

		if (ls)
			update_series(e, ls, end, bin_s, gate, NULL);
	}
	e->n_retire = 0;
	for (uint32_t h = 0; h <= e->mask; h++) {
		struct eseries *s = &e->tab[h];

		if (s->id == UINT32_MAX || s->id >> 24 == DETECT_FAM_LINK)
			continue;
		if (s->id >> 24 == DETECT_FAM_DSTPFX && idle(e, s, bin_s)) {
			retire_later(e, s->id);
			continue;
		}
		update_series(e, s, end, bin_s, gate, parent);
	}
	/* after the pass: erasing moves entries */
	for (unsigned i = 0; i < e->n_retire; i++) {
		struct eseries *s = find(e, e->retire[i], 0);

		if (s) {
			for (int m = 0; m < DETECT_METRICS; m++)
				if (s->s[m].episode > e->hh_episodes)
					e->hh_episodes = s->s[m].episode;
			erase(e, s);
		}
		detect_watch_hh_retire(e->p.watch, e->retire[i] & 0xffffffu);
		e->st.retired++;
	}
	/* last: a series admitted now starts with the next bin, its first counted exactly */
	admit_candidates(e);
}

unsigned detect_engine_run(struct detect_engine *e, uint64_t lost_packets, struct detect_alert *out,
                           unsigned max)
{
	uint64_t t;
	unsigned n;

	e->lost += lost_packets;
	while (e->n_held < max && (t = ready_bin(e)) != UINT64_MAX)
		evaluate_bin(e, t);
	n = e->n_held < max ? e->n_held : max;
	if (n > 0) {
		memcpy(out, e->held, n * sizeof(*out));
		memmove(e->held, e->held + n, (e->n_held - n) * sizeof(*out));
		e->n_held -= n;
	}
	return n;
}

void detect_engine_set_params(struct detect_engine *e, const struct detect_params *p)
{
	e->dp = *p;
}

void detect_engine_get_stats(const struct detect_engine *e, struct detect_engine_stats *ret)
{
	*ret = e->st;
	ret->series = e->n_series;
}
