/*
 * Unit tests of detect/: each detector and the state machine on synthetic Poisson series
 * with a seeded generator, so every run sees the same numbers; the prefix tables, the
 * workers' counters and the engine that merges their bins.
 */
#include "t.h"
#include "capture.h"
#include "detect.h"
#include "watch.h"
#include "wr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define T0 1700000000ull /* series start, s since the epoch */
#define NS 1000000000ull

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* A run: rate(t) per second for t in [0, n) one-second bins; events collected. */
struct run {
	struct detect_event ev[256];
	unsigned n_ev;
	unsigned first_s[256]; /* bin end (s from T0) of each event */
};

typedef double (*rate_fn)(unsigned t, void *arg);

static void drive(struct detect_series *s, const struct detect_params *p, unsigned from, unsigned n,
                  rate_fn f, void *arg, int gate, struct run *r)
{
	for (unsigned t = from; t < from + n; t++) {
		struct detect_event ev;
		double c = wr_poisson(&rng, f(t, arg));

		if (detect_series_update(s, p, (T0 + t + 1) * NS, 1.0, c, gate, &ev) &&
		    r->n_ev < 256) {
			r->first_s[r->n_ev] = t + 1;
			r->ev[r->n_ev++] = ev;
		}
	}
}

/* a step: base rate, and `level` times it in [a, b) */
struct step {
	double base, level;
	unsigned a, b;
};

static double step_rate(unsigned t, void *arg)
{
	const struct step *s = arg;
	return (t >= s->a && t < s->b) ? s->base * s->level : s->base;
}

/* A step with the default parameters, driven from second 0 for n seconds. */
static void run_step(struct detect_series *s, double base, double level, unsigned a, unsigned b,
                     unsigned n, struct run *r)
{
	struct detect_params p;
	struct step st = {base, level, a, b};

	detect_params_default(&p);
	drive(s, &p, 0, n, step_rate, &st, 0, r);
}

static unsigned count_kind(const struct run *r, int type, int kind)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->n_ev; i++)
		n += r->ev[i].type == type && (kind == 0 || r->ev[i].kind == kind);
	return n;
}

static void test_params(void)
{
	struct detect_params p;
	const char *key = NULL;

	detect_params_default(&p);
	CHECK_EQ(detect_params_check(&p, &key), 0);
	CHECK(key == NULL);
	CHECK(sizeof(struct detect_series) <= 64);
	p.drop_critical = 0.6; /* above the warning */
	CHECK_EQ(detect_params_check(&p, &key), -EINVAL);
	CHECK(key && strcmp(key, "drop_critical") == 0);
	detect_params_default(&p);
	p.clear_low = 0.4; /* below the drop warning: would clear inside a drop */
	CHECK_EQ(detect_params_check(&p, &key), -EINVAL);
	CHECK(key && strcmp(key, "clear_low") == 0);
	detect_params_default(&p);
	p.baseline_half_life_s = 0;
	CHECK_EQ(detect_params_check(&p, &key), -EINVAL);
	CHECK(key && strcmp(key, "baseline_half_life_s") == 0);
	CHECK_STR(detect_kind_name(DETECT_RATE_DROP), "rate_drop");
	CHECK_STR(detect_event_type_name(DETECT_CLEAR), "clear");
	CHECK_STR(detect_reason_name(DETECT_REASON_REBASELINED), "rebaselined");
}

/* 1 kpps falls to zero for 25 s after warm-up: critical drop raised 4 s in, cleared after
 * 30 s back in the band, with the times of the outage. */
static void test_drop_to_zero(void)
{
	struct detect_series s = {0};
	struct run r = {0};

	run_step(&s, 1000, 0.0, 1200, 1225, 1400, &r);
	CHECK_EQ(r.n_ev, 2);
	CHECK_EQ(r.ev[0].type, DETECT_RAISE);
	CHECK_EQ(r.ev[0].kind, DETECT_RATE_DROP);
	CHECK_EQ(r.ev[0].severity, DETECT_CRITICAL);
	CHECK_EQ(r.ev[0].detector, DETECT_BY_RATIO);
	CHECK_EQ(r.ev[0].episode, 1);
	CHECK_EQ(r.ev[0].seq, 0);
	CHECK_EQ(r.ev[0].started_at_ns, (T0 + 1200) * NS);
	CHECK_EQ(r.ev[0].detected_at_ns, (T0 + 1204) * NS); /* held for more than 3 s */
	CHECK(r.ev[0].ratio == 0 && r.ev[0].observed == 0);
	CHECK(fabs(r.ev[0].baseline - 1000) < 20);
	CHECK(r.ev[0].score == 100);
	CHECK_EQ(r.ev[1].type, DETECT_CLEAR);
	CHECK_EQ(r.ev[1].reason, DETECT_REASON_RECOVERED);
	CHECK_EQ(r.ev[1].seq, 1);
	CHECK_EQ(r.ev[1].cleared_at_ns, (T0 + 1225) * NS);
	CHECK_EQ(r.first_s[1], 1255); /* 30 s in the band */
	CHECK_EQ(r.ev[1].started_at_ns, (T0 + 1200) * NS);
	CHECK_EQ(r.ev[1].detected_at_ns, (T0 + 1204) * NS);
}

/* A series born late in a bin: its first bin holds 2 packets of a 400/s series. That bin is
 * not a sample of the rate; taken as one, it seeded the baseline at 2/s and the climb to 400
 * taught a log spread wide enough that the drop to zero raised nothing for the 40 s after. */
static void test_partial_first_bin(void)
{
	struct detect_series s = {0};
	struct detect_params p;
	struct detect_event ev;
	struct step st = {400, 0.0, 21, 61};
	struct run r = {0};

	detect_params_default(&p);
	p.warmup_s = 10;
	p.baseline_half_life_s = 10;
	CHECK_EQ(detect_series_update(&s, &p, (T0 + 1) * NS, 1.0, 2, 0, &ev), 0);
	drive(&s, &p, 1, 60, step_rate, &st, 0, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, DETECT_RATE_DROP), 1);
	CHECK(r.n_ev > 0 && r.ev[0].type == DETECT_RAISE && r.ev[0].severity == DETECT_CRITICAL);
	CHECK_EQ(r.n_ev > 0 ? r.ev[0].started_at_ns : 0, (T0 + 21) * NS);
	CHECK_EQ(r.n_ev > 0 ? r.ev[0].detected_at_ns : 0, (T0 + 25) * NS);
}

/* A 3 s blip to zero raises nothing (the hold is "longer than 3 s"). */
static void test_blip(void)
{
	struct detect_series s = {0};
	struct run r = {0};

	run_step(&s, 1000, 0.0, 1200, 1203, 1300, &r);
	CHECK_EQ(r.n_ev, 0);
}

/* The same drop during warm-up raises nothing. */
static void test_warmup(void)
{
	struct detect_series s = {0};
	struct run r = {0};

	run_step(&s, 1000, 0.0, 300, 360, 700, &r);
	CHECK_EQ(r.n_ev, 0);
}

