/*
 * bench_dpdk_rx: the bare DPDK receive loop, the reference bound for weir's DPDK path, and
 * the bound of any design that splits the receive and the flow work over two cores.
 *
 * Attaches one device (usually net_pcap with infinite_rx=1, an in-memory replay) and receives
 * on its queue 0 in bursts of 32 for a given time. Same port set-up as weir's driver: one RX
 * queue, a pool of the given size, promiscuous mode.
 *
 * --handoff none (the default): the bare loop; every mbuf is freed at once, nothing else is
 *   touched. Prints packets, seconds and Mpps.
 * --handoff idle|touch|flows: a two-core pipeline at its leanest. The receiving lcore writes a
 *   16-byte descriptor per packet (data pointer, lengths) into a single-producer ring and keeps
 *   the mbuf until the worker lcore says it is done (one counter per burst), then frees it
 *   itself, so no mbuf header ever moves between the cores; only the descriptors and, for
 *   touch and flows, the packet's data line do. The worker does nothing with a descriptor
 *   (idle), reads one byte of the packet (touch), or parses it and folds it into a flow cache
 *   (flows: capture_parse, flowcache_update_burst and the expiry sweep, as a weir worker).
 *   What does not fit in the ring is freed and counted as dropped. Prints the received and
 *   the delivered rate and the share dropped. Needs a second lcore (EAL -l A,B).
 *
 * Usage: bench_dpdk_rx --dev DEVARGS [--seconds S] [--mbufs N] [--handoff MODE] [--ring N]
 *                      -- EAL-ARGS
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>

#include "capture.h"
#include "flowcache.h"
#include "wr.h"

#define BURST    32
#define RX_DESCS 1024
#define HELD     16384 /* mbufs the receiving lcore may hold for the worker (power of two) */

enum handoff { HANDOFF_NONE, HANDOFF_IDLE, HANDOFF_TOUCH, HANDOFF_FLOWS, HANDOFF_MODES };
static const char *const handoff_names[HANDOFF_MODES] = {"none", "idle", "touch", "flows"};

/* What crosses the cores per packet. */
struct desc {
	const uint8_t *data;
	uint32_t caplen;
	uint32_t wirelen;
};

/* Each side's writes on a line of their own: the receiving loop must not miss on the worker's
 * counter more often than it looks at it. */
struct worker_ctx {
	enum handoff mode;
	struct wr_ring *ring;
	_Alignas(64) _Atomic uint64_t done; /* descriptors the worker is done with (it writes) */
	_Alignas(64) _Atomic int stop;      /* the receiving lcore writes */
	_Alignas(64) uint64_t sink;         /* keeps the touch mode's reads */
};

static int usage(void)
{
	fprintf(stderr, "usage: bench_dpdk_rx --dev DEVARGS [--seconds S] [--mbufs N] "
	                "[--handoff none|idle|touch|flows] [--ring N] -- EAL-ARGS\n");
	return 2;
}

