/*
 * Rate anomaly checks: the ratio test, the two-sided CUSUM, and the raise / update / clear
 * state machine around them, for one series at a time.
 *
 * Each closed bin adds its count to the series' open evaluation window. The window closes
 * when it is long enough for the baseline to expect min_window_count events (one bin for a
 * busy series, up to max_window_s for a quiet one); only then are the detectors run, on the
 * window's rate. Times inside a series are whole seconds since the epoch in 32 bits (the
 * event times keep the caller's nanoseconds), and window lengths are kept in milliseconds so
 * that sub-second bins add up exactly.
 */
#include "detect.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wr.h"

_Static_assert(sizeof(struct detect_series) <= 64, "a series fits one cache line");

enum { ST_NORMAL = 0, ST_PENDING, ST_FIRING, ST_FLAPPING };

#define TOLERANCE 2.0 /* standard deviations of Poisson noise allowed at a threshold */

void detect_params_default(struct detect_params *p)
{
	*p = (struct detect_params){
	    .baseline_half_life_s = 600,
	    .warmup_s = 600,
	    .gap_s = 300,
	    .min_window_count = 200,
	    .max_window_s = 60,
	    .sig_z = 5,
	    .noise_z = 3,
	    .drop_warning = 0.5,
	    .drop_critical = 0.1,
	    .surge_warning = 3,
	    .surge_critical = 10,
	    .surge_floor = 10,
	    .cusum_k = 0.5,
	    .cusum_h = 5,
	    .level_shift_min = 0.2,
	    .raise_critical_s = 3,
	    .raise_warning_s = 15,
	    .raise_surge_s = 10,
	    .clear_low = 0.8,
	    .clear_high = 1.25,
	    .clear_drop_s = 30,
	    .clear_surge_s = 60,
	    .update_s = 60,
	    .rebaseline_s = 3600,
	    .flap_raises = 5,
	    .flap_window_s = 600,
	    .degraded_loss_share = 0.001,
	    .dst_prefix_idle_s = 3600,
	};
}

/* Every parameter by name, for the command line and the scoring tools. */
#define KEY(f)                                                                                \
	{                                                                                     \
#f, offsetof(struct detect_params, f), sizeof(((struct detect_params *)0)->f) \
	}
static const struct {
	const char *key;
	size_t off, size;
} param_keys[] = {
    KEY(baseline_half_life_s),
    KEY(warmup_s),
    KEY(gap_s),
    KEY(min_window_count),
    KEY(max_window_s),
    KEY(sig_z),
    KEY(noise_z),
    KEY(drop_warning),
    KEY(drop_critical),
    KEY(surge_warning),
    KEY(surge_critical),
    KEY(surge_floor),
    KEY(cusum_k),
    KEY(cusum_h),
    KEY(level_shift_min),
    KEY(raise_critical_s),
    KEY(raise_warning_s),
    KEY(raise_surge_s),
    KEY(clear_low),
    KEY(clear_high),
    KEY(clear_drop_s),
    KEY(clear_surge_s),
    KEY(update_s),
    KEY(rebaseline_s),
    KEY(flap_raises),
    KEY(flap_window_s),
    KEY(degraded_loss_share),
    KEY(dst_prefix_idle_s),
};
#undef KEY
_Static_assert(WR_ARRAY_SIZE(param_keys) == DETECT_N_PARAMS, "DETECT_N_PARAMS is the table's");

const char *detect_param_name(unsigned i)
{
	return i < WR_ARRAY_SIZE(param_keys) ? param_keys[i].key : NULL;
}

int detect_param_index(const char *key, size_t len)
{
	for (size_t k = 0; k < WR_ARRAY_SIZE(param_keys); k++)
		if (strlen(param_keys[k].key) == len && strncmp(key, param_keys[k].key, len) == 0)
			return (int)k;
	return -1;
}

double detect_param_value(const struct detect_params *p, unsigned i)
{
	const uint8_t *field = (const uint8_t *)p + param_keys[i].off;
	double d;
	unsigned u;

	if (param_keys[i].size == sizeof(double)) {
		memcpy(&d, field, sizeof(d));
		return d;
	}
	memcpy(&u, field, sizeof(u));
	return u;
}

