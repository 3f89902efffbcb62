/*
 * bench_detect: what rate-anomaly detection costs. A benchmark that prints figures, not a test.
 *
 *   1. in-line counting  the worker's packet path of bench_pipeline (parse 64-byte IPv4/UDP
 *                        frames, flowcache_update_burst, flowcache_expire after each burst of
 *                        32, 100k flows, steady state: a filling pass, then a timed pass) run
 *                        without counting, with detect_counter_add_burst() and its per-burst
 *                        tick watching the link only, and watching link, proto, dport and
 *                        prefixes:FILE (1000 IPv4 /24s covering every destination, written to
 *                        a temporary file), and in between the families split in two groups to
 *                        see where the cost is. The variants run interleaved, in a rotating order,
 *                        for --rounds rounds; a variant's cost is the median over rounds of
 *                        its time against the baseline's time in the same round;
 *   2. series updates    10^6 struct detect_series each fed one bin per second (Poisson-like
 *                        counts at rates spread log-uniformly over 10..100k per second, a
 *                        5 s warm-up so the detectors run): ns per detect_series_update(),
 *                        with the cost of making up the counts measured alone and taken off;
 *   3. engine            detect_engine_put() + detect_engine_run() over one worker's bins with
 *                        10^5 series ids (the link and prefixes): ns per id per bin, and the
 *                        engine's heap per id.
 *
 * Usage: bench_detect [--packets N] [--rounds R] [--bin-ms MS] [--series N] [--seconds S]
 *                     [--engine-ids N] [--tmp DIR] [--only 1|2|3] [--tcp PCT]
 *        bench_detect --write-trace DIR [--packets N] [--tcp PCT]   part 1's packets and
 *                                                                   prefixes as files
 * --tcp PCT makes that share of part 1's flows TCP, the rest UDP (default 80, so that
 * consecutive packets change protocol as on a real link; 0 makes every packet UDP).
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_frame.h"
#include "capture.h"
#include "detect.h"
#include "flowcache.h"
#include "watch.h"
#include "wr.h"

#define FRAME        BENCH_FRAME
#define BURST        32
#define FLOWS        100000
#define N_PREFIXES   1000 /* destinations: 10.0.0.0/24 .. 10.3.231.0/24 */
#define N_DPORTS     1024
#define EXPIRE_CHUNK 64
#define MAX_ROUNDS   15
#define MAX_SECONDS  200
#define T0_S         1700000000ull /* packet and bin times start here (a realistic epoch) */
#define NS_PER_PKT   100           /* packet time between packets: 10 Mpps */

static uint32_t n_packets = 2000000;
static int rounds = 7;
static uint64_t bin_ns = 100 * WR_NS_PER_MS;
static uint32_t n_series = 1000000;
static unsigned n_seconds = 30;
static uint32_t n_engine_ids = 100000;
static const char *tmp_dir = "/tmp";
static int only;              /* run one part (1..3), or all (0) */
static unsigned tcp_pct = 80; /* part 1's flows that are TCP, in per cent */

static uint8_t *frames;
#define SEED 0x9E3779B97F4A7C15ULL /* every part starts its draws here */
static uint64_t rng_state = SEED;
static volatile double sink;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_detect: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---------------------------------------------------------------------------------------- */
/* 1. In-line counting on the packet path                                                    */

/* n_packets frames over FLOWS flows drawn uniformly. Flow f goes from 172.16.0.0/12 + f, port
 * 1024 + f % 50000, to host f / N_PREFIXES of prefix f % N_PREFIXES, one of N_DPORTS ports. */
