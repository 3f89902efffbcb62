/*
 * bench_pipeline: per-core cost of weir's packet path, measured in one run so the ratios hold
 * on a noisy machine.
 *
 *   1. parse        capture_parse over in-memory 64-byte frames (Ethernet/IPv4/UDP)
 *   2. parse+cache  the same plus flowcache_update_burst and a flowcache_expire per burst of
 *                   32, for 10k, 100k and 1M concurrent flows, uniform and Zipf popularity;
 *                   steady state: a first pass over the frames fills the cache, the second
 *                   pass (packet time running on) is the one timed
 *   3. table only   the same packets parsed beforehand, then only the table: weir's flow
 *                   cache against DPDK's rte_hash (lock-free variant) doing bulk lookup and
 *                   add of the same keys and the same counter updates (built with DPDK)
 *   4. file read    weir's capture-file reader (drv_pcap_ops) against a bare libpcap
 *                   pcap_next_ex loop over the same pcap file, counting packets only
 *
 * Each figure is the median of --runs repetitions. Prints a Markdown table.
 * Usage: bench_pipeline [--packets N] [--runs R] [--tmp DIR]
 *        bench_pipeline --write-pcap FILE [--packets N] [--flows F]
 *          writes the 64-byte Zipf trace of part 3 (F flows, default 100000) and exits, so
 *          bench/run.sh can time the whole weir program on it
 *        bench_pipeline --count-pcap FILE
 *          a bare libpcap pcap_next_ex loop over FILE that only counts (the read bound)
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_frame.h"
#include "capture.h"
#include "drv_pcap.h"
#include "flowcache.h"
#include "weir_config.h"
#include "wr.h"

#if WEIR_HAVE_DPDK
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#endif

#define FRAME BENCH_FRAME
#define BURST 32

static uint8_t *frames;
static uint64_t churn_per_s;      /* flows replaced per second of packet time (0 = none) */
static uint64_t ns_per_pkt = 100; /* packet time between packets (10 Mpps) */
static uint64_t worst_late_ns;    /* of the last run_cache: worst idle/active lateness */
static uint64_t last_evictions;   /* of the last run_cache */
static uint32_t n_packets = 4000000;
static const char *sample_spec; /* run_cache: a selector in front of the cache, or NULL */
static int runs = 5;

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	return wr_xorshift64(&rng_state);
}