int detect_params_set(struct detect_params *p, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : 0;
	char *end;
	double v;
	int k;

	if (klen == 0) {
		snprintf(err, errlen, "expected KEY=VALUE");
		return -EINVAL;
	}
	k = detect_param_index(kv, klen);
	if (k >= 0) {
		uint8_t *field = (uint8_t *)p + param_keys[k].off;

		errno = 0;
		v = strtod(eq + 1, &end);
		if (end == eq + 1 || *end != '\0' || errno != 0 || !(v == v)) {
			snprintf(err, errlen, "'%s' is not a number", eq + 1);
			return -EINVAL;
		}
		if (param_keys[k].size == sizeof(double)) {
			memcpy(field, &v, sizeof(v));
		} else {
			unsigned u = (unsigned)v;

			if (v < 0 || v > 1000000 || (double)u != v) {
				snprintf(err, errlen, "'%s' is not a whole number", eq + 1);
				return -EINVAL;
			}
			memcpy(field, &u, sizeof(u));
		}
		return 0;
	}
	snprintf(err, errlen, "unknown key '%.*s'", (int)klen, kv);
	return -EINVAL;
}

int detect_params_check(const struct detect_params *p, const char **ret_key)
{
	const char *bad = NULL;

	if (!(p->baseline_half_life_s > 0))
		bad = "baseline_half_life_s";
	else if (!(p->warmup_s >= 0 && p->warmup_s < 60000))
		bad = "warmup_s";
	else if (!(p->gap_s > 0))
		bad = "gap_s";
	else if (!(p->min_window_count >= 0))
		bad = "min_window_count";
	else if (!(p->max_window_s > 0 && p->max_window_s <= 3600 && p->max_window_s < p->gap_s))
		bad = "max_window_s";
	else if (!(p->sig_z >= 0))
		bad = "sig_z";
	else if (!(p->noise_z >= 0))
		bad = "noise_z";
	else if (!(p->drop_critical > 0 && p->drop_critical < p->drop_warning &&
	           p->drop_warning < 1))
		bad = !(p->drop_warning < 1) ? "drop_warning" : "drop_critical";
	else if (!(p->surge_warning > 1 && p->surge_critical > p->surge_warning))
		bad = !(p->surge_warning > 1) ? "surge_warning" : "surge_critical";
	else if (!(p->surge_floor >= 0))
		bad = "surge_floor";
	else if (!(p->cusum_k >= 0))
		bad = "cusum_k";
	else if (!(p->cusum_h > 0))
		bad = "cusum_h";
	else if (!(p->level_shift_min > 0 && p->level_shift_min < 1))
		bad = "level_shift_min";
	else if (!(p->raise_critical_s >= 0 && p->raise_critical_s < 60000))
		bad = "raise_critical_s";
	else if (!(p->raise_warning_s >= 0 && p->raise_warning_s < 60000))
		bad = "raise_warning_s";
	else if (!(p->raise_surge_s >= 0 && p->raise_surge_s < 60000))
		bad = "raise_surge_s";
	else if (!(p->clear_low > p->drop_warning && p->clear_low <= 1))
		bad = "clear_low";
	else if (!(p->clear_high >= 1 && p->clear_high < p->surge_warning))
		bad = "clear_high";
	else if (!(p->clear_drop_s >= 0 && p->clear_drop_s < 60000))
		bad = "clear_drop_s";
	else if (!(p->clear_surge_s >= 0 && p->clear_surge_s < 60000))
		bad = "clear_surge_s";
	else if (!(p->update_s > 0 && p->update_s < 60000))
		bad = "update_s";
	else if (!(p->rebaseline_s > 0 && p->rebaseline_s < 60000))
		bad = "rebaseline_s";
	else if (!(p->flap_raises >= 1 && p->flap_raises < 255))
		bad = "flap_raises";
	else if (!(p->flap_window_s > 0 && p->flap_window_s < 60000))
		bad = "flap_window_s";
	if (bad == NULL && !(p->degraded_loss_share >= 0 && p->degraded_loss_share < 1))
		bad = "degraded_loss_share";
	if (bad == NULL && !(p->dst_prefix_idle_s >= 1 && p->dst_prefix_idle_s <= 86400 * 30))
		bad = "dst_prefix_idle_s";
	if (ret_key)
		*ret_key = bad;
	return bad ? -EINVAL : 0;
}

/* ---------------------------------------------------------------------------------------- */