static void build_frames(void)
{
	rng_state = SEED;
	for (uint32_t i = 0; i < n_packets; i++) {
		uint8_t *p = frames + (size_t)i * FRAME;
		uint32_t f = (uint32_t)(wr_xorshift64(&rng_state) % FLOWS);

		bench_frame_udp4(p, 0xAC100000u | f,
		                 0x0A000000u | (f % N_PREFIXES) << 8 | f / N_PREFIXES,
		                 (uint16_t)(1024 + f % 50000),
		                 (uint16_t)(1 + (f * 2654435761u >> 22) % N_DPORTS));
		if (f % 100 < tcp_pct)
			bench_frame_to_tcp(p);
	}
}

/* Writes the destinations' prefixes to path, one "PREFIX/LEN" a line. */
static void write_prefixes(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		die(path);
	for (unsigned p = 0; p < N_PREFIXES; p++)
		fprintf(f, "10.%u.%u.0/24\n", p >> 8, p & 0xff);
	if (fclose(f) != 0)
		die(path);
}

/* Writes the destinations' prefixes to a temporary file and adds "prefixes:FILE" to w. */
static void watch_prefixes(struct detect_watch *w)
{
	char path[512], spec[600], err[256];
	int fd;

	snprintf(path, sizeof(path), "%s/weir-bench-prefixes.XXXXXX", tmp_dir);
	fd = mkstemp(path); /* a name of our own; write_prefixes() fills it */
	if (fd < 0 || close(fd) != 0)
		die(path);
	write_prefixes(path);
	snprintf(spec, sizeof(spec), "prefixes:%s", path);
	if (detect_watch_add(w, spec, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_detect: %s\n", err);
		exit(1);
	}
	unlink(path);
}

/* --write-trace DIR: part 1's packets as DIR/trace.pcap (packet time as in part 1) and its
 * prefixes as DIR/prefixes.txt, for the whole program (bench/count_cost.sh). */
static void write_trace(const char *dir)
{
	char path[512];

	frames = malloc((size_t)n_packets * FRAME);
	if (frames == NULL)
		die("frames");
	build_frames();
	snprintf(path, sizeof(path), "%s/trace.pcap", dir);
	bench_write_pcap(path, frames, n_packets, FRAME, T0_S, NS_PER_PKT);
	free(frames);
	snprintf(path, sizeof(path), "%s/prefixes.txt", dir);
	write_prefixes(path);
}

struct emitted {
	uint64_t bins, cells;
};

/* The workers' emit callback, minus the hand-over to the detector thread. */
static void emit_bin(void *arg, struct detect_bin *bin)
{
	struct emitted *e = arg;

	e->bins++;
	e->cells += bin->n_cells;
	detect_bin_free(bin);
}

static struct emitted last_emitted;

/* The worker's loop over the frames, twice with packet time running on; returns the ns per
 * packet of the second pass. With w, each burst is also counted and the counter ticked as
 * probe/pipeline.c does (new flows handed over once per bin). */
static double run_pipeline(const struct detect_watch *w)
{
	struct flowcache_params fp = {.max_flows = 2 * FLOWS,
	                              .idle_timeout_ns = 15 * WR_NS_PER_S,
	                              .active_timeout_ns = 1800 * WR_NS_PER_S};
	struct flowcache *fc = flowcache_create(&fp);
	struct detect_counter *dc = w ? detect_counter_create(w, 0, bin_ns) : NULL;
	struct capture_pkt pkt = {
	    .caplen = FRAME, .wirelen = FRAME, .linktype = CAPTURE_LINK_ETHERNET};
	struct capture_meta metas[BURST];
	struct flowcache_record out[EXPIRE_CHUNK];
	struct flowcache_stats st;
	struct emitted em = {0, 0};
	uint64_t t0 = 0, next_bin = 0, flows_counted = 0;
	unsigned n;

	if (fc == NULL || (w != NULL && dc == NULL))
		die("create");
	for (uint32_t pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			em = (struct emitted){0, 0};
			t0 = wr_mono_ns();
		}
		for (uint32_t i = 0; i < n_packets; i += BURST) {
			for (uint32_t k = 0; k < BURST; k++) {
				pkt.data = frames + (size_t)(i + k) * FRAME;
				pkt.ts_ns = T0_S * WR_NS_PER_S +
				            ((uint64_t)pass * n_packets + i + k) * NS_PER_PKT;
				capture_parse(&pkt, NULL, &metas[k]);
			}
			flowcache_update_burst(fc, metas, BURST);
			if (dc)
				detect_counter_add_burst(dc, metas, BURST, emit_bin, &em);
			do
				n = flowcache_expire(fc, pkt.ts_ns, out, EXPIRE_CHUNK);
			while (n == EXPIRE_CHUNK || flowcache_expire_behind(fc, pkt.ts_ns));
			if (dc) {
				if (pkt.ts_ns >= next_bin) {
					flowcache_get_stats(fc, &st);
					detect_counter_add_flows(dc, 0,
					                         st.flows_created - flows_counted);
					flows_counted = st.flows_created;
					next_bin = pkt.ts_ns - pkt.ts_ns % bin_ns + bin_ns;
				}
				detect_counter_tick(dc, pkt.ts_ns, 0, emit_bin, &em);
			}
		}
	}
	t0 = wr_mono_ns() - t0;
	last_emitted = em;
	detect_counter_free(dc);
	flowcache_free(fc);
	return (double)t0 / n_packets;
}