/* Builds n_packets frames whose flow ids follow a uniform or Zipf(1.0) law over `flows`. */
static void build_frames(uint32_t flows, int zipf)
{
	double *cdf = NULL, sum = 0;
	uint32_t i, f;

	if (zipf) {
		cdf = malloc(sizeof(double) * flows);
		for (i = 0; i < flows; i++)
			cdf[i] = (sum += 1.0 / (i + 1));
	}
	for (i = 0; i < n_packets; i++) {
		uint8_t *p = frames + (size_t)i * FRAME;

		if (zipf) {
			double u = (double)(rnd() >> 11) / 9007199254740992.0 * sum;
			uint32_t lo = 0, hi = flows - 1;

			while (lo < hi) {
				uint32_t mid = (lo + hi) / 2;

				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			f = lo;
		} else {
			f = (uint32_t)(rnd() % flows);
		}
		/* churn: the active set moves on by churn_per_s ids per second of packet time */
		f += (uint32_t)(churn_per_s * i * ns_per_pkt / WR_NS_PER_S);
		bench_frame_udp4(p, 0x0A000000 | (f >> 8), 0xC0A80000 | (f & 0xFF),
		                 (uint16_t)(1024 + (f % 50000)), 443);
	}
	free(cdf);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Runs fn `runs` times; returns the median nanoseconds per packet. fn returns the
 * nanoseconds of its timed part, or 0 to be timed whole. */
static double median_ns(double (*fn)(void *), void *arg)
{
	uint64_t t[16];
	int r;

	for (r = 0; r < runs; r++) {
		uint64_t t0 = wr_mono_ns();
		double own = fn(arg);

		t[r] = own > 0 ? (uint64_t)own : wr_mono_ns() - t0;
	}
	qsort(t, (size_t)runs, sizeof(t[0]), cmp_u64);
	return (double)t[runs / 2] / n_packets;
}

static volatile uint64_t sink;

static double run_parse(void *arg)
{
	struct capture_pkt pkt = {
	    .caplen = FRAME, .wirelen = FRAME, .linktype = CAPTURE_LINK_ETHERNET};
	struct capture_meta m;
	uint64_t acc = 0;
	uint32_t i;

	(void)arg;
	for (i = 0; i < n_packets; i++) {
		pkt.data = frames + (size_t)i * FRAME;
		pkt.ts_ns = i * 100ULL;
		if (capture_parse(&pkt, NULL, &m) == CAPTURE_OK)
			acc += m.hash;
	}
	sink = acc;
	return 0;
}

/* Two passes over the frames with packet time running on: the first fills the cache (its
 * flows are all there when timing starts: steady state), the second is timed. Returns the
 * nanoseconds of the second. */
static double run_cache(void *arg)
{
	uint32_t flows = *(uint32_t *)arg;
	struct flowcache_params fp = {.max_flows = flows * 2,
	                              .idle_timeout_ns =
	                                  churn_per_s ? 1 * WR_NS_PER_S : 15 * WR_NS_PER_S,
	                              .active_timeout_ns = 1800 * WR_NS_PER_S};
	struct flowcache *fc = flowcache_create(&fp);
	struct capture_meta metas[BURST];
	struct flowcache_record out[64];
	struct capture_pkt pkt = {
	    .caplen = FRAME, .wirelen = FRAME, .linktype = CAPTURE_LINK_ETHERNET};
	uint64_t t0 = 0, ev0 = 0;
	struct flowcache_stats st;
	struct capture_sampler sampler;
	struct capture_sampler_params sp;
	uint32_t i, k, pass, sel;
	unsigned n, j;
	char err[128];

	if (sample_spec != NULL) {
		if (capture_sampler_parse(sample_spec, &sp, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench: %s\n", err);
			exit(1);
		}
		capture_sampler_init(&sampler, &sp);
	}
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			flowcache_get_stats(fc, &st);
			ev0 = st.evicted;
			worst_late_ns = 0;
			t0 = wr_mono_ns();
		}
		for (i = 0; i < n_packets; i += BURST) {
			for (k = 0, sel = 0; k < BURST; k++) {
				pkt.data = frames + (size_t)(i + k) * FRAME;
				pkt.ts_ns = ((uint64_t)pass * n_packets + i + k) * ns_per_pkt;
				capture_parse(&pkt, NULL, &metas[sel]);
				sel += sample_spec == NULL ||
				       capture_sampler_select(&sampler, &metas[sel]);
			}
			flowcache_update_burst(fc, metas, sel);
			do {
				n = flowcache_expire(fc, pkt.ts_ns, out, 64);
				for (j = 0; j < n; j++) {
					uint64_t due = out[j].end_reason == FLOWCACHE_END_IDLE
					                   ? out[j].last_ns + fp.idle_timeout_ns
					               : out[j].end_reason == FLOWCACHE_END_ACTIVE
					                   ? out[j].first_ns + fp.active_timeout_ns
					                   : pkt.ts_ns;
					if (pkt.ts_ns > due && pkt.ts_ns - due > worst_late_ns)
						worst_late_ns = pkt.ts_ns - due;
				}
			} while (n == 64 || flowcache_expire_behind(fc, pkt.ts_ns));
		}
	}
	t0 = wr_mono_ns() - t0;
	flowcache_get_stats(fc, &st);
	last_evictions = st.evicted - ev0;
	flowcache_free(fc);
	return (double)t0;
}

/* Packets parsed once, for the table-only rows. */
static struct capture_meta *metas_all;

static void preparse(void)
{
	struct capture_pkt pkt = {
	    .caplen = FRAME, .wirelen = FRAME, .linktype = CAPTURE_LINK_ETHERNET};
	uint32_t i;

	for (i = 0; i < n_packets; i++) {
		pkt.data = frames + (size_t)i * FRAME;
		pkt.ts_ns = i * 100ULL;
		capture_parse(&pkt, NULL, &metas_all[i]);
	}
}

/* As run_cache: a filling pass, then a timed one over the same keys. */
static double run_table_weir(void *arg)
{
	uint32_t flows = *(uint32_t *)arg;
	struct flowcache_params fp = {.max_flows = flows * 2,
	                              .idle_timeout_ns = 15 * WR_NS_PER_S,
	                              .active_timeout_ns = 1800 * WR_NS_PER_S};
	struct flowcache *fc = flowcache_create(&fp);
	struct flowcache_record out[64];
	uint64_t t0 = 0;
	uint32_t i, pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			t0 = wr_mono_ns();
		for (i = 0; i < n_packets; i += BURST) {
			flowcache_update_burst(fc, metas_all + i, BURST);
			while (flowcache_expire(fc, metas_all[i].ts_ns, out, 64) == 64)
				;
		}
	}
	t0 = wr_mono_ns() - t0;
	flowcache_free(fc);
	return (double)t0;
}

#if WEIR_HAVE_DPDK
/* What the reference keeps per flow: the same counters weir updates. */
struct ref_flow {
	uint64_t packets, octets, first_ns, last_ns;
	uint16_t tcp_flags;
};

static struct ref_flow *ref_flows;