/* What one evaluation window says. */
struct verdict {
	int kind;     /* 0: none, else enum detect_kind */
	int critical; /* the critical threshold is crossed */
	int in_band;  /* the ratio is in the clear band */
	double rate, ratio, window_s;
};

static int poisson_significant(const struct detect_params *p, double rate, double base, double w)
{
	return fabs(rate - base) * w >= p->sig_z * sqrt(base * w);
}

/* The weight of a new window in the baseline: the EWMA's, or, while the series is young, the
 * running mean's (a baseline begun on one noisy second must not take a half-life to heal). */
static double learn_weight(const struct detect_series *s, const struct detect_params *p, double w)
{
	double a = 1.0 - exp2(-w / p->baseline_half_life_s);
	double mean = w / ((double)s->hist_s + w);

	return mean > a ? mean : a;
}

/* Updates the log-rate statistics and the CUSUM sums; returns 1 when a sum crosses h. */
static int cusum_step(struct detect_series *s, const struct detect_params *p, double rate, double w,
                      int learn)
{
	double x = log(rate + 0.5 / w);
	/* spread: what the series shows, but never below Poisson noise on the log scale */
	double poisson_var = 1.0 / (s->base * w + 1.0);
	double var = s->lvar > poisson_var ? s->lvar : poisson_var;
	double z = (x - s->lmean) / sqrt(var);

	s->cpos = (float)fmax(0.0, s->cpos + z - p->cusum_k);
	s->cneg = (float)fmax(0.0, s->cneg - z - p->cusum_k);
	if (learn) {
		double a = learn_weight(s, p, w);
		double d = x - s->lmean;

		/* clamp the input as the baseline does: a shift must not teach itself */
		if (s->hist_s >= p->warmup_s && d > M_LN2)
			d = M_LN2;
		else if (s->hist_s >= p->warmup_s && d < -M_LN2)
			d = -M_LN2;
		s->lmean += (float)(a * d);
		s->lvar = (float)((1.0 - a) * (s->lvar + a * d * d));
	}
	return s->cpos > p->cusum_h || s->cneg > p->cusum_h;
}

static struct verdict judge(struct detect_series *s, const struct detect_params *p, double rate,
                            double w, int learn)
{
	struct verdict v = {0};
	double base = s->base;
	double r = base > 0 ? rate / base : (rate > 0 ? INFINITY : 1.0);
	/* significant twice over: against Poisson noise, and against the spread the series has
	 * shown (real traffic is burstier than Poisson; measured before this window is learnt) */
	double spread = sqrt(s->lvar);
	double lr = log((rate + 0.5 / w) / (base + 0.5 / w));
	int sig = poisson_significant(p, rate, base, w) && fabs(lr) >= p->noise_z * spread;
	int shift = cusum_step(s, p, rate, w, learn);

	v.rate = rate;
	v.ratio = r;
	v.window_s = w;
	/* The thresholds are levels of the true rate: a rate sitting at a threshold shows on
	 * either side of it half of the time, so the observed ratio is given TOLERANCE standard
	 * deviations of Poisson noise (it is already significant against the baseline). */
	double tol = base > 0 ? TOLERANCE * sqrt(rate * w > 1 ? rate * w : 1) / (base * w) : 0;

	v.in_band = r >= p->clear_low && r <= p->clear_high;
	if (sig && r < p->drop_warning + tol) {
		v.kind = DETECT_RATE_DROP;
		v.critical = r < p->drop_critical + tol;
	} else if (sig && r > p->surge_warning - tol && rate >= p->surge_floor) {
		v.kind = DETECT_RATE_SURGE;
		v.critical = r > p->surge_critical - tol;
	} else if (shift && sig && fabs(r - 1.0) >= p->level_shift_min) {
		v.kind = DETECT_LEVEL_SHIFT;
	}
	return v;
}

static void learn_baseline(struct detect_series *s, const struct detect_params *p, double rate,
                           double w)
{
	double a = learn_weight(s, p, w);
	double x = rate;

	/* once warm, inputs are clamped so that an anomaly cannot teach itself */
	if (s->hist_s >= p->warmup_s) {
		if (x < 0.5 * s->base)
			x = 0.5 * s->base;
		else if (x > 2.0 * s->base)
			x = 2.0 * s->base;
	}
	s->base = (float)(s->base + a * (x - s->base));
}