/* Microseconds to close one bin (scan the counters, build the cell list) after a bin's worth
 * of the frames: the part of the counting cost paid per bin rather than per packet. */
static double bin_close_us(const struct detect_watch *w)
{
	struct capture_pkt pkt = {
	    .caplen = FRAME, .wirelen = FRAME, .linktype = CAPTURE_LINK_ETHERNET};
	struct detect_counter *dc = detect_counter_create(w, 0, bin_ns);
	struct capture_meta metas[BURST];
	struct emitted em = {0, 0};
	double t[MAX_ROUNDS];
	uint64_t start = T0_S * WR_NS_PER_S;

	if (dc == NULL)
		die("detect_counter_create");
	for (int r = 0; r < rounds; r++) {
		uint64_t t0;

		for (uint32_t i = 0; i + BURST <= n_packets && i < 1000000; i += BURST) {
			for (uint32_t k = 0; k < BURST; k++) {
				pkt.data = frames + (size_t)(i + k) * FRAME;
				pkt.ts_ns = start + (i + k) % (bin_ns / 2);
				capture_parse(&pkt, NULL, &metas[k]);
			}
			detect_counter_add_burst(dc, metas, BURST, emit_bin, &em);
		}
		start += bin_ns;
		t0 = wr_mono_ns();
		detect_counter_tick(dc, start, 0, emit_bin, &em);
		t[r] = (double)(wr_mono_ns() - t0) / 1e3;
	}
	detect_counter_free(dc);
	return median(t, (unsigned)rounds);
}

/* The variants of part 1: the first two are the goal's; the middle ones split the cost of the
 * last by family. "prefixes" stands for prefixes:FILE with the bench's file. */
static const struct {
	const char *name;
	const char *specs[4];
} variants[] = {
    {"parse + flow cache (baseline)", {NULL}},
    {"+ counting: link", {"link", NULL}},
    {"+ counting: link, proto, dport", {"link", "proto", "dport", NULL}},
    {"+ counting: link, 1000 prefixes", {"link", "prefixes", NULL}},
    {"+ counting: link, proto, dport, 1000 prefixes", {"link", "proto", "dport", "prefixes"}},
};
#define N_VARIANTS ((int)WR_ARRAY_SIZE(variants))