/* The worker lcore: takes descriptors, does the mode's work, says how far it got. */
static int worker_main(void *arg)
{
	struct worker_ctx *w = arg;
	struct flowcache_params fp = {.max_flows = 1u << 20,
	                              .idle_timeout_ns = 15 * WR_NS_PER_S,
	                              .active_timeout_ns = 1800 * WR_NS_PER_S};
	struct flowcache *fc = w->mode == HANDOFF_FLOWS ? flowcache_create(&fp) : NULL;
	struct desc d[BURST];
	struct capture_pkt p = {.linktype = CAPTURE_LINK_ETHERNET};
	struct capture_meta metas[BURST];
	struct flowcache_record out[64];
	uint64_t done = 0, sink = 0;
	unsigned n, i, k = 0, e;

	if (w->mode == HANDOFF_FLOWS && fc == NULL) {
		fprintf(stderr, "bench_dpdk_rx: flowcache_create failed\n");
		exit(1);
	}
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		n = wr_ring_dequeue_burst(w->ring, d, BURST);
		if (n == 0) {
			/* a spinning poll of the ring's head takes the line from the producer */
			for (i = 0; i < 32; i++)
				rte_pause();
			continue;
		}
		if (w->mode == HANDOFF_TOUCH) {
			for (i = 0; i < n; i++)
				sink += d[i].data[20];
		} else if (w->mode == HANDOFF_FLOWS) {
			for (i = 0; i < n; i++)
				rte_prefetch0(d[i].data);
			p.ts_ns = wr_mono_ns();
			for (i = 0, k = 0; i < n; i++) {
				p.data = d[i].data;
				p.caplen = d[i].caplen;
				p.wirelen = d[i].wirelen;
				k += capture_parse(&p, NULL, &metas[k]) == CAPTURE_OK;
			}
		}
		done += n;
		/* the packets are parsed: their mbufs may go back while the table works */
		atomic_store_explicit(&w->done, done, memory_order_release);
		if (w->mode == HANDOFF_FLOWS) {
			flowcache_update_burst(fc, metas, k);
			do
				e = flowcache_expire(fc, p.ts_ns, out, 64);
			while (e == 64);
		}
	}
	w->sink = sink;
	flowcache_free(fc);
	return 0;
}

/* The receiving side of the hand-off; returns packets received, *ret_dropped those freed for
 * want of room in the ring. */
