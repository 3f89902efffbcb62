/*
 * detect: rate anomaly checks on per-bin counts, as pure logic (samples in, events out, no I/O).
 *
 * A series is one metric (packets, bits or new flows per second) of one aggregate (the link,
 * a prefix, a VLAN, ...). The caller feeds it one count per closed bin, in time order, with the
 * bin's end time; the series answers with at most one event: raise, update or clear of an
 * alert. Time is whatever clock the caller uses (packet time when reading a file, so a replay
 * gives the same events), in nanoseconds since the epoch.
 *
 * Two detectors share the series:
 *  - ratio (D1): short rate S over an evaluation window against a baseline B (an EWMA with a
 *    half-life of baseline_half_life_s, learnt only while the series is normal, inputs clamped
 *    to [B/2, 2B]); r = S/B must cross a threshold (drop < 0.5 warning, < 0.1 critical; surge
 *    > 3 warning, > 10 critical; each with two standard deviations of Poisson noise of
 *    tolerance, so a rate sitting at a threshold is caught) and be significant under Poisson
 *    noise:
 *    |S - B| * W >= sig_z * sqrt(B * W), and against the spread the series has shown:
 *    |ln(S/B)| >= noise_z * its log-rate deviation. The window W is one bin (at least a second), or
 * as many bins as it takes for B * W to reach min_window_count (at most max_window_s), so quiet
 * series are judged on longer windows;
 *  - CUSUM (D2): two-sided, on the log-rate standardised by its learnt spread (k, h); raises
 *    a level_shift warning, never critical, and only for shifts of at least level_shift_min
 *    that are also Poisson-significant.
 *
 * State machine: NORMAL -> PENDING while a condition holds -> FIRING once it has held for
 * longer than the raise hold (critical drop 3 s, warning 15 s, surge 10 s: a 3 s blip raises
 * nothing, a longer outage is raised 4 s in) -> NORMAL after the ratio is back in
 * [clear_low, clear_high] for the clear hold (30 s drops, 60 s surges). While firing the
 * baseline is frozen, an update goes out every update_s and when the severity escalates; after
 * rebaseline_s the alert clears with reason rebaselined and the baseline takes the current rate.
 * More than flap_raises raises in flap_window_s become one flapping alert, which clears once the
 * series has been quiet for flap_window_s. No alert before warmup_s of history; a gap of more
 * than gap_s without a bin resets the series (and clears what was firing).
 *
 * Threading: a series belongs to one thread; the functions keep no global state.
 */
#ifndef DETECT_H
#define DETECT_H

#include <stddef.h>
#include <stdint.h>

/* Parameters, each a config key; detect_params_default() gives the brief's defaults. */
struct detect_params {
	double baseline_half_life_s; /* EWMA half-life of the baseline (600) */
	double warmup_s;             /* history before any alert (600) */
	double gap_s;                /* a longer silence between bins resets the series (300) */
	double min_window_count;     /* evaluation window: at least B * W counts (200) */
	double max_window_s;         /* ... but at most this long (60) */
	double sig_z;                /* Poisson significance, in standard deviations (5) */
	double noise_z;          /* ... and against the log-rate spread the series has shown (3) */
	double drop_warning;     /* r below: drop warning (0.5) */
	double drop_critical;    /* r below: drop critical (0.1) */
	double surge_warning;    /* r above: surge warning (3) */
	double surge_critical;   /* r above: surge critical (10) */
	double surge_floor;      /* a surge needs at least this rate, per second (10) */
	double cusum_k;          /* CUSUM allowance, in standard deviations (0.5) */
	double cusum_h;          /* CUSUM decision threshold (5) */
	double level_shift_min;  /* a level shift must move the rate by this share (0.2) */
	double raise_critical_s; /* hold before raising a critical drop (3) */
	double raise_warning_s;  /* hold before raising a warning (15) */
	double raise_surge_s;    /* hold before raising a surge (10) */
	double clear_low, clear_high; /* ratio band that counts as recovered (0.8, 1.25) */
	double clear_drop_s;          /* hold in the band before clearing a drop (30) */
	double clear_surge_s;         /* ... a surge or level shift (60) */
	double update_s;              /* update period while firing (60) */
	double rebaseline_s;          /* firing longer than this: clear as rebaselined (3600) */
	unsigned flap_raises;         /* more raises than this in flap_window_s: flapping (5) */
	double flap_window_s;         /* (600) */
	double degraded_loss_share;   /* probe_degraded: capture lost more than this share of
	                                 a bin's packets (0.001) */
	double dst_prefix_idle_s;     /* an automatic dst-prefix series with no packet for this
	                                 long and no alert firing is retired, its slot freed
	                                 (3600) */
};

void detect_params_default(struct detect_params *p);

/* Sets one parameter from "KEY=VALUE" (KEY: a field name above). 0, or -EINVAL with the
 * problem (unknown key, not a number) in err. Ranges are detect_params_check()'s. */
int detect_params_set(struct detect_params *p, const char *key_value, char *err, size_t errlen);

#define DETECT_N_PARAMS 28 /* the parameters settable by name */

/* The name of parameter i (0 .. DETECT_N_PARAMS-1), NULL past the last: for hints and
 * documentation. */