static double run_table_rte_hash(void *arg)
{
	uint32_t flows = *(uint32_t *)arg;
	struct rte_hash_parameters hp = {
	    .name = "bench",
	    .entries = flows * 2,
	    .key_len = sizeof(struct capture_flow_key),
	    .hash_func = rte_hash_crc,
	    .socket_id = 0,
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct rte_hash *h = rte_hash_create(&hp);
	const void *keys[BURST];
	int32_t pos[BURST];
	uint32_t i, k, pass;
	uint64_t t0 = 0;

	if (h == NULL) {
		fprintf(stderr, "bench: rte_hash_create failed\n");
		exit(1);
	}
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			t0 = wr_mono_ns();
		for (i = 0; i < n_packets; i += BURST) {
			for (k = 0; k < BURST; k++)
				keys[k] = &metas_all[i + k].key;
			rte_hash_lookup_bulk(h, keys, BURST, pos);
			for (k = 0; k < BURST; k++) {
				const struct capture_meta *m = &metas_all[i + k];
				struct ref_flow *f;

				if (pos[k] < 0) {
					pos[k] = rte_hash_add_key(h, keys[k]);
					if (pos[k] < 0)
						continue;
					ref_flows[pos[k]] =
					    (struct ref_flow){0, 0, m->ts_ns, m->ts_ns, 0};
				}
				f = &ref_flows[pos[k]];
				f->packets++;
				f->octets += m->l3_octets;
				f->last_ns = m->ts_ns;
				f->tcp_flags |= m->tcp_flags;
			}
		}
	}
	t0 = wr_mono_ns() - t0;
	rte_hash_free(h);
	return (double)t0;
}
#endif

static const char *pcap_path;

static double run_weir_reader(void *arg)
{
	struct capture_pkt pkts[BURST];
	void *h;
	char err[CAPTURE_ERR_LEN];
	uint64_t n = 0;
	int got;

	(void)arg;
	if (drv_pcap_ops.open(pcap_path, NULL, &h, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s: %s\n", pcap_path, err);
		exit(1);
	}
	while ((got = drv_pcap_ops.rx_burst(h, pkts, BURST)) > 0)
		n += (uint64_t)got;
	drv_pcap_ops.close(h);
	sink = n;
	return 0;
}

static double run_libpcap_reader(void *arg)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *hdr;
	const u_char *data;
	pcap_t *p = pcap_open_offline(pcap_path, eb);
	uint64_t n = 0;

	(void)arg;
	if (p == NULL) {
		fprintf(stderr, "bench: %s\n", eb);
		exit(1);
	}
	while (pcap_next_ex(p, &hdr, &data) == 1)
		n++;
	pcap_close(p);
	sink = n;
	return 0;
}

static void row(const char *what, double ns, double ref_ns, const char *ref)
{
	printf("| %-40s | %8.1f | %6.2f | %s %.2fx |\n", what, ns, 1000.0 / ns, ref, ref_ns / ns);
}