/* A drop to 40 %: a warning after the 15 s hold; then to 5 %: escalates to critical. */
static void test_half_then_critical(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {2000, 0.4, 1000, 1100};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 1100, step_rate, &st, 0, &r);
	CHECK_EQ(r.n_ev, 2); /* raise at 15 s, update at 75 s */
	CHECK_EQ(r.ev[0].type, DETECT_RAISE);
	CHECK_EQ(r.ev[0].severity, DETECT_WARNING);
	CHECK_EQ(r.first_s[0], 1016);
	CHECK(fabs(r.ev[0].ratio - 0.4) < 0.05);
	CHECK_EQ(r.ev[1].type, DETECT_UPDATE);
	CHECK_EQ(r.first_s[1], 1076);
	CHECK_EQ(r.ev[1].escalated, 0);
	/* now 5 %: critical after the 3 s critical hold, as an escalating update */
	st.level = 0.05;
	st.a = 1100;
	st.b = 1150;
	r.n_ev = 0;
	drive(&s, &p, 1100, 100, step_rate, &st, 0, &r);
	CHECK(r.n_ev >= 2);
	CHECK_EQ(r.ev[0].type, DETECT_UPDATE);
	CHECK_EQ(r.ev[0].escalated, 1);
	CHECK_EQ(r.ev[0].severity, DETECT_CRITICAL);
	CHECK_EQ(r.first_s[0], 1104);
	CHECK_EQ(r.ev[r.n_ev - 1].type, DETECT_CLEAR);
	CHECK_EQ(r.ev[r.n_ev - 1].cleared_at_ns, (T0 + 1150) * NS);
}

static void test_surge(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {500, 5.0, 1000, 1040};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 1200, step_rate, &st, 0, &r);
	CHECK_EQ(r.n_ev, 3); /* raise, the update a minute later, clear */
	CHECK_EQ(r.ev[0].kind, DETECT_RATE_SURGE);
	CHECK_EQ(r.ev[0].severity, DETECT_WARNING);
	CHECK_EQ(r.first_s[0], 1011);
	CHECK_EQ(r.ev[1].type, DETECT_UPDATE);
	CHECK_EQ(r.first_s[1], 1071);
	CHECK_EQ(r.ev[2].type, DETECT_CLEAR);
	CHECK_EQ(r.first_s[2], 1100); /* 60 s in the band after a surge */
	/* x20: critical */
	memset(&s, 0, sizeof(s));
	st.level = 20;
	r.n_ev = 0;
	drive(&s, &p, 0, 1100, step_rate, &st, 0, &r);
	CHECK(r.n_ev >= 1 && r.ev[0].severity == DETECT_CRITICAL &&
	      r.ev[0].kind == DETECT_RATE_SURGE);
	/* below the absolute floor (1 pps x 20 = 20/s is above 10; 0.2 pps x 20 = 4/s is not) */
	memset(&s, 0, sizeof(s));
	st.base = 0.2;
	r.n_ev = 0;
	drive(&s, &p, 0, 1100, step_rate, &st, 0, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, DETECT_RATE_SURGE), 0);
}

/* A 30 % drop stays above the ratio test's warning: the CUSUM reports a level shift. */
static void test_level_shift(void)
{
	struct detect_series s = {0};
	struct run r = {0};

	run_step(&s, 1000, 0.7, 1000, 1300, 1300, &r);
	CHECK(r.n_ev >= 1);
	CHECK_EQ(r.ev[0].kind, DETECT_LEVEL_SHIFT);
	CHECK_EQ(r.ev[0].detector, DETECT_BY_CUSUM);
	CHECK_EQ(r.ev[0].severity, DETECT_WARNING);
	CHECK(r.first_s[0] >= 1015 && r.first_s[0] <= 1060);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, 0), 1);
	/* 50 plus 50 per decade: a 30 % drop is 50 + 50 * log10(1 / 0.7), about 57.7 */
	CHECK(r.ev[0].score > 50 && r.ev[0].score < 62);
}

/* Updates every 60 s while firing; after an hour, clear as rebaselined, and the new level is
 * normal from then on. */
static void test_updates_and_rebaseline(void)
{
	struct detect_series s = {0};
	struct run r = {0};

	run_step(&s, 1000, 0.05, 1000, 100000, 1000 + 3603 + 600, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, 0), 1);
	CHECK_EQ(count_kind(&r, DETECT_UPDATE, 0), 59);
	CHECK_EQ(count_kind(&r, DETECT_CLEAR, 0), 1);
	CHECK_EQ(r.first_s[1], 1004 + 60);
	CHECK_EQ(r.ev[r.n_ev - 1].type, DETECT_CLEAR);
	CHECK_EQ(r.ev[r.n_ev - 1].reason, DETECT_REASON_REBASELINED);
	CHECK_EQ(r.first_s[r.n_ev - 1], 1004 + 3600);
}

/* Repeated outages: the sixth raise inside ten minutes becomes one flapping alert, cleared
 * once the series stayed quiet for ten minutes. */
static double flap_rate(unsigned t, void *arg)
{
	(void)arg;
	if (t >= 1000 && t < 1400 && (t - 1000) % 60 < 10)
		return 0; /* 10 s outages every minute */
	return 1000;
}

static void test_flapping(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct run r = {0};

	detect_params_default(&p);
	p.clear_drop_s = 20;
	drive(&s, &p, 0, 2200, flap_rate, NULL, 0, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, DETECT_RATE_DROP), 5);
	CHECK_EQ(count_kind(&r, DETECT_CLEAR, DETECT_RATE_DROP), 5);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, DETECT_FLAPPING), 1);
	CHECK_EQ(count_kind(&r, DETECT_CLEAR, DETECT_FLAPPING), 1);
	for (unsigned i = 0; i < r.n_ev; i++)
		if (r.ev[i].kind == DETECT_FLAPPING)
			CHECK(r.ev[i].score == 50); /* no magnitude of its own */
	CHECK_EQ(r.ev[r.n_ev - 1].reason, DETECT_REASON_STABLE);
	CHECK_EQ(r.first_s[r.n_ev - 1], 1370 + 600); /* the last outage ended at 1370 */
}

/* Capture health gate on: the drop is not raised, the baseline is not learnt from it. */
static void test_gate(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {1000, 0.0, 1000, 1100};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 1000, step_rate, &st, 0, &r);
	drive(&s, &p, 1000, 100, step_rate, &st, 1, &r);
	CHECK_EQ(r.n_ev, 0);
	CHECK(s.base > 900);
	/* gate off while still down: raised */
	st.b = 1200;
	drive(&s, &p, 1100, 20, step_rate, &st, 0, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, DETECT_RATE_DROP), 1);
}

/* A quiet series (5 pps) is judged on 40 s windows: a drop to zero is still seen, as a
 * critical rate drop within two windows (the first window may straddle the drop and show
 * only a level shift, which the next one turns into the drop). */
static void test_low_rate(void)
{
	struct detect_series s = {0};
	struct run r = {0};

	run_step(&s, 5, 0.0, 2000, 2300, 2400, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, 0), 1);
	CHECK(r.n_ev >= 2);
	{
		unsigned i = 0;

		while (i < r.n_ev &&
		       !(r.ev[i].kind == DETECT_RATE_DROP && r.ev[i].severity == DETECT_CRITICAL))
			i++;
		CHECK(i < r.n_ev && r.first_s[i] <= 2000 + 2 * 40 + 1);
	}
	CHECK_EQ(count_kind(&r, DETECT_CLEAR, 0), 1);
	CHECK_EQ(r.ev[r.n_ev - 1].kind, DETECT_RATE_DROP);
}

/* A gap longer than gap_s resets the series: the firing alert clears with reason reset and
 * warm-up starts again. */
