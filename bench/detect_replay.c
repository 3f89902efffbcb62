/*
 * detect_replay: runs one rate series through the detector and prints its events, so that
 * scoring scripts (bench/score_nab.py) judge weir's own detector code.
 *
 * Input on stdin: one sample per line, "EPOCH_SECONDS VALUE", in time order, each the count of
 * the BIN_S seconds ending at that time. Output: one line per event,
 * "EVENT KIND SEVERITY DETECTED_S STARTED_S CLEARED_S RATIO".
 *
 * Usage: detect_replay BIN_S [KEY=VALUE ...]   (KEY: a field of struct detect_params)
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

#define KEY(f)                                                                                \
	{                                                                                     \
#f, offsetof(struct detect_params, f), sizeof(((struct detect_params *)0)->f) \
	}
static const struct {
	const char *key;
	size_t off, size;
} keys[] = {
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
};

int main(int argc, char **argv)
{
	struct detect_params p;
	struct detect_series s;
	struct detect_event ev;
	const char *bad = NULL;
	double bin_s, t, v;

	if (argc < 2 || (bin_s = strtod(argv[1], NULL)) <= 0) {
		fprintf(stderr, "usage: detect_replay BIN_S [KEY=VALUE ...]\n");
		return 2;
	}
	detect_params_default(&p);
	for (int i = 2; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		size_t k;

		for (k = 0; eq && k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strlen(keys[k].key) == (size_t)(eq - argv[i]) &&
			    strncmp(argv[i], keys[k].key, (size_t)(eq - argv[i])) == 0)
				break;
		if (eq == NULL || k == sizeof(keys) / sizeof(keys[0])) {
			fprintf(stderr, "detect_replay: unknown parameter '%s'\n", argv[i]);
			return 2;
		}
		if (keys[k].size == sizeof(double)) {
			double d = strtod(eq + 1, NULL);
			memcpy((char *)&p + keys[k].off, &d, sizeof(d));
		} else {
			unsigned u = (unsigned)strtoul(eq + 1, NULL, 10);
			memcpy((char *)&p + keys[k].off, &u, sizeof(u));
		}
	}
	if (detect_params_check(&p, &bad) < 0) {
		fprintf(stderr, "detect_replay: parameter '%s' out of range\n", bad);
		return 2;
	}
	memset(&s, 0, sizeof(s));
	while (scanf("%lf %lf", &t, &v) == 2) {
		if (detect_series_update(&s, &p, (uint64_t)(t * 1e9), bin_s, v < 0 ? 0 : v, 0, &ev))
			printf("%s %s %s %.0f %.0f %.0f %g\n", detect_event_type_name(ev.type),
			       detect_kind_name(ev.kind), detect_severity_name(ev.severity),
			       ev.detected_at_ns / 1e9, ev.started_at_ns / 1e9,
			       ev.cleared_at_ns / 1e9, ev.ratio);
	}
	return 0;
}