/* Score 0..100: how far past its raise threshold the ratio is, on a log scale (a ratio of 0
 * or a tenfold overshoot is 100; a level shift scores 50 plus 50 per decade of change;
 * flapping, which has no magnitude, 50). */
static double score_of(const struct detect_params *p, int kind, double ratio)
{
	double t, x;

	switch (kind) {
	case DETECT_RATE_DROP:
		t = p->drop_warning;
		x = ratio <= 0 ? 1.0 : log(t / ratio) / log(10.0 * t / p->drop_critical);
		break;
	case DETECT_RATE_SURGE:
		t = p->surge_warning;
		x = log(ratio / t) / log(10.0 * p->surge_critical / t);
		break;
	case DETECT_FLAPPING:
		x = 0; /* a count of alerts past its limit: no magnitude of its own */
		break;
	default: /* level shifts: a tenfold change either way is 100 */
		x = ratio <= 0 ? 1.0 : fabs(log10(ratio));
		break;
	}
	x = 50.0 + 50.0 * x;
	return x < 0 ? 0 : x > 100 ? 100 : x;
}

static uint64_t s_to_ns(uint32_t s)
{
	return (uint64_t)s * WR_NS_PER_S;
}

enum { HOLD_CRIT = 1, HOLD_MARK = 2 };

/* 16-bit time stamps: what they are, how old, and when (in full seconds). */
static uint16_t stamp(uint32_t t)
{
	return (uint16_t)t;
}

static uint32_t age(uint32_t now, uint16_t st)
{
	return (uint16_t)(stamp(now) - st);
}

static uint32_t when(uint32_t now, uint16_t st)
{
	return now - age(now, st);
}

static int emit(struct detect_series *s, const struct detect_params *p, struct detect_event *ev,
                int type, uint32_t now, uint64_t t_ns, const struct verdict *v)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint8_t)type;
	ev->kind = s->kind;
	ev->severity = s->severity;
	ev->detector = s->detector;
	ev->episode = s->episode;
	ev->seq = s->seq++;
	ev->baseline = s->base;
	ev->observed = v ? v->rate : 0;
	ev->ratio = v ? v->ratio : 0;
	ev->window_s = v ? v->window_s : 0;
	ev->score = v ? score_of(p, s->kind, v->ratio) : 0;
	ev->started_at_ns = s_to_ns(when(now, s->since));
	ev->detected_at_ns = type == DETECT_RAISE ? t_ns : s_to_ns(when(now, s->detected));
	return 1;
}

static double raise_hold(const struct detect_params *p, int kind, int critical)
{
	if (kind == DETECT_RATE_SURGE)
		return p->raise_surge_s;
	return critical ? p->raise_critical_s : p->raise_warning_s;
}

static double clear_hold(const struct detect_params *p, int kind)
{
	return kind == DETECT_RATE_DROP ? p->clear_drop_s : p->clear_surge_s;
}

static int raise_alert(struct detect_series *s, const struct detect_params *p, uint32_t now,
                       uint64_t t_ns, int kind, int critical, const struct verdict *v,
                       struct detect_event *ev)
{
	/* flapping: too many raises in the window become one alert of their own */
	if (s->flaps == 0 || age(now, s->flap) > p->flap_window_s) {
		s->flap = stamp(now);
		s->flaps = 0;
	}
	s->flaps++;
	s->episode++;
	s->seq = 0;
	s->detected = stamp(now);
	s->upd = stamp(now);
	s->flags &= (uint8_t)~HOLD_MARK;
	if (s->flaps > p->flap_raises) {
		s->state = ST_FLAPPING;
		s->kind = DETECT_FLAPPING;
		s->severity = DETECT_WARNING;
		s->detector = DETECT_BY_FLAPPING;
		s->since = s->flap;
		s->mark = stamp(now); /* quiet since */
		return emit(s, p, ev, DETECT_RAISE, now, t_ns, v);
	}
	s->state = ST_FIRING;
	s->kind = (uint8_t)kind;
	s->severity = critical ? DETECT_CRITICAL : DETECT_WARNING;
	s->detector = kind == DETECT_LEVEL_SHIFT ? DETECT_BY_CUSUM : DETECT_BY_RATIO;
	return emit(s, p, ev, DETECT_RAISE, now, t_ns, v);
}

