/*
 * score_detect: how well the rate detectors find injected anomalies in synthetic series, and
 * how often they cry wolf on clean ones. A scoring program, not a test: it prints figures.
 *
 * Each case is a per-second Poisson series (steady, or with a diurnal swing) at a base rate
 * from 10 pps to 10 Mpps, warmed up for 30 minutes, with one injected anomaly of a class:
 * a drop to 0 %, 10 %, 50 % or 80 % of the rate, a surge x2 .. x20, a ramp down to 10 % over
 * 5 minutes, or a 3 s blip to zero (which should NOT raise). An injected event counts as found
 * when the series raises during the event or within 60 s after it; the delay is raise time
 * minus event start. Every other raise is a false alert; the clean background series (a day
 * each) give the false alerts per 100 series-days.
 *
 * Usage: score_detect [SERIES_PER_CELL [SEED]]   (default 40, 1)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "wr.h"

#define NS    1000000000ull
#define T0    1700000000ull
#define WARM  1800
#define AFTER 60 /* a raise this long after the event still counts as found */

static uint64_t rng = 1;

enum cls { DROP0, DROP10, DROP50, DROP80, SURGE2, SURGE5, SURGE20, RAMP, BLIP, N_CLS };
static const char *const cls_name[] = {"drop to 0%",  "drop to 10%", "drop to 50%",
                                       "drop to 80%", "surge x2",    "surge x5",
                                       "surge x20",   "ramp to 10%", "3 s blip to 0"};
static const double durations[] = {10, 60, 300};

struct cell {
	unsigned events, found, false_alerts, messages;
	double delays[4096];
	unsigned n_delays;
	double clear_delays[4096];
	unsigned n_clear;
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(double *v, unsigned n, double p)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_d);
	return v[(unsigned)fmin(n - 1, floor(p * n))];
}

/* The rate at second t of a case. */
static double rate_at(double base, int diurnal, int c, double start, double dur, unsigned t)
{
	double r = base;
	double level = 1;

	if (diurnal)
		r *= 0.6 + 0.4 * sin(2 * M_PI * (t + 20000.0) / 86400.0);
	if (t < start || t >= start + dur)
		return r;
	switch (c) {
	case DROP0:
		level = 0;
		break;
	case DROP10:
		level = 0.1;
		break;
	case DROP50:
		level = 0.5;
		break;
	case DROP80:
		level = 0.8;
		break;
	case SURGE2:
		level = 2;
		break;
	case SURGE5:
		level = 5;
		break;
	case SURGE20:
		level = 20;
		break;
	case RAMP:
		level = fmax(0.1, 1.0 - 0.9 * (t - start) / 300.0);
		break;
	case BLIP:
		level = 0;
		break;
	}
	return r * level;
}

/* One case: returns through the cell. */
static void run_case(const struct detect_params *p, double base, int diurnal, int c, double dur,
                     struct cell *cell)
{
	struct detect_series s;
	struct detect_event ev;
	double start = WARM + 600 + floor(wr_uniform(&rng) * 600);
	double len = c == BLIP ? 3 : c == RAMP ? 900 : dur;
	unsigned end = (unsigned)(start + len + 600);
	int found = 0;
	double raised_at = -1;

	memset(&s, 0, sizeof(s));
	for (unsigned t = 0; t < end; t++) {
		double n = wr_poisson(&rng, rate_at(base, diurnal, c, start, len, t));

		if (!detect_series_update(&s, p, (T0 + t + 1) * NS, 1.0, n, 0, &ev))
			continue;
		cell->messages++;
		if (ev.type == DETECT_CLEAR && found && raised_at >= 0) {
			double cleared = (double)(ev.cleared_at_ns / NS) - T0;

			if (cell->n_clear < 4096)
				cell->clear_delays[cell->n_clear++] = (t + 1) - cleared;
		}
		if (ev.type != DETECT_RAISE)
			continue;
		if (t + 1 >= start && t + 1 <= start + len + AFTER && !found) {
			found = 1;
			raised_at = t + 1;
			if (cell->n_delays < 4096)
				cell->delays[cell->n_delays++] = (t + 1) - start;
		} else {
			cell->false_alerts++;
		}
	}
	cell->events++;
	if (found)
		cell->found++;
}

