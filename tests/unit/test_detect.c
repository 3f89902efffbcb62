/*
 * Unit tests of detect/: each detector and the state machine on synthetic Poisson series
 * with a seeded generator, so every run sees the same numbers.
 */
#include "t.h"
#include "detect.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define T0 1700000000ull /* series start, s since the epoch */
#define NS 1000000000ull

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

/* Poisson counts: Knuth's method for small means, a rounded normal for large ones. */
static double poisson(double mean)
{
	if (mean <= 0)
		return 0;
	if (mean < 50) {
		double l = exp(-mean), p = 1.0;
		int k = 0;

		do {
			k++;
			p *= uniform();
		} while (p > l);
		return k - 1;
	}
	double u1 = uniform(), u2 = uniform();
	double z = sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
	double x = floor(mean + sqrt(mean) * z + 0.5);
	return x < 0 ? 0 : x;
}

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
		double c = poisson(f(t, arg));

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
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {1000, 0.0, 1200, 1225};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 1400, step_rate, &st, 0, &r);
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

/* A 3 s blip to zero raises nothing (the hold is "longer than 3 s"). */
static void test_blip(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {1000, 0.0, 1200, 1203};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 1300, step_rate, &st, 0, &r);
	CHECK_EQ(r.n_ev, 0);
}

/* The same drop during warm-up raises nothing. */
static void test_warmup(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {1000, 0.0, 300, 360};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 700, step_rate, &st, 0, &r);
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
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {1000, 0.7, 1000, 1300};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 1300, step_rate, &st, 0, &r);
	CHECK(r.n_ev >= 1);
	CHECK_EQ(r.ev[0].kind, DETECT_LEVEL_SHIFT);
	CHECK_EQ(r.ev[0].detector, DETECT_BY_CUSUM);
	CHECK_EQ(r.ev[0].severity, DETECT_WARNING);
	CHECK(r.first_s[0] >= 1015 && r.first_s[0] <= 1060);
	CHECK_EQ(count_kind(&r, DETECT_RAISE, 0), 1);
}

/* Updates every 60 s while firing; after an hour, clear as rebaselined, and the new level is
 * normal from then on. */
static void test_updates_and_rebaseline(void)
{
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {1000, 0.05, 1000, 100000};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 1000 + 3603 + 600, step_rate, &st, 0, &r);
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
	struct detect_params p;
	struct detect_series s = {0};
	struct step st = {5, 0.0, 2000, 2300};
	struct run r = {0};

	detect_params_default(&p);
	drive(&s, &p, 0, 2400, step_rate, &st, 0, &r);
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

int main(void)
{
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
	return t_done();
}