static int clear_alert(struct detect_series *s, const struct detect_params *p, uint32_t now,
                       uint64_t t_ns, uint64_t cleared_ns, int reason, const struct verdict *v,
                       struct detect_event *ev)
{
	emit(s, p, ev, DETECT_CLEAR, now, t_ns, v);
	ev->reason = (uint8_t)reason;
	ev->cleared_at_ns = cleared_ns;
	s->state = ST_NORMAL;
	s->flags = 0;
	s->cpos = s->cneg = 0;
	return 1;
}

static void begin_pending(struct detect_series *s, uint32_t now, double w, const struct verdict *v)
{
	uint16_t began = stamp(now - (uint32_t)w); /* the window that showed it began then */

	s->state = ST_PENDING;
	s->kind = (uint8_t)v->kind;
	s->since = began;
	s->crit = began;
	s->flags = v->critical ? HOLD_CRIT : 0;
}

/* After an alert that lasted rebaseline_s, the current rate is the new normal. A rate of
 * (almost) nothing cannot be a baseline (the clamp to [B/2, 2B] would hold it at zero for
 * good): the series then learns again from scratch, as a new one. */
static void rebaseline(struct detect_series *s, double rate, double w)
{
	s->cpos = s->cneg = 0;
	if (rate * w < 1.0) {
		s->base = 0;
		s->lmean = s->lvar = 0;
		s->hist_s = 0;
		return;
	}
	s->base = (float)rate;
	s->lmean = (float)log(rate + 0.5 / w);
}

/* One evaluation window of w seconds closed at `now`. */
static int evaluate(struct detect_series *s, const struct detect_params *p, uint32_t now,
                    uint64_t t_ns, double rate, double w, int suppress_drops,
                    struct detect_event *ev)
{
	int warm = s->hist_s >= p->warmup_s;
	int normal = s->state == ST_NORMAL || s->state == ST_PENDING;
	struct verdict v = judge(s, p, rate, w, normal && !suppress_drops);

	if (suppress_drops && v.kind == DETECT_RATE_DROP)
		v.kind = 0;
	if (v.kind == DETECT_LEVEL_SHIFT && s->state == ST_PENDING && s->kind != DETECT_LEVEL_SHIFT)
		v.kind = s->kind; /* a ratio condition in progress keeps its kind */