static void bench_counting(void)
{
	struct detect_watch *watch[N_VARIANTS] = {NULL};
	double ns[N_VARIANTS][MAX_ROUNDS], ratio[N_VARIANTS][MAX_ROUNDS];
	double added[N_VARIANTS][MAX_ROUNDS];
	struct emitted em[N_VARIANTS];
	double close_us;
	char err[256];

	for (int v = 1; v < N_VARIANTS; v++) {
		if ((watch[v] = detect_watch_create()) == NULL)
			die("detect_watch_create");
		for (int k = 0; k < 4 && variants[v].specs[k] != NULL; k++) {
			if (strcmp(variants[v].specs[k], "prefixes") == 0)
				watch_prefixes(watch[v]);
			else if (detect_watch_add(watch[v], variants[v].specs[k], err,
			                          sizeof(err)) < 0) {
				fprintf(stderr, "bench_detect: %s\n", err);
				exit(1);
			}
		}
	}
	frames = malloc((size_t)n_packets * FRAME);
	if (frames == NULL)
		die("malloc");
	build_frames();

	/* rotate the order each round so that no variant always runs first (or after another) */
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < N_VARIANTS; k++) {
			int v = (r + k) % N_VARIANTS;

			ns[v][r] = run_pipeline(watch[v]);
			em[v] = last_emitted;
		}
	for (int r = 0; r < rounds; r++)
		for (int v = 0; v < N_VARIANTS; v++) {
			ratio[v][r] = ns[v][r] / ns[0][r];
			added[v][r] = ns[v][r] - ns[0][r];
		}

	printf("## 1. In-line counting on the packet path\n\n");
	printf("%u packets of %d bytes per pass, %u flows (uniform, %u %% TCP, the rest UDP), "
	       "bins of %llu ms; %d interleaved rounds, medians; cost = median of the per-round "
	       "time ratios\n\n",
	       n_packets, FRAME, FLOWS, tcp_pct, (unsigned long long)(bin_ns / WR_NS_PER_MS),
	       rounds);
	printf("| variant | ns/packet | Mpps | cost vs baseline (range) | ns/packet added | "
	       "goal <= +10 %% |\n|---|---|---|---|---|---|\n");
	for (int v = 0; v < N_VARIANTS; v++) {
		double t = median(ns[v], (unsigned)rounds), q = median(ratio[v], (unsigned)rounds);
		double a = median(added[v], (unsigned)rounds);

		if (v == 0)
			printf("| %s | %.1f | %.2f | 1.00x | | |\n", variants[v].name, t,
			       1000.0 / t);
		else
			printf("| %s | %.1f | %.2f | %.3fx (%.3f..%.3f) | %+.1f | %s |\n",
			       variants[v].name, t, 1000.0 / t, q, ratio[v][0],
			       ratio[v][rounds - 1], a, q <= 1.10 ? "met" : "not met");
	}
	printf("\nbins closed in each timed pass: %llu (%.0f cells each with every family)\n",
	       (unsigned long long)em[N_VARIANTS - 1].bins,
	       em[N_VARIANTS - 1].bins
	           ? (double)em[N_VARIANTS - 1].cells / (double)em[N_VARIANTS - 1].bins
	           : 0.0);
	close_us = bin_close_us(watch[N_VARIANTS - 1]);
	printf("closing one bin (every family): %.0f us, i.e. %.3f ns/packet at 10 Mpps\n\n",
	       close_us, close_us * 1e3 / (1e7 * (double)bin_ns / 1e9));
	free(frames);
	for (int v = 0; v < N_VARIANTS; v++)
		detect_watch_free(watch[v]);
}

/* ---------------------------------------------------------------------------------------- */
/* 2. detect_series_update()                                                                 */

#define N_Z 4096 /* standard normal draws, reused: the counts need to look Poisson, not be */

static double z_table[N_Z];
static int z_filled;

static void fill_z(void)
{
	z_filled = 1;
	for (unsigned i = 0; i < N_Z; i++)
		z_table[i] = sqrt(-2.0 * log(wr_uniform(&rng_state))) *
		             cos(2 * M_PI * wr_uniform(&rng_state));
}