static uint64_t handoff_loop(uint16_t port, struct worker_ctx *w, uint64_t until,
                             uint64_t *ret_dropped)
{
	static struct rte_mbuf *held[HELD];
	struct wr_ring *ring = w->ring;
	struct rte_mbuf *pkts[BURST];
	struct desc d[BURST];
	uint64_t n = 0, dropped = 0, head = 0, freed = 0, done;
	unsigned i, put, at, m;
	uint16_t k;

	do {
		for (i = 0; i < 256; i++) {
			/* the worker's counter is another core's line: looked at every 8 bursts */
			done =
			    (i & 7) ? freed : atomic_load_explicit(&w->done, memory_order_acquire);
			while (freed < done) {
				at = (unsigned)(freed & (HELD - 1));
				m = (unsigned)(done - freed) < HELD - at ? (unsigned)(done - freed)
				                                         : HELD - at;
				rte_pktmbuf_free_bulk(&held[at], m);
				freed += m;
			}
			k = rte_eth_rx_burst(port, 0, pkts, BURST);
			if (k == 0)
				continue;
			n += k;
			if (HELD - (head - freed) < k) {
				rte_pktmbuf_free_bulk(pkts, k);
				dropped += k;
				continue;
			}
			for (m = 0; m < k; m++) {
				d[m].data = rte_pktmbuf_mtod(pkts[m], const uint8_t *);
				d[m].caplen = pkts[m]->data_len;
				d[m].wirelen = pkts[m]->pkt_len;
			}
			put = wr_ring_enqueue_burst(ring, d, k);
			for (m = 0; m < put; m++)
				held[(head + m) & (HELD - 1)] = pkts[m];
			head += put;
			if (put < k) {
				rte_pktmbuf_free_bulk(pkts + put, k - put);
				dropped += k - put;
			}
		}
	} while (rte_rdtsc() < until);
	atomic_store(&w->stop, 1);
	rte_eal_mp_wait_lcore();
	for (; freed < head; freed++) /* the worker is gone: what it was given goes back */
		rte_pktmbuf_free(held[freed & (HELD - 1)]);
	*ret_dropped = dropped;
	return n;
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *mode_name = "none";
	double seconds = 5, s;
	unsigned mbufs = 65535, ring_size = 1024, i, lcore;
	struct rte_eth_conf conf;
	struct rte_mempool *mp;
	struct rte_mbuf *pkts[BURST];
	static struct worker_ctx w = {.mode = HANDOFF_NONE};
	uint16_t port;
	uint64_t n = 0, dropped = 0, t0, t1, hz;
	int rc, eal_at = argc;

	for (i = 1; i < (unsigned)argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			eal_at = (int)i;
			break;
		}
		if (i + 1 >= (unsigned)argc)
			return usage();
		if (strcmp(argv[i], "--dev") == 0)
			dev = argv[++i];
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--mbufs") == 0)
			mbufs = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--ring") == 0)
			ring_size = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--handoff") == 0)
			mode_name = argv[++i];
		else
			return usage();
	}
	for (w.mode = 0; w.mode < HANDOFF_MODES && strcmp(mode_name, handoff_names[w.mode]);
	     w.mode++)
		;
	if (w.mode == HANDOFF_MODES || dev == NULL || seconds <= 0 || ring_size < BURST ||
	    ring_size > HELD)
		return usage();
	argv[eal_at] = argv[0]; /* the EAL's argv[0] */
	if (rte_eal_init(argc - eal_at, argv + eal_at) < 0) {
		fprintf(stderr, "bench_dpdk_rx: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	lcore = rte_get_next_lcore(-1, 1, 0);
	if (w.mode != HANDOFF_NONE && lcore >= RTE_MAX_LCORE) {
		fprintf(stderr, "bench_dpdk_rx: --handoff %s needs a second lcore (EAL -l A,B)\n",
		        mode_name);
		return 2;
	}
	if ((rc = rte_dev_probe(dev)) < 0) {
		fprintf(stderr, "bench_dpdk_rx: %s: %s\n", dev, strerror(-rc));
		return 1;
	}
	RTE_ETH_FOREACH_DEV(port)
	break;
	mp = rte_pktmbuf_pool_create("bench_rx", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                             rte_socket_id());
	memset(&conf, 0, sizeof(conf));
	if (mp == NULL) {
		fprintf(stderr, "bench_dpdk_rx: a pool of %u mbufs: %s\n", mbufs,
		        rte_strerror(rte_errno));
		return 1;
	}
	if ((rc = rte_eth_dev_configure(port, 1, 1, &conf)) < 0 ||
	    (rc = rte_eth_rx_queue_setup(port, 0, RX_DESCS, rte_eth_dev_socket_id(port), NULL,
	                                 mp)) < 0 ||
	    (rc = rte_eth_tx_queue_setup(port, 0, RX_DESCS, rte_eth_dev_socket_id(port), NULL)) <
	        0 ||
	    (rc = rte_eth_dev_start(port)) < 0) {
		fprintf(stderr, "bench_dpdk_rx: %s: port set-up failed: %s\n", dev, strerror(-rc));
		return 1;
	}
	rte_eth_promiscuous_enable(port);
	if (w.mode != HANDOFF_NONE) {
		if ((w.ring = wr_ring_create(ring_size, sizeof(struct desc))) == NULL) {
			fprintf(stderr, "bench_dpdk_rx: a ring of %u: %s\n", ring_size,
			        strerror(errno));
			return 1;
		}
		if ((rc = rte_eal_remote_launch(worker_main, &w, lcore)) < 0) {
			fprintf(stderr, "bench_dpdk_rx: lcore %u: %s\n", lcore, strerror(-rc));
			return 1;
		}
	}
	hz = rte_get_tsc_hz();
	t0 = rte_rdtsc();
	t1 = t0 + (uint64_t)(seconds * (double)hz);
	if (w.mode != HANDOFF_NONE) {
		n = handoff_loop(port, &w, t1, &dropped);
	} else {
		do {
			for (i = 0; i < 256; i++) {
				uint16_t k = rte_eth_rx_burst(port, 0, pkts, BURST);

				rte_pktmbuf_free_bulk(pkts, k);
				n += k;
			}
		} while (rte_rdtsc() < t1);
	}
	t1 = rte_rdtsc();
	s = (double)(t1 - t0) / (double)hz;
	printf("packets %" PRIu64 " seconds %.3f mpps %.3f", n, s, (double)n / s / 1e6);
	if (w.mode != HANDOFF_NONE)
		printf(" delivered_mpps %.3f dropped_pct %.2f", (double)(n - dropped) / s / 1e6,
		       n ? 100.0 * (double)dropped / (double)n : 0.0);
	printf("\n");
	wr_ring_free(w.ring);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	return 0;
}