static void test_gap(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {1000, 0.0, 1000, 2000};
	struct run r = {0};
	struct detect_event ev;

	detect_params_default(&p);
	drive(&s, &p, 0, 1010, step_rate, &st, 0, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, 0), 1);
	CHECK(detect_series_firing(&s));
	CHECK_EQ(detect_series_update(&s, &p, (T0 + 1010 + 400) * NS, 1.0, 0, 0, &ev), 1);
	CHECK_EQ(ev.type, DETECT_CLEAR);
	CHECK_EQ(ev.reason, DETECT_REASON_RESET);
	CHECK_EQ(ev.cleared_at_ns, (T0 + 1010) * NS);
	CHECK(!detect_series_firing(&s));
	CHECK_EQ(s.episode, 1); /* the alert numbering goes on */
}

/* A day of steady Poisson traffic at several rates, and one with a diurnal swing: no alert. */
static double diurnal(unsigned t, void *arg)
{
	double peak = *(double *)arg;
	return peak * (0.55 + 0.45 * sin(2 * M_PI * t / 86400.0));
}

static void test_no_false_alerts(void)
{
	static const double rates[] = {2, 50, 1000, 100000};
	struct detect_params p;
	struct run r = {0};

	detect_params_default(&p);
	for (unsigned i = 0; i < 4; i++) {
		struct detect_series s = {0};
		struct step st = {rates[i], 1, 0, 0};

		drive(&s, &p, 0, 86400, step_rate, &st, 0, &r);
	}
	for (unsigned i = 0; i < 2; i++) {
		struct detect_series s = {0};
		double peak = i ? 20000 : 200;

		drive(&s, &p, 0, 86400, diurnal, &peak, 0, &r);
	}
	CHECK_EQ(r.n_ev, 0);
}