int main(int argc, char **argv)
{
	uint32_t flow_counts[] = {10000, 100000, 1000000};
	unsigned n_counts = 3, only_flows = 0;
	char path[512], what[64];
	const char *tmp = "/tmp", *write_only = NULL;
	uint32_t gen_flows = 100000;
	double parse_ns, weir_ns, lib_ns;
	int i, z;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--packets") == 0)
			n_packets = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--tmp") == 0)
			tmp = argv[i + 1];
		else if (strcmp(argv[i], "--write-pcap") == 0)
			write_only = argv[i + 1];
		else if (strcmp(argv[i], "--only-flows") == 0)
			only_flows = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--count-pcap") == 0)
			pcap_path = argv[i + 1];
		else if (strcmp(argv[i], "--flows") == 0)
			gen_flows = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	}
	if (runs < 1 || runs > 15 || n_packets < BURST) {
		fprintf(stderr, "bench: --runs 1..15, --packets >= %d\n", BURST);
		return 2;
	}
	if (pcap_path) {
		run_libpcap_reader(NULL);
		printf("%" PRIu64 "\n", sink);
		return 0;
	}
	n_packets -= n_packets % BURST;
	frames = malloc((size_t)n_packets * FRAME);
	if (frames == NULL || gen_flows == 0)
		return 1;
	if (write_only) {
		build_frames(gen_flows, 1);
		bench_write_pcap(write_only, frames, n_packets, FRAME, 1700000000, 1000);
		free(frames);
		return 0;
	}

	if (only_flows) { /* one flow count, the table rows only (a large table needs a long trace)
		           */
		flow_counts[0] = only_flows;
		n_counts = 1;
	}
	printf("%u packets of %d bytes, median of %d runs, one core\n\n", n_packets, FRAME, runs);
	printf("| stage | ns/packet | Mpps | ratio |\n|---|---|---|---|\n");
	build_frames(100000, 0);
	parse_ns = median_ns(run_parse, NULL);
	row("parse", parse_ns, parse_ns, "vs parse");
	for (z = 0; z < 2; z++) {
		for (i = 0; i < (int)n_counts; i++) {
			uint32_t flows = flow_counts[i];

			build_frames(flows, z);
			snprintf(what, sizeof(what), "parse + flow cache, %u flows, %s", flows,
			         z ? "Zipf" : "uniform");
			row(what, median_ns(run_cache, &flows), parse_ns, "vs parse");
		}
	}
	/* The cost of a selector in front of the cache: hash:1 hashes every packet's invariant
	 * fields and keeps them all, so the table sees the same packets as above. */
	if (!only_flows) {
		uint32_t flows = 100000;

		build_frames(flows, 0);
		sample_spec = "hash:1";
		row("parse + hash:1 sampler + cache, 100k, uniform", median_ns(run_cache, &flows),
		    parse_ns, "vs parse");
		sample_spec = NULL;
	}
	if (only_flows)
		goto table_only;
	/* Churn: 100k active flows, flows replaced at a rising rate, idle timeout 1 s, cache
	 * capped at 200k flows: evictions take over once churn outruns the idle timer. Packets
	 * are 1 us apart here (4M packets = 4 s of packet time), so idle timers fire and the
	 * worst lateness means something. */
	ns_per_pkt = 1000;
	{
		static const uint64_t churns[] = {1000, 10000, 100000, 1000000, 10000000};
		uint32_t flows = 100000;

		for (i = 0; i < (int)WR_ARRAY_SIZE(churns); i++) {
			double ns;

			churn_per_s = churns[i];
			build_frames(flows, 0);
			ns = median_ns(run_cache, &flows);
			snprintf(what, sizeof(what), "parse + cache, 100k, churn %llu/s",
			         (unsigned long long)churns[i]);
			printf("| %-40s | %8.1f | %6.2f | vs parse %.2fx; worst lateness %.3f s, "
			       "%llu evictions |\n",
			       what, ns, 1000.0 / ns, parse_ns / ns, (double)worst_late_ns / 1e9,
			       (unsigned long long)last_evictions);
		}
		churn_per_s = 0;
	}
	ns_per_pkt = 100;

table_only:
	/* Table only: the same pre-parsed keys through weir's table and rte_hash. */
	metas_all = malloc((size_t)n_packets * sizeof(*metas_all));
	if (metas_all == NULL)
		return 1;
#if WEIR_HAVE_DPDK
	{
		/* EAL memory for rte_hash: about 80 bytes per entry, entries = 2 x flows */
		char *eal[] = {"bench",       "--no-huge",
		               "--no-shconf", "--no-pci",
		               "-l",          "0",
		               "-m",          flow_counts[n_counts - 1] > 1000000 ? "6144" : "4096",
		               "--log-level", "error",
		               NULL};

		if (rte_eal_init(10, eal) < 0) {
			fprintf(stderr, "bench: rte_eal_init failed\n");
			return 1;
		}
		ref_flows = malloc(sizeof(*ref_flows) * 2 * flow_counts[n_counts - 1]);
	}
#endif
	for (z = 0; z < 2; z++) {
		for (i = 0; i < (int)n_counts; i++) {
			uint32_t flows = flow_counts[i];
			double weir_t;

			build_frames(flows, z);
			preparse();
			weir_t = median_ns(run_table_weir, &flows);
			snprintf(what, sizeof(what), "table only: weir, %u flows, %s", flows,
			         z ? "Zipf" : "uniform");
#if WEIR_HAVE_DPDK
			{
				double ref_t = median_ns(run_table_rte_hash, &flows);

				row(what, weir_t, ref_t, "vs rte_hash");
				snprintf(what, sizeof(what), "table only: rte_hash, %u flows, %s",
				         flows, z ? "Zipf" : "uniform");
				row(what, ref_t, ref_t, "vs rte_hash");
			}
#else
			row(what, weir_t, weir_t, "(no DPDK: no reference)");
#endif
		}
	}
	free(metas_all);
	if (only_flows) {
		free(frames);
		return 0;
	}

	build_frames(100000, 1);
	snprintf(path, sizeof(path), "%s/weir-bench-%d.pcap", tmp, (int)getpid());
	bench_write_pcap(path, frames, n_packets, FRAME, 1700000000, 1000);
	pcap_path = path;
	run_weir_reader(NULL); /* warm the page cache */
	lib_ns = median_ns(run_libpcap_reader, NULL);
	weir_ns = median_ns(run_weir_reader, NULL);
	row("file read: libpcap pcap_next_ex loop", lib_ns, lib_ns, "vs libpcap");
	row("file read: weir reader (drv_pcap)", weir_ns, lib_ns, "vs libpcap");
	unlink(path);
	free(frames);
	return 0;
}