/* A Poisson-like count of mean m and spread sd: the normal approximation, not below 0. */
static inline double count_of(float m, float sd, uint64_t *rs)
{
	double c = floor(m + sd * z_table[wr_xorshift64(rs) & (N_Z - 1)] + 0.5);

	return c > 0 ? c : 0;
}

struct series_result {
	double first_ns, warmup_ns, eval_ns, gen_ns;
	unsigned events;
};

static void run_series(const struct detect_params *dp, const float *mean, const float *sd,
                       struct series_result *ret)
{
	struct detect_series *s = calloc(n_series, sizeof(*s));
	double per_s[MAX_SECONDS] = {0}, warm[MAX_SECONDS], eval[MAX_SECONDS], gen[3];
	uint64_t rs = 0x2545F4914F6CDD1DULL;
	struct detect_event ev;
	unsigned events = 0, n_eval = 0, n_warm = 0;

	if (s == NULL)
		die("calloc");
	/* the loop below without the update: making up the counts and walking the arrays */
	for (int k = 0; k < 3; k++) {
		uint64_t t0 = wr_mono_ns();
		double acc = 0;

		for (uint32_t i = 0; i < n_series; i++)
			acc += count_of(mean[i], sd[i], &rs);
		sink = acc;
		gen[k] = (double)(wr_mono_ns() - t0) / n_series;
	}
	ret->gen_ns = median(gen, 3);
	for (unsigned sec = 1; sec <= n_seconds; sec++) {
		uint64_t t_ns = (T0_S + sec) * WR_NS_PER_S, t0 = wr_mono_ns();

		for (uint32_t i = 0; i < n_series; i++)
			events += (unsigned)detect_series_update(
			    &s[i], dp, t_ns, 1.0, count_of(mean[i], sd[i], &rs), 0, &ev);
		per_s[sec - 1] = (double)(wr_mono_ns() - t0) / n_series - ret->gen_ns;
	}
	/* second 1 starts the baselines; then warm-up; then the detectors judge every window */
	ret->first_ns = per_s[0];
	for (unsigned sec = 2; sec <= n_seconds; sec++) {
		if (sec <= (unsigned)dp->warmup_s + 1)
			warm[n_warm++] = per_s[sec - 1];
		else
			eval[n_eval++] = per_s[sec - 1];
	}
	ret->warmup_ns = median(warm, n_warm);
	ret->eval_ns = median(eval, n_eval);
	ret->events = events;
	free(s);
}

static void bench_series(void)
{
	struct detect_params dp;
	struct series_result r[MAX_ROUNDS];
	double first[MAX_ROUNDS], warm[MAX_ROUNDS], eval[MAX_ROUNDS], gen[MAX_ROUNDS];
	float *mean = malloc(n_series * sizeof(float)), *sd = malloc(n_series * sizeof(float));
	int runs = rounds < 5 ? rounds : 5; /* each run is long: 5 is plenty */

	if (mean == NULL || sd == NULL)
		die("malloc");
	detect_params_default(&dp);
	dp.warmup_s = 5;
	rng_state = SEED; /* the same rates whichever parts run */
	fill_z();
	for (uint32_t i = 0; i < n_series; i++) {
		mean[i] =
		    (float)(10.0 * pow(1e4, wr_uniform(&rng_state))); /* 10 .. 100k per second */
		sd[i] = sqrtf(mean[i]);
	}
	for (int k = 0; k < runs; k++) {
		run_series(&dp, mean, sd, &r[k]);
		first[k] = r[k].first_ns;
		warm[k] = r[k].warmup_ns;
		eval[k] = r[k].eval_ns;
		gen[k] = r[k].gen_ns;
	}
	printf("## 2. detect_series_update()\n\n");
	printf("%u series, one bin per second for %u s (warm-up %.0f s), rates 10..100k/s "
	       "log-uniform; median of %d runs; the count generation (%.1f ns) is taken off\n\n",
	       n_series, n_seconds, dp.warmup_s, runs, median(gen, (unsigned)runs));
	printf("| phase | ns per update |\n|---|---|\n");
	printf("| second 1: baselines start (and the array's first touch) | %.1f |\n",
	       median(first, (unsigned)runs));
	printf("| seconds 2..%.0f: warm-up, learning | %.1f |\n", dp.warmup_s + 1,
	       median(warm, (unsigned)runs));
	printf("| seconds %.0f..%u: past warm-up, detectors judge | %.1f |\n", dp.warmup_s + 2,
	       n_seconds, median(eval, (unsigned)runs));
	printf("\nsizeof(struct detect_series): %zu bytes (goal <= 64: %s); events raised on these "
	       "clean series: %u in %llu series-seconds (first run)\n\n",
	       sizeof(struct detect_series), sizeof(struct detect_series) <= 64 ? "met" : "not met",
	       r[0].events, (unsigned long long)n_series * n_seconds);
	free(mean);
	free(sd);
}