static void test_health(void)
{
	struct detect_params p;
	struct detect_health h = {0};
	struct detect_event ev;
	unsigned raises = 0, clears = 0;

	detect_params_default(&p);
	for (unsigned t = 0; t < 200; t++) {
		double lost = (t >= 50 && t < 60) ? 10 : 0;

		if (detect_health_update(&h, &p, (T0 + t) * NS, 1000, lost, &ev)) {
			if (ev.type == DETECT_RAISE) {
				raises++;
				CHECK_EQ(ev.kind, DETECT_PROBE_DEGRADED);
				CHECK_EQ(ev.started_at_ns, (T0 + 50) * NS);
			} else {
				clears++;
				CHECK_EQ(ev.cleared_at_ns, (T0 + 59) * NS);
				CHECK_EQ(t, 89);
				CHECK(fabs(ev.observed - 100) < 1e-9);
			}
		}
		CHECK_EQ(detect_health_degraded(&h), t >= 50 && t < 89);
	}
	CHECK_EQ(raises, 1);
	CHECK_EQ(clears, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* watch: the prefix tables, the counters and the engine                                       */

static char tmpdir[] = "/tmp/weir-detect-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static struct capture_meta pkt(const char *dst, uint8_t proto, uint16_t dport, uint64_t ts_ns)
{
	struct capture_meta m;

	memset(&m, 0, sizeof(m));
	if (strchr(dst, ':')) {
		m.key.ip_version = 6;
		inet_pton(AF_INET6, dst, m.key.dst);
	} else {
		m.key.ip_version = 4;
		inet_pton(AF_INET, dst, m.key.dst);
	}
	m.key.proto = proto;
	m.key.dport = dport;
	m.ts_ns = ts_ns;
	m.l3_octets = 100;
	return m;
}

struct bins {
	struct detect_bin *b[64];
	unsigned n;
};

static void keep_bin(void *arg, struct detect_bin *b)
{
	struct bins *bs = arg;

	if (bs->n < 64)
		bs->b[bs->n++] = b;
	else
		detect_bin_free(b);
}

static const struct detect_cell *cell_of(const struct detect_bin *b, uint32_t id)
{
	for (unsigned i = 0; i < b->n_cells; i++)
		if (b->cells[i].id == id)
			return &b->cells[i];
	return NULL;
}

/* An engine over one link and `workers` workers, 1 s bins. */
static struct detect_engine *new_engine(struct detect_watch *w, const struct detect_params *p,
                                        unsigned workers)
{
	struct detect_engine_params ep;

	memset(&ep, 0, sizeof(ep));
	ep.detect = p;
	ep.watch = w;
	ep.n_workers = workers;
	ep.n_links = 1;
	ep.bin_ns = NS;
	return detect_engine_create(&ep);
}

/* Nested prefixes: the longest match wins, for IPv4 and IPv6; unmatched addresses count
 * nowhere; the names come back as written. */
static void test_prefix_lpm(void)
{
	const char *f = write_file("p.txt", "# nested\n10.0.0.0/8\n10.1.0.0/16\n10.1.2.0/24\n"
	                                    "2001:db8::/32\n2001:db8:1::/48\n0.0.0.0/0\n");
	struct detect_watch *w = detect_watch_create();
	char err[256], spec[300], name[64];
	struct detect_counter *c;
	struct bins bs = {.n = 0};
	static const struct {
		const char *dst;
		const char *want;
	} cases[] = {{"10.1.2.3", "10.1.2.0/24"},
	             {"10.1.3.3", "10.1.0.0/16"},
	             {"10.9.9.9", "10.0.0.0/8"},
	             {"192.0.2.1", "0.0.0.0/0"},
	             {"2001:db8:1::5", "2001:db8:1::/48"},
	             {"2001:db8:2::5", "2001:db8::/32"},
	             {"2001:dead::1", NULL}};

	snprintf(spec, sizeof(spec), "prefixes:%s", f);
	CHECK_EQ(detect_watch_add(w, spec, err, sizeof(err)), 0);
	CHECK(detect_watch_has(w, DETECT_FAM_PREFIX));
	c = detect_counter_create(w, 0, NS);
	/* case i sends i + 1 packets, so each cell tells which case it counted */
	for (unsigned i = 0; i < WR_ARRAY_SIZE(cases); i++)
		for (unsigned k = 0; k <= i; k++) {
			struct capture_meta m = pkt(cases[i].dst, 17, 53, T0 * NS + i);

			detect_counter_add_burst(c, &m, 1, keep_bin, &bs);
		}
	detect_counter_tick(c, 0, 1, keep_bin, &bs);
	CHECK_EQ(bs.n, 2); /* the bin, then the end-of-worker mark */
	CHECK(bs.n == 2 && bs.b[1]->start_ns == UINT64_MAX && bs.b[0]->start_ns == T0 * NS);
	if (bs.n == 2) {
		unsigned matched = 0, want_matched = 0, sent = 0;

		for (unsigned k = 0; k < bs.b[0]->n_cells; k++) {
			const struct detect_cell *x = &bs.b[0]->cells[k];

			if (x->id >> 24 != DETECT_FAM_PREFIX)
				continue;
			detect_watch_key_name(w, x->id, name, sizeof(name));
			matched += (unsigned)x->packets;
			{
				int found = 0;

				/* each case hits a prefix of its own: the one it wants */
				for (unsigned i = 0; i < WR_ARRAY_SIZE(cases); i++)
					if (cases[i].want && strcmp(cases[i].want, name) == 0) {
						found = 1;
						CHECK_EQ(x->packets, i + 1);
						CHECK_EQ(x->bytes, 100 * (i + 1));
					}
				CHECK(found);
			}
		}
		for (unsigned i = 0; i < WR_ARRAY_SIZE(cases); i++) {
			sent += i + 1;
			want_matched += cases[i].want ? i + 1 : 0;
		}
		CHECK_EQ(matched, want_matched); /* 2001:dead::1 is in no prefix */
		CHECK_EQ(cell_of(bs.b[0], detect_series_id(DETECT_FAM_LINK, 0))->packets, sent);
	}
	for (unsigned i = 0; i < bs.n; i++)
		detect_bin_free(bs.b[i]);
	detect_counter_free(c);
	detect_watch_free(w);
}

/* IPv4 longest-prefix match against a brute-force scan: nested random prefixes of lengths
 * 4..32 around a few bases, and destinations drawn near them or anywhere; every packet must
 * count in the prefix the scan picks, or nowhere. (test_prefix_lpm has the /0.) */
static void test_prefix_lpm_random(void)
{
	enum { N_PFX = 400, N_PKT = 20000 };
	static uint32_t addr[N_PFX], hits[N_PFX];
	static uint8_t len[N_PFX];
	static const uint32_t bases[] = {0x0A000000u, 0x0A010200u, 0xC0A80000u, 0xAC100000u};
	uint64_t rng = 0x1234567887654321ull;
	struct detect_watch *w = detect_watch_create();
	char err[256], spec[300], path[256], name[64], want[64];
	struct detect_counter *c;
	struct bins bs = {.n = 0};
	unsigned n = 0, nowhere = 0, counted = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/random-prefixes.txt", tmpdir);
	f = fopen(path, "w");
	while (n < N_PFX) {
		uint32_t a =
		    bases[wr_xorshift64(&rng) % 4] ^ (uint32_t)(wr_xorshift64(&rng) & 0xffffu);
		unsigned l = 4 + (unsigned)(wr_xorshift64(&rng) % 29), dup = 0;

		a &= 0xffffffffu << (32 - l); /* l is 4..32 */
		for (unsigned i = 0; i < n; i++)
			dup |= addr[i] == a && len[i] == l;
		if (dup)
			continue;
		addr[n] = a;
		len[n++] = (uint8_t)l;
		fprintf(f, "%u.%u.%u.%u/%u\n", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, l);
	}
	fclose(f);
	snprintf(spec, sizeof(spec), "prefixes:%s", path);
	CHECK_EQ(detect_watch_add(w, spec, err, sizeof(err)), 0);
	c = detect_counter_create(w, 0, NS);
	for (unsigned k = 0; k < N_PKT; k++) {
		uint32_t d = bases[wr_xorshift64(&rng) % 4] ^
		             (uint32_t)(wr_xorshift64(&rng) & (k % 3 ? 0xffffu : 0xffffffu));

		if (k % 5 == 0)
			d = (uint32_t)wr_xorshift64(&rng);
		char dst[20];
		struct capture_meta m;
		int best = -1;

		for (unsigned i = 0; i < n; i++)
			if (d >> (32 - len[i]) == addr[i] >> (32 - len[i]) &&
			    (best < 0 || len[i] > len[best]))
				best = (int)i;
		if (best < 0)
			nowhere++;
		else
			hits[best]++;
		snprintf(dst, sizeof(dst), "%u.%u.%u.%u", d >> 24, d >> 16 & 255, d >> 8 & 255,
		         d & 255);
		m = pkt(dst, 17, 53, T0 * NS + k);
		detect_counter_add_burst(c, &m, 1, keep_bin, &bs);
	}
	detect_counter_tick(c, 0, 1, keep_bin, &bs);
	CHECK_EQ(bs.n, 2);
	for (unsigned k = 0; bs.n == 2 && k < bs.b[0]->n_cells; k++) {
		const struct detect_cell *x = &bs.b[0]->cells[k];
		int found = 0;

		if (x->id >> 24 != DETECT_FAM_PREFIX)
			continue;
		detect_watch_key_name(w, x->id, name, sizeof(name));
		for (unsigned i = 0; i < n && !found; i++) {
			snprintf(want, sizeof(want), "%u.%u.%u.%u/%u", addr[i] >> 24,
			         addr[i] >> 16 & 255, addr[i] >> 8 & 255, addr[i] & 255, len[i]);
			if (strcmp(want, name) == 0) {
				found = 1;
				CHECK_EQ(x->packets, hits[i]);
				counted += (unsigned)x->packets;
			}
		}
		CHECK(found);
	}
	CHECK_EQ(counted + nowhere, N_PKT);
	CHECK(nowhere > 0 && counted > N_PKT / 2); /* both outcomes exercised */
	for (unsigned i = 0; i < bs.n; i++)
		detect_bin_free(bs.b[i]);
	detect_counter_free(c);
	detect_watch_free(w);
}

/* The packets a counter's bins hold, by link 0, TCP and port 80, summed as the bins come. */
struct sums {
	uint64_t link, tcp, http, bins;
};

static void sum_bin(void *arg, struct detect_bin *b)
{
	struct sums *s = arg;
	const struct detect_cell *x;

	if ((x = cell_of(b, detect_series_id(DETECT_FAM_LINK, 0))) != NULL)
		s->link += x->packets;
	if ((x = cell_of(b, detect_series_id(DETECT_FAM_PROTO, 6))) != NULL)
		s->tcp += x->packets;
	if ((x = cell_of(b, detect_series_id(DETECT_FAM_DPORT, 80))) != NULL)
		s->http += x->packets;
	s->bins++;
	detect_bin_free(b);
}

/* Timestamps at the end of time (a corrupt capture): the open bin's end overflows. The burst
 * still returns, and every packet is counted once, by the link, protocol and port (an ICMP
 * packet's port field is no port). */
static void test_counter_end_of_time(void)
{
	struct detect_watch *w = detect_watch_create();
	struct capture_meta m[4] = {
	    pkt("10.0.0.1", 6, 80, UINT64_MAX - 2), pkt("10.0.0.2", 17, 53, UINT64_MAX - 1),
	    pkt("10.0.0.4", 1, 80, UINT64_MAX - 1), pkt("10.0.0.3", 6, 80, UINT64_MAX)};
	struct sums s = {0};
	struct detect_counter *c;
	char err[256];

	CHECK_EQ(detect_watch_add(w, "proto", err, sizeof(err)), 0);
	CHECK_EQ(detect_watch_add(w, "dport", err, sizeof(err)), 0);
	c = detect_counter_create(w, 0, NS);
	detect_counter_add_burst(c, m, 4, sum_bin, &s);
	detect_counter_tick(c, 0, 1, sum_bin, &s);
	CHECK_EQ(s.link, 4);
	CHECK_EQ(s.tcp, 2);
	CHECK_EQ(s.http, 2);
	CHECK(s.bins > 0);
	detect_counter_free(c);
	detect_watch_free(w);
}

/* Counts that outgrow a packed word within one bin are exact: 600 packets of 2^32 - 1
 * bytes (over 2^41 bytes, where a word holds 2^40; in bursts of 300, more than one pass
 * counts), then 2^24 + 1000 packets (over a word's 2^24). */
static void test_counter_fold(void)
{
	struct detect_watch *w = detect_watch_create();
	const uint32_t ids[4] = {
	    detect_series_id(DETECT_FAM_PROTO, 6), detect_series_id(DETECT_FAM_DPORT, 80),
	    detect_series_id(DETECT_FAM_PREFIX, 0), detect_series_id(DETECT_FAM_VLAN, 7)};
	const uint64_t big = 600, many = (1ull << 24) + 1000;
	static struct capture_meta m[300];
	struct bins bs = {.n = 0};
	struct detect_counter *c;
	char err[256], spec[300];

	snprintf(spec, sizeof(spec), "prefixes:%s", write_file("fold.txt", "10.0.0.0/8\n"));
	CHECK_EQ(detect_watch_add(w, spec, err, sizeof(err)), 0);
	CHECK_EQ(detect_watch_add(w, "proto", err, sizeof(err)), 0);
	CHECK_EQ(detect_watch_add(w, "dport", err, sizeof(err)), 0);
	CHECK_EQ(detect_watch_add(w, "vlan", err, sizeof(err)), 0);
	c = detect_counter_create(w, 0, NS);
	for (unsigned i = 0; i < 300; i++) {
		m[i] = pkt("10.1.2.3", 6, 80, T0 * NS + 1);
		m[i].key.vlan_depth = 1;
		m[i].key.vlan[0] = 7;
		m[i].l3_octets = UINT32_MAX;
	}
	for (uint64_t k = 0; k < big; k += 300)
		detect_counter_add_burst(c, m, 300, keep_bin, &bs);
	for (unsigned i = 0; i < 32; i++)
		m[i].l3_octets = 64;
	for (uint64_t k = 0; k < many; k += 32)
		detect_counter_add_burst(c, m, many - k < 32 ? (unsigned)(many - k) : 32, keep_bin,
		                         &bs);
	detect_counter_tick(c, 0, 1, keep_bin, &bs);
	CHECK(bs.n >= 1);
	for (unsigned f = 0; f < 4 && bs.n >= 1; f++) {
		const struct detect_cell *x = cell_of(bs.b[0], ids[f]);

		CHECK(x != NULL);
		if (x) {
			CHECK_EQ(x->packets, big + many);
			CHECK_EQ(x->bytes, big * UINT32_MAX + many * 64);
		}
	}
	for (unsigned i = 0; i < bs.n; i++)
		detect_bin_free(bs.b[i]);
	detect_counter_free(c);
	detect_watch_free(w);
}

static void test_watch_files(void)
{
	struct detect_watch *w = detect_watch_create();
	char err[256], spec[300];
	const char *f;

	f = write_file("bad.txt", "10.0.0.0/8\n\n10.1.0.0/40\n");
	snprintf(spec, sizeof(spec), "prefixes:%s", f);
	CHECK_EQ(detect_watch_add(w, spec, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bad.txt:3") && strstr(err, "'40'"));
	f = write_file("bad2.txt", "10.0.0.300/8\n");
	snprintf(spec, sizeof(spec), "prefixes:%s", f);
	CHECK_EQ(detect_watch_add(w, spec, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bad2.txt:1") && strstr(err, "10.0.0.300"));
	f = write_file("as.txt", "10.0.0.0\t8\t64500\n10.1.0.0\t16\t64501_64502\n");
	snprintf(spec, sizeof(spec), "asn:%s", f);
	CHECK_EQ(detect_watch_add(w, spec, err, sizeof(err)), 0);
	f = write_file("as2.txt", "10.0.0.0\t8\tAS1\n");
	snprintf(spec, sizeof(spec), "asn:%s", f);
	CHECK_EQ(detect_watch_add(w, spec, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "as2.txt:1") && strstr(err, "AS1"));
	CHECK_EQ(detect_watch_add(w, "prefixes:/nonexistent/x", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/x") != NULL);
	CHECK_EQ(detect_watch_add(w, "proto:x", err, sizeof(err)), -EINVAL);
	CHECK_EQ(detect_watch_add(w, "colour", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "colour") != NULL);
	CHECK_EQ(detect_watch_add(w, "dport", err, sizeof(err)), 0);
	{
		/* the AS of a destination: the longest match, the first AS of a multi-origin */
		struct detect_counter *c = detect_counter_create(w, 0, NS);
		struct bins bs = {.n = 0};
		struct capture_meta m[3] = {pkt("10.1.2.3", 6, 443, T0 * NS),
		                            pkt("10.2.2.3", 6, 443, T0 * NS + 1),
		                            pkt("10.2.2.4", 17, 53, T0 * NS + 2)};
		char name[32];

		detect_counter_add_burst(c, m, 3, keep_bin, &bs);
		detect_counter_tick(c, 0, 1, keep_bin, &bs);
		CHECK_EQ(bs.n, 2);
		if (bs.n == 2) {
			unsigned as_cells = 0;

			for (unsigned k = 0; k < bs.b[0]->n_cells; k++) {
				const struct detect_cell *x = &bs.b[0]->cells[k];

				if (x->id >> 24 != DETECT_FAM_ASN)
					continue;
				as_cells++;
				detect_watch_key_name(w, x->id, name, sizeof(name));
				CHECK((strcmp(name, "AS64501") == 0 && x->packets == 1) ||
				      (strcmp(name, "AS64500") == 0 && x->packets == 2));
			}
			CHECK_EQ(as_cells, 2); /* not satisfied by a bin without AS cells */
			CHECK_EQ(cell_of(bs.b[0], detect_series_id(DETECT_FAM_DPORT, 443))->packets,
			         2);
			CHECK_EQ(cell_of(bs.b[0], detect_series_id(DETECT_FAM_DPORT, 53))->packets,
			         1);
			CHECK(cell_of(bs.b[0], detect_series_id(DETECT_FAM_PROTO, 6)) == NULL);
		}
		for (unsigned i = 0; i < bs.n; i++)
			detect_bin_free(bs.b[i]);
		detect_counter_free(c);
	}
	detect_watch_free(w);
}

/* Two workers: a bin is evaluated only when both have closed it; a series silent in a bin is
 * fed zero (a drop to zero of a prefix only one worker saw); the workers' counts add up. */
static void test_engine_merge(void)
{
	struct detect_watch *w = detect_watch_create();
	struct detect_params p;
	struct detect_engine *e;
	struct detect_counter *c[2];
	struct bins bs[2] = {{.n = 0}, {.n = 0}};
	struct detect_alert out[64];
	struct detect_engine_stats st;
	char err[256];
	unsigned raised = 0, n;

	CHECK_EQ(detect_watch_add(w, "proto", err, sizeof(err)), 0);
	detect_params_default(&p);
	p.warmup_s = 20;
	p.baseline_half_life_s = 20;
	e = new_engine(w, &p, 2);
	c[0] = detect_counter_create(w, 0, NS);
	c[1] = detect_counter_create(w, 1, NS);
	for (unsigned t = 0; t < 60; t++)
		for (unsigned k = 0; k < 500; k++) {
			/* UDP on worker 0 until it stops at 40 s; TCP on worker 1 all along */
			struct capture_meta m1 =
			    pkt("10.0.0.1", 6, 80, (T0 + t) * NS + k * 1000000);

			detect_counter_add_burst(c[1], &m1, 1, keep_bin, &bs[1]);
			if (t < 40) {
				struct capture_meta m0 =
				    pkt("10.0.0.2", 17, 53, (T0 + t) * NS + k * 1000000);

				detect_counter_add_burst(c[0], &m0, 1, keep_bin, &bs[0]);
			}
		}
	/* worker 0 is quiet from 40 s but its clock runs on (a live link's capture clock) */
	detect_counter_tick(c[0], (T0 + 60) * NS, 0, keep_bin, &bs[0]);
	CHECK_EQ(bs[0].n, 60);
	CHECK_EQ(bs[1].n, 59); /* its bin 59 is still open */
	for (unsigned i = 0; i < bs[0].n; i++)
		detect_engine_put(e, bs[0].b[i]);
	/* nothing is evaluated before worker 1's bins are in */
	CHECK_EQ(detect_engine_run(e, 0, out, 64), 0);
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.bins, 0);
	for (unsigned i = 0; i < bs[1].n; i++)
		detect_engine_put(e, bs[1].b[i]);
	while ((n = detect_engine_run(e, 0, out, 64)) > 0)
		for (unsigned i = 0; i < n; i++)
			if (out[i].ev.type == DETECT_RAISE && out[i].family == DETECT_FAM_PROTO &&
			    out[i].id == detect_series_id(DETECT_FAM_PROTO, 17) &&
			    out[i].metric == DETECT_PACKETS) {
				raised++;
				CHECK_EQ(out[i].ev.kind, DETECT_RATE_DROP);
				CHECK_EQ(out[i].ev.started_at_ns, (T0 + 40) * NS);
				/* the link fell to half: a child of its alert, if it fires */
			}
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.bins, 59);
	CHECK_EQ(raised, 1);
	CHECK_EQ(st.series, 3); /* the link, UDP, TCP */
	detect_counter_free(c[0]);
	detect_counter_free(c[1]);
	detect_engine_free(e);
	detect_watch_free(w);
}

/* dst-prefix: a /24 and a /48 busy enough in one bin are admitted; a light one is not; from
 * the next bin on they are counted exactly and named by their prefix. */
static void test_dst_prefix(void)
{
	struct detect_watch *w = detect_watch_create();
	struct detect_params p;
	struct detect_engine *e;
	struct detect_counter *c;
	struct bins bs = {.n = 0};
	struct detect_alert out[64];
	struct detect_engine_stats st;
	char err[256], name[64];
	unsigned seen_v4 = 0, seen_v6 = 0;

	CHECK_EQ(detect_watch_add(w, "dst-prefix:24", err, sizeof(err)), 0);
	CHECK(detect_watch_has(w, DETECT_FAM_DSTPFX));
	CHECK_EQ(detect_watch_add(w, "dst-prefix:16", err, sizeof(err)), -EINVAL);
	detect_params_default(&p);
	e = new_engine(w, &p, 1);
	c = detect_counter_create(w, 0, NS);
	for (unsigned t = 0; t < 3; t++) {
		for (unsigned k = 0; k < 300; k++) {
			struct capture_meta m[3] = {
			    pkt(k & 1 ? "198.51.100.7" : "198.51.100.200", 17, 53,
			        (T0 + t) * NS + k * 1000000),
			    pkt("2001:db8:aa:1::1", 6, 443, (T0 + t) * NS + k * 1000000 + 1),
			    pkt("203.0.113.9", 6, 80, (T0 + t) * NS + k * 1000000 + 2)};

			/* the light /24 gets one packet in ten */
			detect_counter_add_burst(c, m, k % 10 == 0 ? 3 : 2, keep_bin, &bs);
		}
		detect_counter_tick(c, (T0 + t + 1) * NS, 0, keep_bin, &bs);
		for (unsigned i = 0; i < bs.n; i++) {
			for (unsigned k = 0; t > 0 && k < bs.b[i]->n_cells; k++) {
				const struct detect_cell *x = &bs.b[i]->cells[k];

				if (x->id >> 24 != DETECT_FAM_DSTPFX || x->id == DETECT_CANDIDATE)
					continue;
				detect_watch_key_name(w, x->id, name, sizeof(name));
				if (strcmp(name, "198.51.100.0/24") == 0) {
					seen_v4++;
					CHECK_EQ(x->packets, 300); /* exact once admitted */
				} else if (strcmp(name, "2001:db8:aa::/48") == 0) {
					seen_v6++;
					CHECK_EQ(x->packets, 300);
				} else {
					CHECK(!"a light prefix was admitted");
				}
			}
			detect_engine_put(e, bs.b[i]);
		}
		bs.n = 0;
		while (detect_engine_run(e, 0, out, 64) > 0)
			;
	}
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.admitted, 2);
	CHECK_EQ(seen_v4, 2); /* bins 1 and 2 */
	CHECK_EQ(seen_v6, 2);
	detect_counter_free(c);
	detect_engine_free(e);
	detect_watch_free(w);

	/* a worker that closed every bin before the engine admitted anything (a file read faster
	 * than the detector runs): its later candidates still reach the admitted series */
	w = detect_watch_create();
	CHECK_EQ(detect_watch_add(w, "dst-prefix", err, sizeof(err)), 0);
	e = new_engine(w, &p, 1);
	c = detect_counter_create(w, 0, NS);
	bs.n = 0;
	for (unsigned t = 0; t < 3; t++)
		for (unsigned k = 0; k < 300; k++) {
			struct capture_meta m =
			    pkt("198.51.100.7", 17, 53, (T0 + t) * NS + k * 1000000);

			detect_counter_add_burst(c, &m, 1, keep_bin, &bs);
		}
	detect_counter_tick(c, 0, 1, keep_bin, &bs);
	for (unsigned i = 0; i < bs.n; i++)
		detect_engine_put(e, bs.b[i]);
	while (detect_engine_run(e, 0, out, 64) > 0)
		;
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.admitted, 1);
	CHECK_EQ(st.series, 2); /* the link and the admitted /24, fed by bins 1 and 2 */
	detect_counter_free(c);
	detect_engine_free(e);
	detect_watch_free(w);
}

/* After an hour at zero the alert clears as rebaselined; the series then learns again from
 * scratch, and the return of traffic is not a surge against a baseline of zero. */
/* An IPv4 /24's dst-prefix key, as the counters make it. */
static uint64_t v4_key(const char *addr)
{
	struct in_addr a;

	inet_pton(AF_INET, addr, &a);
	return 4ull << 56 | (uint64_t)ntohl(a.s_addr) >> 8;
}

/* One second of dst-prefix traffic, 300 packets to each address given, into the engine. */
static void dst_second(struct detect_counter *c, struct detect_engine *e, unsigned t,
                       const char *const *dsts, unsigned n_dsts)
{
	struct bins bs = {.n = 0};
	struct detect_alert out[64];

	for (unsigned k = 0; k < 300; k++)
		for (unsigned d = 0; d < n_dsts; d++) {
			struct capture_meta m =
			    pkt(dsts[d], 17, 53, (T0 + t) * NS + k * 1000000 + d);

			detect_counter_add_burst(c, &m, 1, keep_bin, &bs);
		}
	detect_counter_tick(c, (T0 + t + 1) * NS, 0, keep_bin, &bs);
	for (unsigned i = 0; i < bs.n; i++)
		detect_engine_put(e, bs.b[i]);
	while (detect_engine_run(e, 0, out, 64) > 0)
		;
}

/* A dst-prefix series that stays quiet for dst_prefix_idle_s is retired and its slot freed;
 * the prefix is admitted again when it comes back; a busy one is kept. A worker's counts of
 * a retired prefix never reach the prefix that takes its slot. */
static void test_dst_prefix_ageing(void)
{
	struct detect_watch *w = detect_watch_create();
	struct detect_params p;
	struct detect_engine *e;
	struct detect_counter *c;
	struct detect_engine_stats st;
	struct bins bs = {.n = 0};
	static const char *const both[] = {"203.0.113.9", "198.51.100.7"};
	char err[256], addr[32];
	uint64_t k1 = v4_key("198.51.100.7"), k2 = 0;
	int s1, s2 = -1;

	CHECK_EQ(detect_watch_add(w, "dst-prefix", err, sizeof(err)), 0);
	detect_params_default(&p);
	p.dst_prefix_idle_s = 5;
	e = new_engine(w, &p, 1);
	c = detect_counter_create(w, 0, NS);
	for (unsigned t = 0; t < 3; t++) /* both busy: admitted after the first second */
		dst_second(c, e, t, both, 2);
	CHECK(detect_watch_hh_slot(w, k1) >= 0);
	for (unsigned t = 3; t < 7; t++) /* 198.51.100.0/24 quiet for 4 bins */
		dst_second(c, e, t, both, 1);
	CHECK(detect_watch_hh_slot(w, k1) >= 0);
	dst_second(c, e, 7, both, 1); /* the fifth */
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.retired, 1);
	CHECK(detect_watch_hh_slot(w, k1) < 0);
	CHECK(detect_watch_hh_slot(w, v4_key("203.0.113.9")) >= 0);
	CHECK_EQ(st.series, 2);           /* the link and 203.0.113.0/24 */
	for (unsigned t = 8; t < 11; t++) /* back: admitted again */
		dst_second(c, e, t, both, 2);
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.admitted, 3);
	CHECK_EQ(st.retired, 1);
	CHECK(detect_watch_hh_slot(w, k1) >= 0);
	detect_counter_free(c);
	detect_engine_free(e);
	detect_watch_free(w);

	/* a slot freed and given to another prefix while a worker has counts of the first one */
	w = detect_watch_create();
	CHECK_EQ(detect_watch_add(w, "dst-prefix", err, sizeof(err)), 0);
	c = detect_counter_create(w, 0, NS);
	s1 = detect_watch_hh_admit(w, k1);
	CHECK(s1 >= 0);
	for (unsigned k = 0; k < 5; k++) {
		struct capture_meta m = pkt("198.51.100.7", 17, 53, T0 * NS + k);

		detect_counter_add_burst(c, &m, 1, keep_bin, &bs);
	}
	detect_watch_hh_retire(w, (uint32_t)s1);
	for (uint32_t a = 0x0a000000u; a < 0x0a400000u && s2 != s1; a += 256) {
		s2 = detect_watch_hh_admit(w, 4ull << 56 | a >> 8);
		if (s2 >= 0 && s2 != s1)
			detect_watch_hh_retire(w, (uint32_t)s2);
		k2 = 4ull << 56 | a >> 8;
		snprintf(addr, sizeof(addr), "%u.%u.%u.1", a >> 24, a >> 16 & 255, a >> 8 & 255);
	}
	CHECK_EQ(s2, s1); /* another /24 took the slot */
	for (unsigned k = 0; k < 3; k++) {
		struct capture_meta m = pkt(addr, 17, 53, T0 * NS + 10 + k);

		detect_counter_add_burst(c, &m, 1, keep_bin, &bs);
	}
	detect_counter_tick(c, 0, 1, keep_bin, &bs);
	CHECK_EQ(bs.n, 2);
	if (bs.n == 2) {
		const struct detect_cell *x =
		    cell_of(bs.b[0], detect_series_id(DETECT_FAM_DSTPFX, (uint32_t)s1));

		CHECK(x != NULL && x->key == k2 && x->packets == 3); /* none of the first's 5 */
	}
	/* the engine takes cells by prefix: a cell of the retired prefix under the slot is
	 * a candidate (too light to admit), not the new prefix's */
	e = new_engine(w, &p, 1);
	if (bs.n == 2) {
		for (unsigned k = 0; k < bs.b[0]->n_cells; k++)
			if (bs.b[0]->cells[k].id >> 24 == DETECT_FAM_DSTPFX)
				bs.b[0]->cells[k].key = k1;
		for (unsigned i = 0; i < bs.n; i++)
			detect_engine_put(e, bs.b[i]);
		bs.n = 0;
		{
			struct detect_alert out[8];

			while (detect_engine_run(e, 0, out, 8) > 0)
				;
		}
		detect_engine_get_stats(e, &st);
		CHECK_EQ(st.series, 1); /* the link only */
	}
	for (unsigned i = 0; i < bs.n; i++)
		detect_bin_free(bs.b[i]);
	detect_counter_free(c);
	detect_engine_free(e);
	detect_watch_free(w);
}

/* A dst-prefix series through outage, rebaseline, retirement, re-admission and a second
 * outage, with the engine run only every 50 s (so that events wait while later bins are
 * evaluated): every event names its prefix when it comes out, the second raise does not
 * reuse the first's episode (alert ids stay unique), and a prefix admitted on one busy bin
 * that never sends again is retired too. */
static void test_dst_prefix_lifecycle(void)
{
	struct detect_watch *w = detect_watch_create();
	struct detect_params p;
	struct detect_engine *e;
	struct detect_counter *c;
	struct detect_engine_stats st;
	struct bins bs = {.n = 0};
	struct detect_alert out[64];
	char err[256], name[64];
	uint32_t episodes[4] = {0};
	unsigned raises = 0, misnamed = 0, n;

	CHECK_EQ(detect_watch_add(w, "dst-prefix", err, sizeof(err)), 0);
	detect_params_default(&p);
	p.warmup_s = 10;
	p.baseline_half_life_s = 10;
	p.rebaseline_s = 20;
	p.dst_prefix_idle_s = 30; /* longer than the raise takes */
	e = new_engine(w, &p, 1);
	c = detect_counter_create(w, 0, NS);
	for (unsigned t = 0; t < 200; t++) {
		int busy = t < 40 || (t >= 100 && t < 140);

		for (unsigned k = 0; k < 300; k++) {
			struct capture_meta m[2] = {
			    pkt("203.0.113.9", 17, 53, (T0 + t) * NS + k * 1000000),
			    pkt(busy ? "198.51.100.7" : "192.0.2.9", 17, 53,
			        (T0 + t) * NS + k * 1000000 + 1)};

			/* 192.0.2.0/24: one busy second (t = 40), then never again */
			detect_counter_add_burst(c, m, busy || t == 40 ? 2 : 1, keep_bin, &bs);
		}
		detect_counter_tick(c, (T0 + t + 1) * NS, 0, keep_bin, &bs);
		if (bs.n < 50 && t + 1 < 200)
			continue;
		for (unsigned i = 0; i < bs.n; i++)
			detect_engine_put(e, bs.b[i]);
		bs.n = 0;
		while ((n = detect_engine_run(e, 0, out, 64)) > 0)
			for (unsigned i = 0; i < n; i++) {
				if (out[i].family != DETECT_FAM_DSTPFX)
					continue;
				/* named by the prefix held with the event: the slot may have
				 * been retired, and even given to another prefix, since */
				CHECK_EQ(detect_hh_key_name(out[i].hh_key, name, sizeof(name)), 0);
				misnamed += strcmp(name, "198.51.100.0/24") != 0;
				if (out[i].ev.type == DETECT_RAISE &&
				    out[i].metric == DETECT_PACKETS && raises < 4)
					episodes[raises++] = out[i].ev.episode;
			}
	}
	detect_engine_get_stats(e, &st);
	CHECK_EQ(misnamed, 0);
	CHECK_EQ(raises, 2);
	CHECK(episodes[1] > episodes[0]);
	CHECK(st.retired >= 2); /* 198.51.100.0/24 once, 192.0.2.0/24 */
	CHECK(detect_watch_hh_slot(w, v4_key("192.0.2.9")) < 0);
	CHECK(detect_watch_hh_slot(w, v4_key("203.0.113.9")) >= 0);
	detect_counter_free(c);
	detect_engine_free(e);
	detect_watch_free(w);
}

static void test_rebaseline_zero(void)
{
	struct detect_series s = {0};
	struct run r = {0};

	run_step(&s, 1000, 0.0, 1000, 1000 + 3700, 1000 + 3700 + 1500, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, DETECT_RATE_DROP), 1);
	CHECK_EQ(count_kind(&r, DETECT_CLEAR, 0), 1);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, DETECT_RATE_SURGE), 0);
	CHECK(s.base > 900 && s.base < 1100); /* learnt again */
}