	switch (s->state) {
	case ST_NORMAL:
		if (!warm || v.kind == 0) {
			if (!suppress_drops)
				learn_baseline(s, p, rate, w);
			if (s->hist_s < UINT16_MAX - w)
				s->hist_s = (uint16_t)(s->hist_s + w);
			return 0;
		}
		begin_pending(s, now, w, &v);
		break;
	case ST_PENDING:
		if (v.kind != s->kind) {
			/* the condition is gone or changed: learn nothing from the pending stretch
			 */
			s->state = ST_NORMAL;
			s->flags = 0;
			if (v.kind == 0)
				return 0;
			begin_pending(s, now, w, &v);
		} else if (!v.critical) {
			s->flags &= (uint8_t)~HOLD_CRIT;
		} else if (!(s->flags & HOLD_CRIT)) {
			s->flags |= HOLD_CRIT;
			s->crit = stamp(now - (uint32_t)w);
		}
		break;
	case ST_FIRING:
		if (age(now, s->detected) >= p->rebaseline_s) {
			clear_alert(s, p, now, t_ns, t_ns, DETECT_REASON_REBASELINED, &v, ev);
			rebaseline(s, rate, w);
			return 1;
		}
		if (v.in_band) {
			if (!(s->flags & HOLD_MARK)) {
				s->flags |= HOLD_MARK;
				s->mark = stamp(now - (uint32_t)w);
			}
			if (age(now, s->mark) >= clear_hold(p, s->kind))
				return clear_alert(s, p, now, t_ns, s_to_ns(when(now, s->mark)),
				                   DETECT_REASON_RECOVERED, &v, ev);
		} else {
			s->flags &= (uint8_t)~HOLD_MARK;
		}
		/* escalation: the same kind, now critical for the critical hold */
		if (v.kind == s->kind && v.critical && s->severity != DETECT_CRITICAL) {
			if (!(s->flags & HOLD_CRIT)) {
				s->flags |= HOLD_CRIT;
				s->crit = stamp(now - (uint32_t)w);
			}
			if (age(now, s->crit) > raise_hold(p, v.kind, 1)) {
				s->severity = DETECT_CRITICAL;
				s->upd = stamp(now);
				emit(s, p, ev, DETECT_UPDATE, now, t_ns, &v);
				ev->escalated = 1;
				return 1;
			}
		} else if (!v.critical) {
			s->flags &= (uint8_t)~HOLD_CRIT;
		}
		/* a level shift that turns out to be a drop or a surge takes that kind */
		if (s->kind == DETECT_LEVEL_SHIFT &&
		    (v.kind == DETECT_RATE_DROP || v.kind == DETECT_RATE_SURGE)) {
			s->kind = (uint8_t)v.kind;
			s->detector = DETECT_BY_RATIO;
			s->severity = v.critical ? DETECT_CRITICAL : DETECT_WARNING;
			s->upd = stamp(now);
			emit(s, p, ev, DETECT_UPDATE, now, t_ns, &v);
			ev->escalated = 1;
			return 1;
		}
		if (age(now, s->upd) >= p->update_s) {
			s->upd = stamp(now);
			return emit(s, p, ev, DETECT_UPDATE, now, t_ns, &v);
		}
		return 0;
	case ST_FLAPPING:
		if (v.kind != 0) {
			s->mark = stamp(now); /* not quiet */
			s->flap = stamp(now);
		} else if (!suppress_drops) {
			learn_baseline(s, p, rate, w);
		}
		if (age(now, s->mark) >= p->flap_window_s) {
			s->flaps = 0;
			return clear_alert(s, p, now, t_ns, s_to_ns(when(now, s->mark)),
			                   DETECT_REASON_STABLE, &v, ev);
		}
		/* a condition that never settles: the same updates and rebaseline as any alert */
		if (age(now, s->detected) >= p->rebaseline_s) {
			s->flaps = 0;
			clear_alert(s, p, now, t_ns, t_ns, DETECT_REASON_REBASELINED, &v, ev);
			rebaseline(s, rate, w);
			return 1;
		}
		if (age(now, s->upd) >= p->update_s) {
			s->upd = stamp(now);
			return emit(s, p, ev, DETECT_UPDATE, now, t_ns, &v);
		}
		return 0;
	}
	/* pending: raise once the condition has held long enough */
	if ((s->flags & HOLD_CRIT) && age(now, s->crit) > raise_hold(p, v.kind, 1))
		return raise_alert(s, p, now, t_ns, v.kind, 1, &v, ev);
	if (age(now, s->since) > raise_hold(p, v.kind, 0))
		return raise_alert(s, p, now, t_ns, v.kind, 0, &v, ev);
	return 0;
}

int detect_series_update(struct detect_series *s, const struct detect_params *p, uint64_t t_ns,
                         double bin_s, double count, int suppress_drops,
                         struct detect_event *ret_ev)
{
	uint32_t now = (uint32_t)(t_ns / WR_NS_PER_S);
	int out = 0;
	double need, w;

	if (!(bin_s > 0) || !(count >= 0))
		return 0;
	if (s->last_s != 0 && now > s->last_s && now - s->last_s > p->gap_s) {
		/* a long silence: start again, and clear what was firing */
		uint32_t episode = s->episode;

		/* the stamps are read against the last bin before the gap, not against now */
		if (s->state == ST_FIRING || s->state == ST_FLAPPING)
			out = clear_alert(s, p, s->last_s, t_ns, s_to_ns(s->last_s),
			                  DETECT_REASON_RESET, NULL, ret_ev);
		memset(s, 0, sizeof(*s));
		s->episode = episode;
	}
	if (s->last_s == 0) {
		/* a series' first bin (and the first after a gap) began with its first packet,
		 * wherever in the bin that fell: it is not a sample of the rate. Taken as one, a
		 * few packets in it seed the baseline so low that the climb to the real rate
		 * teaches a spread wide enough to hide the next drop for minutes. */
		s->last_s = now;
		return out;
	}
	s->last_s = now;
	s->acc += (float)count;
	s->acc_ms += (uint32_t)lround(bin_s * 1000.0);
	w = s->acc_ms / 1000.0;