/* ---------------------------------------------------------------------------------------- */
/* 3. The engine                                                                             */

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

struct engine_result {
	double first_ns, eval_ns;
	double bytes_per_id;
	unsigned events;
};

static void run_engine(const struct detect_params *dp, struct detect_watch *w, const float *mean,
                       const float *sd, struct engine_result *ret)
{
	struct detect_engine_params ep = {.detect = dp,
	                                  .watch = w,
	                                  .n_workers = 1,
	                                  .n_links = 1,
	                                  .bin_ns = WR_NS_PER_S,
	                                  .max_series = n_engine_ids};
	struct detect_alert out[256];
	struct detect_engine *e;
	double eval[MAX_SECONDS];
	uint64_t rs = 0x2545F4914F6CDD1DULL;
	size_t heap0 = heap_in_use();
	unsigned events = 0, n_eval = 0, got;

	e = detect_engine_create(&ep);
	if (e == NULL)
		die("detect_engine_create");
	for (unsigned sec = 1; sec <= n_seconds; sec++) {
		struct detect_bin *b = calloc(1, sizeof(*b));
		uint64_t t0;
		double ns;

		if (b == NULL || (b->cells = calloc(n_engine_ids, sizeof(*b->cells))) == NULL)
			die("calloc");
		b->start_ns = (T0_S + sec) * WR_NS_PER_S;
		b->n_cells = n_engine_ids;
		for (uint32_t i = 0; i < n_engine_ids; i++) {
			double c = count_of(mean[i], sd[i], &rs);

			b->cells[i].id = i == 0 ? detect_series_id(DETECT_FAM_LINK, 0)
			                        : detect_series_id(DETECT_FAM_PREFIX, i);
			b->cells[i].packets = (uint64_t)c;
			b->cells[i].bytes = (uint64_t)c * (FRAME - 18);
			b->cells[i].flows = i == 0 ? (uint32_t)(c / 100) : 0;
		}
		t0 = wr_mono_ns();
		detect_engine_put(e, b);
		do
			events += got = detect_engine_run(e, 0, out, WR_ARRAY_SIZE(out));
		while (got == WR_ARRAY_SIZE(out));
		ns = (double)(wr_mono_ns() - t0) / n_engine_ids;
		if (sec == 1) {
			ret->first_ns = ns;
			ret->bytes_per_id = (double)(heap_in_use() - heap0) / n_engine_ids;
		} else if (sec > (unsigned)dp->warmup_s + 1) {
			eval[n_eval++] = ns;
		}
	}
	ret->eval_ns = median(eval, n_eval);
	ret->events = events;
	detect_engine_free(e);
}