/* A gap while firing: the clear carries the alert's own times, read before the gap. */
static void test_gap_times(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {1000, 0.0, 1000, 100000};
	struct run r = {0};
	struct detect_event ev;

	detect_params_default(&p);
	drive(&s, &p, 0, 1010, step_rate, &st, 0, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, 0), 1);
	/* 20 hours later: more than 65536 s, the range of the 16-bit stamps */
	CHECK_EQ(detect_series_update(&s, &p, (T0 + 1010 + 72000) * NS, 1.0, 1000, 0, &ev), 1);
	CHECK_EQ(ev.reason, DETECT_REASON_RESET);
	CHECK_EQ(ev.started_at_ns, (T0 + 1000) * NS);
	CHECK_EQ(ev.detected_at_ns, (T0 + 1004) * NS);
	CHECK_EQ(ev.cleared_at_ns, (T0 + 1010) * NS);
}

/* 100 ms bins: the rates are per second, exactly. */
static void test_subsecond_bins(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct detect_event ev;
	int raised = 0;

	detect_params_default(&p);
	for (unsigned t = 0; t < 12000; t++) {
		double c = (t >= 10000 && t < 10300) ? 0 : 100; /* 1000 pps in 100 ms bins */

		if (detect_series_update(&s, &p, T0 * NS + (uint64_t)(t + 1) * 100000000ull, 0.1, c,
		                         0, &ev) &&
		    ev.type == DETECT_RAISE) {
			raised++;
			CHECK(fabs(ev.baseline - 1000) < 1);
			CHECK_EQ(ev.started_at_ns, (T0 + 1000) * NS);
		}
	}
	CHECK_EQ(raised, 1);
}