const char *detect_param_name(unsigned i);
/* The index of the parameter named by the len bytes at key, or -1. */
int detect_param_index(const char *key, size_t len);
/* The value of parameter i (< DETECT_N_PARAMS). */
double detect_param_value(const struct detect_params *p, unsigned i);

/* Checks every parameter; 0 or -EINVAL with the offending key in *ret_key. */
int detect_params_check(const struct detect_params *p, const char **ret_key);

enum detect_event_type { DETECT_RAISE = 1, DETECT_UPDATE, DETECT_CLEAR };
enum detect_kind {
	DETECT_RATE_DROP = 1,
	DETECT_RATE_SURGE,
	DETECT_LEVEL_SHIFT,
	DETECT_FLAPPING,
	DETECT_PROBE_DEGRADED,
};
enum detect_severity { DETECT_WARNING = 1, DETECT_CRITICAL };
enum detect_detector { DETECT_BY_RATIO = 1, DETECT_BY_CUSUM, DETECT_BY_FLAPPING, DETECT_BY_HEALTH };
enum detect_reason {
	DETECT_REASON_NONE = 0,
	DETECT_REASON_RECOVERED,   /* back in the clear band for the clear hold */
	DETECT_REASON_REBASELINED, /* firing for longer than rebaseline_s */
	DETECT_REASON_RESET,       /* a gap in the series */
	DETECT_REASON_STABLE,      /* flapping: quiet for flap_window_s */
};

/* One alert event. The caller adds who the series is (link, family, key, metric). */
struct detect_event {
	uint8_t type;      /* enum detect_event_type */
	uint8_t kind;      /* enum detect_kind */
	uint8_t severity;  /* enum detect_severity */
	uint8_t detector;  /* enum detect_detector */
	uint8_t reason;    /* enum detect_reason, for clears */
	uint8_t escalated; /* an update that raised the severity */
	uint32_t episode;  /* alert number of this series, from 1: with the series, the alert id */
	uint32_t seq;      /* event number within the alert: raise 0, then 1, 2, ... */
	double baseline;   /* B, per second */
	double observed;   /* S, per second, over window_s */
	double ratio;      /* S / B */
	double window_s;   /* evaluation window */
	double score;      /* 0..100: how far past the raise threshold, on a log scale */
	uint64_t started_at_ns;  /* when the condition began */
	uint64_t detected_at_ns; /* when the alert was raised */
	uint64_t cleared_at_ns;  /* clears: when the condition ended */
};

/* Per-series state: fixed size, zero-initialised means "new". Times other than last_s are
 * 16-bit stamps (seconds modulo 65536): every age the state machine needs is shorter. */
struct detect_series {
	float base;        /* baseline rate B */
	float lmean, lvar; /* log-rate mean and variance (CUSUM standardisation) */
	float cpos, cneg;  /* CUSUM sums */
	float acc;         /* counts in the open evaluation window */
	uint32_t last_s;   /* end of the last bin, s since the epoch */
	uint32_t episode;  /* alerts so far */
	uint32_t acc_ms;   /* length of the open window, ms */
	uint16_t hist_s;   /* history learnt, s (saturating) */
	uint16_t since;    /* pending: when the condition began; firing: when it began */
	uint16_t crit;     /* when the critical condition began (flag HOLD_CRIT) */
	uint16_t mark;     /* firing: entry into the clear band; flapping: quiet since */
	uint16_t upd;      /* firing: last update */
	uint16_t detected; /* firing: when raised */
	uint16_t flap;     /* start of the flapping window */
	uint16_t seq;      /* events in the current alert */
	uint8_t state, kind, severity, detector;
	uint8_t flaps; /* raises in the flapping window */
	uint8_t flags; /* internal */
};

/* Feeds one closed bin: `count` events in the `bin_s` seconds ending at t_ns. Returns 1 and
 * fills *ret_ev when an event comes out, else 0. Bins must come in time order.
 * suppress_drops: the probe itself is losing packets (capture health gate): no drop is raised
 * and the baseline is not learnt, since a capture fault looks like a traffic drop. */
int detect_series_update(struct detect_series *s, const struct detect_params *p, uint64_t t_ns,
                         double bin_s, double count, int suppress_drops,
                         struct detect_event *ret_ev);

/* Whether the series has an alert firing (attached children use it). */
int detect_series_firing(const struct detect_series *s);

/* Capture health: a probe_degraded alert raised when a bin loses more than
 * degraded_loss_share of its packets in capture (NIC missed, ring full, no buffers), cleared
 * after clear_drop_s without such a loss. received: the packets the bin counted. The gate for
 * detect_series_update() is detect_health_degraded(). */
struct detect_health {
	uint32_t since_s, episode, last_lost_s;
	uint16_t seq;
	uint8_t firing, pad;
	double lost, seen; /* since the alert began */
};

int detect_health_update(struct detect_health *h, const struct detect_params *p, uint64_t t_ns,
                         double received, double lost, struct detect_event *ret_ev);
int detect_health_degraded(const struct detect_health *h);

/* Names for messages and logs. */
const char *detect_event_type_name(int type);
const char *detect_kind_name(int kind);
const char *detect_severity_name(int severity);
const char *detect_detector_name(int detector);
const char *detect_reason_name(int reason);

#endif /* DETECT_H */