static void bench_engine(void)
{
	struct detect_params dp;
	struct engine_result r[MAX_ROUNDS];
	double first[MAX_ROUNDS], eval[MAX_ROUNDS];
	float *mean = malloc(n_engine_ids * sizeof(float)),
	      *sd = malloc(n_engine_ids * sizeof(float));
	struct detect_watch *w = detect_watch_create();
	int runs = rounds < 5 ? rounds : 5; /* each run is long: 5 is plenty */

	if (mean == NULL || sd == NULL || w == NULL)
		die("malloc");
	detect_params_default(&dp);
	dp.warmup_s = 5;
	rng_state = SEED; /* the same rates whichever parts run */
	if (!z_filled) {  /* part 3 alone: the noise part 2 would have drawn */
		fill_z();
		rng_state = SEED;
	}
	for (uint32_t i = 0; i < n_engine_ids; i++) {
		mean[i] = (float)(10.0 * pow(1e4, wr_uniform(&rng_state)));
		sd[i] = sqrtf(mean[i]);
	}
	for (int k = 0; k < runs; k++) {
		run_engine(&dp, w, mean, sd, &r[k]);
		first[k] = r[k].first_ns;
		eval[k] = r[k].eval_ns;
	}
	printf("## 3. Engine (detect_engine_put + detect_engine_run)\n\n");
	printf("%u series ids (the link and prefixes: packets and bits each, flows for the "
	       "link), one worker, one bin per second for %u s (warm-up %.0f s); median of %d "
	       "runs\n\n",
	       n_engine_ids, n_seconds, dp.warmup_s, runs);
	printf("| phase | ns per id per bin | ms per bin |\n|---|---|---|\n");
	printf("| second 1: series created | %.1f | %.2f |\n", median(first, (unsigned)runs),
	       median(first, (unsigned)runs) * n_engine_ids / 1e6);
	printf("| seconds %.0f..%u: past warm-up | %.1f | %.2f |\n", dp.warmup_s + 2, n_seconds,
	       median(eval, (unsigned)runs), median(eval, (unsigned)runs) * n_engine_ids / 1e6);
	printf("\nengine heap: %.0f bytes per id (%u ids); events: %u (first run)\n",
	       r[0].bytes_per_id, n_engine_ids, r[0].events);
	detect_watch_free(w);
	free(mean);
	free(sd);
}

int main(int argc, char **argv)
{
	const char *trace_dir = NULL;

	for (int i = 1; i < argc; i += 2) {
		if (i + 1 == argc) {
			fprintf(stderr, "bench_detect: '%s' needs a value\n", argv[i]);
			return 2;
		} else if (strcmp(argv[i], "--packets") == 0)
			n_packets = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--bin-ms") == 0)
			bin_ns = strtoull(argv[i + 1], NULL, 10) * WR_NS_PER_MS;
		else if (strcmp(argv[i], "--series") == 0)
			n_series = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0)
			n_seconds = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--engine-ids") == 0)
			n_engine_ids = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--tmp") == 0)
			tmp_dir = argv[i + 1];
		else if (strcmp(argv[i], "--only") == 0)
			only = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--tcp") == 0)
			tcp_pct = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--write-trace") == 0)
			trace_dir = argv[i + 1];
		else {
			fprintf(stderr, "bench_detect: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || n_packets < BURST || bin_ns == 0 ||
	    n_series == 0 || n_seconds < 8 || n_seconds > MAX_SECONDS || n_engine_ids < 2 ||
	    n_engine_ids > 0xffffff || only < 0 || only > 3 || tcp_pct > 100) {
		fprintf(stderr,
		        "bench_detect: --rounds 1..%d, --packets >= %d, --bin-ms >= 1, "
		        "--series >= 1, --seconds 8..%d, --engine-ids 2..16777215, --only 1..3, "
		        "--tcp 0..100\n",
		        MAX_ROUNDS, BURST, MAX_SECONDS);
		return 2;
	}
	n_packets -= n_packets % BURST;
	if (trace_dir != NULL) {
		write_trace(trace_dir);
		return 0;
	}
	if (only == 0 || only == 1)
		bench_counting();
	if (only == 0 || only == 2)
		bench_series();
	if (only == 0 || only == 3)
		bench_engine();
	return 0;
}