int main(int argc, char **argv)
{
	static const double rates[] = {10, 100, 1000, 10000, 100000, 10000000};
	unsigned per = argc > 1 ? (unsigned)atoi(argv[1]) : 40;
	struct detect_params p;
	static struct cell cells[N_CLS][3][6];
	unsigned bg_alerts = 0;
	double bg_days = 0;

	rng = argc > 2 ? strtoull(argv[2], NULL, 10) | 1 : 1;
	detect_params_default(&p);
	for (int c = 0; c < N_CLS; c++)
		for (int d = 0; d < 3; d++) {
			if ((c == BLIP || c == RAMP) && d > 0)
				continue;
			for (int r = 0; r < 6; r++)
				for (unsigned i = 0; i < per; i++)
					run_case(&p, rates[r], i & 1, c, durations[d],
					         &cells[c][d][r]);
		}
	/* clean background: a day per series, steady and diurnal */
	for (int r = 0; r < 6; r++)
		for (unsigned i = 0; i < per / 4 + 1; i++) {
			struct detect_series s;
			struct detect_event ev;

			memset(&s, 0, sizeof(s));
			for (unsigned t = 0; t < 86400; t++) {
				double n = wr_poisson(&rng, rate_at(rates[r], i & 1, -1, 0, 0, t));

				if (detect_series_update(&s, &p, (T0 + t + 1) * NS, 1.0, n, 0,
				                         &ev) &&
				    ev.type == DETECT_RAISE)
					bg_alerts++;
			}
			bg_days += 1;
		}

	printf("detector scoring: %u series per cell, rates 10 pps .. 10 Mpps, half of them "
	       "diurnal\n\n",
	       per);
	printf("%-14s %6s %8s %7s %7s %7s %8s %9s %9s\n", "class", "len s", "rate", "recall",
	       "p50 s", "p95 s", "clear95", "false/ev", "msgs/ev");
	for (int c = 0; c < N_CLS; c++)
		for (int d = 0; d < 3; d++) {
			if ((c == BLIP || c == RAMP) && d > 0)
				continue;
			for (int r = 0; r < 6; r++) {
				struct cell *x = &cells[c][d][r];

				printf("%-14s %6.0f %8.0f %7.3f %7.1f %7.1f %8.1f %9.3f %9.2f\n",
				       cls_name[c],
				       c == BLIP   ? 3
				       : c == RAMP ? 900
				                   : durations[d],
				       rates[r], (double)x->found / x->events,
				       pct(x->delays, x->n_delays, 0.5),
				       pct(x->delays, x->n_delays, 0.95),
				       pct(x->clear_delays, x->n_clear, 0.95),
				       (double)x->false_alerts / x->events,
				       x->found ? (double)x->messages / x->found : 0.0);
			}
		}
	printf("\nclean background: %u raises in %.0f series-days = %.2f per 100 series-days\n",
	       bg_alerts, bg_days, 100.0 * bg_alerts / bg_days);
	{
		/* event level over every class that should raise (not the blips, not the 80 %
		 * drops and x2 surges the thresholds leave alone by design) */
		unsigned tp = 0, fp = bg_alerts, fn = 0;

		for (int c = 0; c < N_CLS; c++)
			for (int d = 0; d < 3; d++)
				for (int r = 0; r < 6; r++) {
					struct cell *x = &cells[c][d][r];

					fp += x->false_alerts;
					if (c == BLIP) {
						fp += x->found;
						continue;
					}
					if (c == DROP80 || c == SURGE2)
						continue;
					tp += x->found;
					fn += x->events - x->found;
				}
		printf("event level (classes meant to raise): precision %.3f, recall %.3f\n",
		       tp + fp ? (double)tp / (tp + fp) : 0.0,
		       tp + fn ? (double)tp / (tp + fn) : 0.0);
	}
	/* the bars */
	{
		unsigned f = 0, n = 0, nd = 0;
		double dl[8192];

		for (int d = 0; d < 3; d++)
			for (int r = 2; r < 6; r++)
				for (int c = DROP0; c <= DROP10; c++) {
					struct cell *x = &cells[c][d][r];

					f += x->found;
					n += x->events;
					for (unsigned i = 0; i < x->n_delays && nd < 8192; i++)
						dl[nd++] = x->delays[i];
				}
		printf("bar 1: drop to <= 10%% for >= 10 s on >= 1 kpps: recall %.3f (>= 0.99), "
		       "p95 delay %.1f s (<= 5)\n",
		       (double)f / n, pct(dl, nd, 0.95));
		f = n = nd = 0;
		for (int d = 1; d < 3; d++)
			for (int r = 0; r < 6; r++) {
				struct cell *x = &cells[DROP50][d][r];

				f += x->found;
				n += x->events;
				for (unsigned i = 0; i < x->n_delays && nd < 8192; i++)
					dl[nd++] = x->delays[i];
			}
		printf("bar 2: 50%% drop for >= 60 s: recall %.3f (>= 0.9), p95 delay %.1f s (<= "
		       "30)\n",
		       (double)f / n, pct(dl, nd, 0.95));
		printf("bar 3: false alerts %.2f per 100 series-days (<= 1)\n",
		       100.0 * bg_alerts / bg_days);
		printf("detector state: %zu bytes per series\n", sizeof(struct detect_series));
	}
	return 0;
}
