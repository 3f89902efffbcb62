/*
 * detect_replay: runs one rate series through the detector and prints its events, so that
 * scoring scripts (bench/score_nab.py) judge weir's own detector code.
 *
 * Input on stdin: one sample per line, "EPOCH_SECONDS VALUE", in time order, each the count of
 * the BIN_S seconds ending at that time. Output: one line per event,
 * "EVENT KIND SEVERITY DETECTED_S STARTED_S CLEARED_S RATIO SCORE".
 *
 * Usage: detect_replay BIN_S [KEY=VALUE ...]   (KEY: detect_params_set()'s keys)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

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
		char err[256];

		if (detect_params_set(&p, argv[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "detect_replay: %s: %s\n", argv[i], err);
			return 2;
		}
	}
	if (detect_params_check(&p, &bad) < 0) {
		fprintf(stderr, "detect_replay: parameter '%s' out of range\n", bad);
		return 2;
	}
	memset(&s, 0, sizeof(s));
	while (scanf("%lf %lf", &t, &v) == 2) {
		if (detect_series_update(&s, &p, (uint64_t)(t * 1e9), bin_s, v < 0 ? 0 : v, 0, &ev))
			printf("%s %s %s %.0f %.0f %.0f %g %.1f\n", detect_event_type_name(ev.type),
			       detect_kind_name(ev.kind), detect_severity_name(ev.severity),
			       ev.detected_at_ns / 1e9, ev.started_at_ns / 1e9,
			       ev.cleared_at_ns / 1e9, ev.ratio, ev.score);
	}
	return 0;
}
