/*
 * bench_dpdk_rx: the bare DPDK receive loop, the reference bound for weir's DPDK path.
 *
 * Attaches one device (usually net_pcap with infinite_rx=1, an in-memory replay), receives on
 * its queue 0 in bursts of 32 and frees every mbuf, touching nothing else, for a given time;
 * prints packets, seconds and Mpps. Same port set-up as weir's driver: one RX queue, a pool
 * of the given size, promiscuous mode.
 *
 * Usage: bench_dpdk_rx --dev DEVARGS [--seconds S] [--mbufs N] -- EAL-ARGS
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define BURST    32
#define RX_DESCS 1024

static int usage(void)
{
	fprintf(stderr,
	        "usage: bench_dpdk_rx --dev DEVARGS [--seconds S] [--mbufs N] -- EAL-ARGS\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *dev = NULL;
	double seconds = 5;
	unsigned mbufs = 65535, i;
	struct rte_eth_conf conf;
	struct rte_mempool *mp;
	struct rte_mbuf *pkts[BURST];
	uint16_t port;
	uint64_t n = 0, t0, t1, hz;
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
		else
			return usage();
	}
	if (dev == NULL || seconds <= 0)
		return usage();
	argv[eal_at] = argv[0]; /* the EAL's argv[0] */
	if (rte_eal_init(argc - eal_at, argv + eal_at) < 0) {
		fprintf(stderr, "bench_dpdk_rx: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
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
	hz = rte_get_tsc_hz();
	t0 = rte_rdtsc();
	t1 = t0 + (uint64_t)(seconds * (double)hz);
	do {
		for (i = 0; i < 256; i++) {
			uint16_t k = rte_eth_rx_burst(port, 0, pkts, BURST);

			rte_pktmbuf_free_bulk(pkts, k);
			n += k;
		}
	} while (rte_rdtsc() < t1);
	t1 = rte_rdtsc();
	printf("packets %" PRIu64 " seconds %.3f mpps %.3f\n", n, (double)(t1 - t0) / (double)hz,
	       (double)n / ((double)(t1 - t0) / (double)hz) / 1e6);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	return 0;
}