/* Flapping that never settles ends as rebaselined, with updates meanwhile. */
static double flap_forever(unsigned t, void *arg)
{
	(void)arg;
	if (t >= 1000 && t < 1400 && (t - 1000) % 60 < 10)
		return 0;
	return t >= 1400 ? 400 : 1000; /* then a steady 40 % */
}

static void test_flapping_forever(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct run r = {0};

	detect_params_default(&p);
	p.clear_drop_s = 20;
	drive(&s, &p, 0, 1400 + 4000, flap_forever, NULL, 0, &r);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, DETECT_FLAPPING), 1);
	CHECK(count_kind(&r, DETECT_UPDATE, DETECT_FLAPPING) >= 50);
	CHECK_EQ(count_kind(&r, DETECT_CLEAR, DETECT_FLAPPING), 1);
	CHECK(r.n_ev > 0 && r.ev[r.n_ev - 1].reason == DETECT_REASON_REBASELINED);
}

/* A worker that never sees a packet closes its bins on its clock: the engine goes on. */
static void test_idle_worker(void)
{
	struct detect_watch *w = detect_watch_create();
	struct detect_params p;
	struct detect_engine *e;
	struct detect_counter *c[2];
	struct bins bs = {.n = 0};
	struct detect_alert out[64];
	struct detect_engine_stats st;

	detect_params_default(&p);
	e = new_engine(w, &p, 2);
	c[0] = detect_counter_create(w, 0, NS);
	c[1] = detect_counter_create(w, 1, NS);
	for (unsigned t = 0; t < 30; t++) {
		struct capture_meta m = pkt("10.0.0.1", 6, 80, (T0 + t) * NS + 5);

		detect_counter_add_burst(c[0], &m, 1, keep_bin, &bs);
		detect_counter_tick(c[0], (T0 + t) * NS + 10, 0, keep_bin, &bs);
		detect_counter_tick(c[1], (T0 + t) * NS + 10, 0, keep_bin, &bs); /* no packet */
	}
	for (unsigned i = 0; i < bs.n; i++)
		detect_engine_put(e, bs.b[i]);
	while (detect_engine_run(e, 0, out, 64) > 0)
		;
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.bins, 29);
	CHECK_EQ(st.bins_forced, 0);
	detect_counter_free(c[0]);
	detect_counter_free(c[1]);
	detect_engine_free(e);
	detect_watch_free(w);
}