	if (s->hist_s == 0) {
		/* the first window (a second, or enough counts): the baseline starts from it */
		if (w < 1.0 && s->acc < p->min_window_count)
			return 0;
		s->base = (float)(s->acc / w);
		s->lmean = (float)log(s->base + 0.5 / w);
		s->hist_s = (uint16_t)(w < 1.0 ? 1 : w);
		s->acc = 0;
		s->acc_ms = 0;
		return 0; /* (a gap's clear was returned with its first bin, above) */
	}
	/* the window is closed once the baseline expects enough counts in it */
	need = s->base > 0 ? p->min_window_count / s->base : p->max_window_s;
	if (need > p->max_window_s)
		need = p->max_window_s;
	if (need < 1.0)
		need = 1.0; /* the state machine keeps whole seconds */
	if (w + 1e-9 < need)
		return 0;
	{
		double rate = s->acc / w;

		s->acc = 0;
		s->acc_ms = 0;
		return evaluate(s, p, now, t_ns, rate, w, suppress_drops, ret_ev);
	}
}

int detect_series_firing(const struct detect_series *s)
{
	return s->state == ST_FIRING || s->state == ST_FLAPPING;
}

/* ---------------------------------------------------------------------------------------- */

/* A probe_degraded event: lost of seen packets. */
static void health_event(struct detect_health *h, struct detect_event *ev, int type, double lost,
                         double seen)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint8_t)type;
	ev->kind = DETECT_PROBE_DEGRADED;
	ev->severity = DETECT_CRITICAL;
	ev->detector = DETECT_BY_HEALTH;
	ev->episode = h->episode;
	ev->seq = h->seq++;
	ev->observed = lost;
	ev->baseline = seen;
	ev->ratio = seen > 0 ? lost / seen : 0;
}

int detect_health_update(struct detect_health *h, const struct detect_params *p, uint64_t t_ns,
                         double received, double lost, struct detect_event *ret_ev)
{
	uint32_t now = (uint32_t)(t_ns / WR_NS_PER_S);

	if (lost > 0 && lost > p->degraded_loss_share * (received + lost)) {
		h->last_lost_s = now;
		if (!h->firing) {
			h->firing = 1;
			h->episode++;
			h->seq = 0;
			h->since_s = now;
			h->lost = h->seen = 0;
		}
		h->lost += lost;
		h->seen += received + lost;
		if (h->seq == 0) {
			health_event(h, ret_ev, DETECT_RAISE, lost, received + lost);
			ret_ev->window_s = 1;
			ret_ev->score = 100;
			ret_ev->started_at_ns = t_ns;
			ret_ev->detected_at_ns = t_ns;
			return 1;
		}
		return 0;
	}
	if (h->firing) {
		h->lost += lost;
		h->seen += received + lost;
		if (now - h->last_lost_s >= p->clear_drop_s) {
			h->firing = 0;
			health_event(h, ret_ev, DETECT_CLEAR, h->lost, h->seen);
			ret_ev->reason = DETECT_REASON_RECOVERED;
			ret_ev->started_at_ns = s_to_ns(h->since_s);
			ret_ev->detected_at_ns = s_to_ns(h->since_s);
			ret_ev->cleared_at_ns = s_to_ns(h->last_lost_s);
			return 1;
		}
	}
	return 0;
}

int detect_health_degraded(const struct detect_health *h)
{
	return h->firing;
}

/* ---------------------------------------------------------------------------------------- */

const char *detect_event_type_name(int type)
{
	static const char *const n[] = {"?", "raise", "update", "clear"};
	return type > 0 && type < (int)WR_ARRAY_SIZE(n) ? n[type] : "?";
}

const char *detect_kind_name(int kind)
{
	static const char *const n[] = {"?",           "rate_drop", "rate_surge",
	                                "level_shift", "flapping",  "probe_degraded"};
	return kind > 0 && kind < (int)WR_ARRAY_SIZE(n) ? n[kind] : "?";
}

const char *detect_severity_name(int severity)
{
	return severity == DETECT_CRITICAL ? "critical" : "warning";
}

const char *detect_detector_name(int detector)
{
	static const char *const n[] = {"?", "ratio", "cusum", "flapping", "capture_health"};
	return detector > 0 && detector < (int)WR_ARRAY_SIZE(n) ? n[detector] : "?";
}

const char *detect_reason_name(int reason)
{
	static const char *const n[] = {"", "recovered", "rebaselined", "reset", "stable"};
	return reason >= 0 && reason < (int)WR_ARRAY_SIZE(n) ? n[reason] : "";
}