/* An empty bin of `worker` starting at second t. */
static struct detect_bin *empty_bin(unsigned worker, uint64_t t)
{
	struct detect_bin *b = calloc(1, sizeof(*b));

	CHECK(b != NULL);
	b->start_ns = (T0 + t) * NS;
	b->worker = worker;
	return b;
}

/* A worker's queue full while another worker holds the oldest bin: forcing that bin out
 * leaves the full queue full, so the engine must go on forcing until there is room (a new bin
 * put in a full queue would land on its head, whose bin would be lost and its pointer later
 * read freed). Every bin is evaluated once and none is lost. */
static void test_engine_queue_full(void)
{
	struct detect_watch *w = detect_watch_create();
	struct detect_params p;
	struct detect_engine *e;
	struct detect_alert out[64];
	struct detect_engine_stats st;
	const unsigned max_queued = 4096; /* the engine's MAX_QUEUED */

	detect_params_default(&p);
	e = new_engine(w, &p, 2);
	detect_engine_put(e, empty_bin(1, 0));
	for (unsigned t = 1; t <= max_queued + 1; t++)
		detect_engine_put(e, empty_bin(0, t));
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.bins, 2); /* worker 1's bin 0, then worker 0's bin 1 */
	CHECK_EQ(st.bins_forced, 2);
	{
		struct detect_bin *fin = empty_bin(1, 0);

		fin->start_ns = UINT64_MAX; /* worker 1 is finished: worker 0's bins go through */
		detect_engine_put(e, fin);
	}
	while (detect_engine_run(e, 0, out, 64) > 0)
		;
	detect_engine_get_stats(e, &st);
	CHECK_EQ(st.bins, 2 + max_queued);
	detect_engine_free(e);
	detect_watch_free(w);
}

/* The health gate takes a share: one packet lost in a million is no degradation. */
static void test_health_share(void)
{
	struct detect_params p;
	struct detect_health h = {0};
	struct detect_event ev;
	unsigned events = 0;

	detect_params_default(&p);
	for (unsigned t = 0; t < 100; t++)
		events += (unsigned)detect_health_update(&h, &p, (T0 + t) * NS, 1000000, 1, &ev);
	CHECK_EQ(events, 0);
	CHECK_EQ(detect_health_update(&h, &p, (T0 + 100) * NS, 1000000, 5000, &ev), 1);
	CHECK_EQ(ev.kind, DETECT_PROBE_DEGRADED);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	T_RUN(test_params);
	T_RUN(test_drop_to_zero);
	T_RUN(test_blip);
	T_RUN(test_warmup);
	T_RUN(test_half_then_critical);
	T_RUN(test_surge);
	T_RUN(test_level_shift);
	T_RUN(test_updates_and_rebaseline);
	T_RUN(test_flapping);
	T_RUN(test_gate);
	T_RUN(test_low_rate);
	T_RUN(test_gap);
	T_RUN(test_no_false_alerts);
	T_RUN(test_health);
	T_RUN(test_prefix_lpm);
	T_RUN(test_prefix_lpm_random);
	T_RUN(test_counter_end_of_time);
	T_RUN(test_counter_fold);
	T_RUN(test_watch_files);
	T_RUN(test_engine_merge);
	T_RUN(test_dst_prefix);
	T_RUN(test_dst_prefix_ageing);
	T_RUN(test_dst_prefix_lifecycle);
	T_RUN(test_rebaseline_zero);
	T_RUN(test_gap_times);
	T_RUN(test_subsecond_bins);
	T_RUN(test_flapping_forever);
	T_RUN(test_idle_worker);
	T_RUN(test_engine_queue_full);
	T_RUN(test_health_share);
	T_RUN(test_partial_first_bin);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return t_done();
}
