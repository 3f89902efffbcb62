/*
 * drv_dpdk: the "dpdk" capture driver.
 *
 * open() does all the setting up, so that every error surfaces before anything runs: it
 * initialises the EAL once per process, finds the port by name or attaches the virtual device,
 * counts the packets of net_pcap's files with weir's own reader, creates one mbuf pool on the
 * port's socket, configures Q RX queues (with symmetric RSS where the device has it, checked
 * by reading the key back) and starts the port.
 *
 * rx_burst_queue() is rte_eth_rx_burst() plus the translation into capture_pkt. The mbufs of
 * a burst stay with their queue until the next call on it, when they go back to the pool in
 * one bulk free: no copy. A packet's time is the mbuf's dynamic timestamp when the PMD set one
 * (net_pcap: microseconds since the epoch; a NIC: its clock, mapped to wall time), else the
 * TSC at the burst, mapped to wall time. Both mappings are re-anchored once a second by the
 * queue's reader and their rate refined over the whole run, so they do not drift.
 *
 * Locking: open, close and the process-wide EAL state are serialised by one mutex; the receive
 * path takes none (each queue has one reader at a time), and stop() only sets a flag.
 */
#include "drv_dpdk.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include <rte_thash.h>

#include "drv_dpdk_internal.h"
#include "drv_pcap.h"
#include "wr.h"

#define DPDK_BURST_MAX     512  /* packets per call, held by the queue until the next one */
#define DPDK_BURST_TYPICAL 64   /* what the default pool is sized for (the probe asks 32) */
#define DPDK_RXD           1024 /* RX descriptors per queue, before the device's limits */
#define DPDK_TXD           512
#define DPDK_CACHE         256  /* mempool cache per lcore */
#define DPDK_MBUFS_MIN     8191 /* default pool floor: bursts of chained jumbo frames */
#define DPDK_RSS_KEY_MAX   128
#define DPDK_FILES_MAX     16 /* net_pcap's RTE_PMD_PCAP_MAX_QUEUES */
#define DPDK_PREFETCH      4
#define DPDK_EAL_ARGS      64

/* ---------------------------------------------------------------------------------------- */
/* Clocks                                                                                     */

/*
 * A free-running counter (the TSC or a device clock) mapped to wall time: a count read
 * together with CLOCK_REALTIME is the anchor, and counts convert at `mult` ns per count
 * (32.32 fixed point). The rate comes from the first reading and CLOCK_MONOTONIC_RAW, so it
 * gets more exact the longer the run, whatever DPDK estimated at start.
 */
struct dpdk_clock {
	uint64_t c_anchor, w_anchor; /* a count and the wall time in ns read with it */
	uint64_t c_base, m_base;     /* the first count and CLOCK_MONOTONIC_RAW ns then */
	uint64_t mult;               /* ns per count << 32 */
	uint64_t tsc_next;           /* TSC after which to take a new anchor */
	int port;                    /* the device clock of this port, or -1: the TSC */
};

/* The monotonic clock without NTP's slewing: what a counter's rate is measured against. */
static uint64_t mono_raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * WR_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int counter_read(int port, uint64_t *ret)
{
	if (port < 0) {
		*ret = rte_rdtsc();
		return 0;
	}
	return rte_eth_read_clock((uint16_t)port, ret);
}

static uint64_t rate_mult(uint64_t counts, uint64_t ns)
{
	return counts ? (uint64_t)(((unsigned __int128)ns << 32) / counts) : 0;
}

static void clock_anchor(struct dpdk_clock *c)
{
	uint64_t w = wr_wall_ns(), m = mono_raw_ns(), cnt;

	c->tsc_next = rte_rdtsc() + rte_get_tsc_hz();
	if (counter_read(c->port, &cnt) != 0)
		return;
	if (m - c->m_base >= WR_NS_PER_S && cnt > c->c_base)
		c->mult = rate_mult(cnt - c->c_base, m - c->m_base);
	c->c_anchor = cnt;
	c->w_anchor = w;
}

/* Starts a clock on a counter of `hz` counts per second. */
static void clock_init(struct dpdk_clock *c, int port, uint64_t hz)
{
	memset(c, 0, sizeof(*c));
	c->port = port;
	c->mult = rate_mult(hz, WR_NS_PER_S);
	c->m_base = mono_raw_ns();
	if (counter_read(port, &c->c_base) != 0)
		c->c_base = 0;
	clock_anchor(c);
}

static inline uint64_t clock_ns(const struct dpdk_clock *c, uint64_t count)
{
	__int128 d = (int64_t)(count - c->c_anchor);

	return c->w_anchor + (uint64_t)((d * (__int128)c->mult) >> 32);
}

/* ---------------------------------------------------------------------------------------- */
/* Handles                                                                                    */

enum dpdk_ts {
	DPDK_TS_TSC,    /* no timestamps from the device: the TSC at the burst */
	DPDK_TS_PCAP,   /* net_pcap: microseconds since the epoch in the dynamic field */
	DPDK_TS_DEVICE, /* the device clock in the dynamic field, mapped to wall time */
};

struct dpdk_queue {
	struct rte_mbuf *held[DPDK_BURST_MAX]; /* the last burst, freed at the next call */
	unsigned n_held;
	uint16_t linktype;
	int failed;              /* a finite queue ended short: -EIO from now on */
	uint64_t packets, bytes; /* handed out; written by the reader, read by stats() */
	uint64_t expected;       /* finite input: packets of the file; UINT64_MAX when live */
	uint64_t seen_ierrors, seen_nombuf; /* device counters at the last empty poll */
	struct dpdk_clock tsc;              /* time of bursts */
	struct dpdk_clock dev;              /* DPDK_TS_DEVICE: the device clock */
} __rte_cache_aligned;

struct drv_dpdk {
	struct dpdk_queue *q;
	unsigned nq;
	uint16_t port_id;
	uint16_t in_port; /* params->port, stamped into every packet */
	int stopped;      /* set by stop(), from any thread */
	enum dpdk_ts ts_mode;
	int ts_off;       /* dynamic timestamp field, valid when ts_flag != 0 */
	uint64_t ts_flag; /* ol_flags bit saying the field is set */
	uint64_t dev_hz;  /* DPDK_TS_DEVICE: device clock counts per second */
	uint32_t caps;
	int attached; /* we attached the device: it was not there before */
	int owned;    /* the port is ours: port_release() gives it back */
	int started;
	struct rte_device *dev;
	struct rte_mempool *pool;
	char *devargs; /* what attaches the device again after close */
	char name[RTE_DEV_NAME_MAX_LEN];
	char describe[384];
	char last_error[CAPTURE_ERR_LEN];
};

/* What the devargs of a net_pcap device say about its RX queues. */
struct dpdk_files {
	unsigned n;     /* rx_pcap files, one per queue in this order */
	int finite;     /* files only, no infinite_rx, no interface */
	int infinite;   /* infinite_rx: the PMD loads each file into mbufs at setup */
	uint64_t total; /* packets in all files */
	uint64_t cut;   /* packets captured shorter than on the wire */
	uint32_t max_caplen;
	uint64_t count[DPDK_FILES_MAX];
	uint16_t linktype[DPDK_FILES_MAX];
};

/* Process-wide state, under dpdk_lock. */
enum eal_state { EAL_NONE, EAL_UP, EAL_FAILED, EAL_DOWN };

/* A device that was there before weir opened it (PCI, --vdev) and that close() detached: its
 * devargs attach it again when it is opened next. */
struct dpdk_known {
	struct dpdk_known *next;
	char *devargs;
	char name[RTE_DEV_NAME_MAX_LEN];
};

static pthread_mutex_t dpdk_lock = PTHREAD_MUTEX_INITIALIZER;
static enum eal_state eal_state;
static char eal_error[CAPTURE_ERR_LEN];
static char *eal_args[DPDK_EAL_ARGS + 8]; /* kept: the EAL may point into them */
static int eal_nargs;
static unsigned open_handles;
static unsigned pool_seq;
static uint8_t port_busy[RTE_MAX_ETHPORTS];
static struct dpdk_known *known;

/* ---------------------------------------------------------------------------------------- */
/* RSS                                                                                        */

void drv_dpdk_rss_key_fill(uint8_t *key, unsigned len)
{
	unsigned i;

	for (i = 0; i < len; i++)
		key[i] = i % 2 ? DRV_DPDK_RSS_KEY_BYTE1 : DRV_DPDK_RSS_KEY_BYTE0;
}

/* Hashes a tuple and its reverse, addresses alone and with ports; 1 when both agree. Adds
 * the hashes to *ret_xor so that the caller can see they are not all the same. */
static int rss_pair_equal(uint32_t *fwd, uint32_t *rev, uint32_t l3_len, uint32_t l4_len,
                          const uint8_t *key, uint32_t *ret_or, uint32_t *ret_and)
{
	uint32_t a3 = rte_softrss(fwd, l3_len, key), b3 = rte_softrss(rev, l3_len, key);
	uint32_t a4 = rte_softrss(fwd, l4_len, key), b4 = rte_softrss(rev, l4_len, key);

	*ret_or |= a3 | a4;
	*ret_and &= a3 & a4;
	return a3 == b3 && a4 == b4;
}

int drv_dpdk_rss_key_symmetric(const uint8_t *key, unsigned len)
{
	/* addresses and ports, host order, as the NIC reads them from the wire */
	static const uint32_t v4[3][4] = {
	    {0x0a000001, 0xc0a80102, 1234, 80},
	    {0xc0000201, 0x08080808, 53000, 53},
	    {0x7f000001, 0xfffffffe, 65535, 1},
	};
	static const uint32_t v6[2][10] = {
	    {0x20010db8, 0, 0, 1, 0x20010db8, 0x00010002, 0x00030004, 0x00050006, 443, 50000},
	    {0xfe800000, 0, 0x021122ff, 0xfe334455, 0xff020000, 0, 0, 0xfb, 5353, 5353},
	};
	uint32_t hash_or = 0, hash_and = UINT32_MAX;
	unsigned i;

	if (len < 40) /* an IPv6 tuple with ports is 36 bytes, plus 4 of key window */
		return 0;
	for (i = 0; i < RTE_DIM(v4); i++) {
		struct rte_ipv4_tuple f = {.src_addr = v4[i][0], .dst_addr = v4[i][1]};
		struct rte_ipv4_tuple r = {.src_addr = v4[i][1], .dst_addr = v4[i][0]};

		f.sport = (uint16_t)v4[i][2];
		f.dport = (uint16_t)v4[i][3];
		r.sport = f.dport;
		r.dport = f.sport;
		if (!rss_pair_equal((uint32_t *)&f, (uint32_t *)&r, RTE_THASH_V4_L3_LEN,
		                    RTE_THASH_V4_L4_LEN, key, &hash_or, &hash_and))
			return 0;
	}
	for (i = 0; i < RTE_DIM(v6); i++) {
		struct rte_ipv6_tuple f, r;

		memset(&f, 0, sizeof(f));
		memset(&r, 0, sizeof(r));
		memcpy(f.src_addr, &v6[i][0], 16);
		memcpy(f.dst_addr, &v6[i][4], 16);
		memcpy(r.src_addr, &v6[i][4], 16);
		memcpy(r.dst_addr, &v6[i][0], 16);
		f.sport = (uint16_t)v6[i][8];
		f.dport = (uint16_t)v6[i][9];
		r.sport = f.dport;
		r.dport = f.sport;
		if (!rss_pair_equal((uint32_t *)&f, (uint32_t *)&r, RTE_THASH_V6_L3_LEN,
		                    RTE_THASH_V6_L4_LEN, key, &hash_or, &hash_and))
			return 0;
	}
	/* a key that hashes everything alike (all zeros) is symmetric but spreads nothing */
	return hash_or != hash_and;
}

/* Reads the RSS configuration back after start and checks it is the symmetric one we set.
 * Returns 1, or 0 with the reason in why. */
static int rss_verify(uint16_t port_id, const uint8_t *key, unsigned key_len, char *why,
                      size_t whylen)
{
	uint8_t back[DPDK_RSS_KEY_MAX];
	struct rte_eth_rss_conf conf = {.rss_key = back, .rss_key_len = (uint8_t)key_len};
	int rc;

	memset(back, 0, sizeof(back));
	rc = rte_eth_dev_rss_hash_conf_get(port_id, &conf);
	if (rc < 0)
		snprintf(why, whylen, "rte_eth_dev_rss_hash_conf_get: %s", strerror(-rc));
	else if (!(conf.rss_hf & RTE_ETH_RSS_IP))
		snprintf(why, whylen, "the device hashes no IP fields");
	else if (memcmp(back, key, key_len) != 0)
		snprintf(why, whylen, "the key read back is not the one set");
	else if (!drv_dpdk_rss_key_symmetric(back, key_len))
		snprintf(why, whylen, "the key read back does not hash both directions alike");
	else
		return 1;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* EAL                                                                                        */

static int eal_add(const char *arg)
{
	if (eal_nargs >= (int)RTE_DIM(eal_args) - 1)
		return -E2BIG;
	eal_args[eal_nargs] = strdup(arg);
	if (eal_args[eal_nargs] == NULL)
		return -ENOMEM;
	eal_nargs++;
	return 0;
}

static void eal_args_free(void)
{
	while (eal_nargs > 0)
		free(eal_args[--eal_nargs]);
}

/* The first CPU this thread may run on, so that the default main lcore is one we are allowed
 * to use. */
static int first_cpu(void)
{
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				return i;
	return 0;
}

/* Initialises the EAL on the first call in the process. Called under dpdk_lock. */
static int eal_start(const struct capture_open_params *params, char *err, size_t errlen)
{
	char *argv[RTE_DIM(eal_args)], cpu[16], shown[CAPTURE_ERR_LEN / 2] = "";
	int i, rc = 0, has_log = 0, no_huge = 0, argc = params ? params->eal_argc : 0;
	cpu_set_t affinity;
	int have_affinity;
	size_t off = 0;

	if (eal_state == EAL_UP)
		return 0;
	if (eal_state == EAL_FAILED) {
		snprintf(err, errlen, "%s", eal_error);
		return -EIO;
	}
	if (eal_state == EAL_DOWN) {
		snprintf(err, errlen, "the DPDK EAL was shut down");
		return -ESHUTDOWN;
	}
	if (argc > DPDK_EAL_ARGS) {
		snprintf(err, errlen, "%d EAL arguments (at most %d)", argc, DPDK_EAL_ARGS);
		return -E2BIG;
	}
	rc = eal_add("weir");
	for (i = 0; i < argc; i++)
		no_huge |= strcmp(params->eal_argv[i], "--no-huge") == 0;
	for (i = 0; i < argc && rc == 0; i++) {
		const char *a = params->eal_argv[i];

		has_log |= strncmp(a, "--log-level", 11) == 0;
		/* DPDK 22.11 refuses --in-memory beside --no-huge (which implies legacy memory);
		 * --no-shconf keeps what --in-memory is for there: no files in /var/run. */
		if (no_huge && strcmp(a, "--in-memory") == 0)
			a = "--no-shconf";
		rc = eal_add(a);
	}
	if (argc == 0 && rc == 0) {
		snprintf(cpu, sizeof(cpu), "%d", first_cpu());
		rc = eal_add("--in-memory");
		if (rc == 0)
			rc = eal_add("-l");
		if (rc == 0)
			rc = eal_add(cpu);
	}
	if (!has_log && rc == 0)
		rc = eal_add("--log-level=warning");
	if (rc < 0) {
		eal_args_free();
		snprintf(err, errlen, "EAL arguments: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < eal_nargs; i++) {
		argv[i] = eal_args[i];
		if (off < sizeof(shown))
			off += (size_t)snprintf(shown + off, sizeof(shown) - off, "%s%s",
			                        i ? " " : "", eal_args[i]);
	}
	argv[eal_nargs] = NULL;
	/* rte_eal_init() pins the calling thread to the main lcore, and every thread it starts
	 * later would inherit that: give it back the CPUs it had. */
	have_affinity = pthread_getaffinity_np(pthread_self(), sizeof(affinity), &affinity) == 0;
	rc = rte_eal_init(eal_nargs, argv);
	if (have_affinity)
		pthread_setaffinity_np(pthread_self(), sizeof(affinity), &affinity);
	if (rc < 0 && rte_errno == EALREADY && rte_lcore_count() > 0) {
		eal_state = EAL_UP; /* the program initialised the EAL itself */
		return 0;
	}
	if (rc < 0) {
		snprintf(eal_error, sizeof(eal_error), "rte_eal_init (%s): %s%s", shown,
		         rte_strerror(rte_errno),
		         argc ? ""
		              : " (without hugepages, give EAL arguments after --, such as "
		                "--no-huge --no-shconf -m 512)");
		eal_state = EAL_FAILED;
		snprintf(err, errlen, "%s", eal_error);
		return -EIO;
	}
	eal_state = EAL_UP;
	return 0;
}

void drv_dpdk_cleanup(void)
{
	pthread_mutex_lock(&dpdk_lock);
	if (open_handles == 0) {
		if (eal_state == EAL_UP) {
			rte_eal_cleanup();
			eal_state = EAL_DOWN;
		}
		while (known) {
			struct dpdk_known *k = known;

			known = k->next;
			free(k->devargs);
			free(k);
		}
		eal_args_free();
	}
	pthread_mutex_unlock(&dpdk_lock);
}

/* ---------------------------------------------------------------------------------------- */
/* Finding, attaching and detaching devices                                                   */

static struct dpdk_known *known_find(const char *name)
{
	struct dpdk_known *k;

	for (k = known; k; k = k->next)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static void known_add(const char *name, const char *devargs)
{
	struct dpdk_known *k = known_find(name);
	char *copy = strdup(devargs);

	if (copy == NULL)
		return;
	if (k == NULL) {
		k = calloc(1, sizeof(*k));
		if (k == NULL) {
			free(copy);
			return;
		}
		snprintf(k->name, sizeof(k->name), "%s", name);
		k->next = known;
		known = k;
	}
	free(k->devargs);
	k->devargs = copy;
}

/* Counts the packets of one rx_pcap file with weir's own reader. */
static int file_count(const char *path, struct dpdk_files *f, char *err, size_t errlen)
{
	struct capture_open_params p = {0};
	struct capture_pkt pkts[256];
	char msg[CAPTURE_ERR_LEN] = "";
	uint64_t n = 0;
	uint16_t lt = CAPTURE_LINK_ETHERNET;
	struct stat st;
	void *h = NULL;
	int rc, i;

	if (stat(path, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "rx_pcap=%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	rc = drv_pcap_ops.open(path, &p, &h, msg, sizeof(msg));
	if (rc < 0) {
		snprintf(err, errlen, "rx_pcap=%s: %s", path, msg);
		return rc;
	}
	while ((rc = drv_pcap_ops.rx_burst(h, pkts, RTE_DIM(pkts))) >= 0) {
		for (i = 0; i < rc; i++, n++) {
			if (n == 0)
				lt = pkts[i].linktype;
			if (pkts[i].linktype != lt) {
				snprintf(err, errlen,
				         "rx_pcap=%s: packets of link types %u and %u: net_pcap "
				         "cannot tell them apart",
				         path, lt, pkts[i].linktype);
				drv_pcap_ops.close(h);
				return -EINVAL;
			}
			f->cut += pkts[i].caplen < pkts[i].wirelen;
			if (pkts[i].caplen > f->max_caplen)
				f->max_caplen = pkts[i].caplen;
		}
	}
	if (rc != -ENODATA) {
		snprintf(err, errlen, "rx_pcap=%s: %s", path, drv_pcap_ops.last_error(h));
		drv_pcap_ops.close(h);
		return rc;
	}
	drv_pcap_ops.close(h);
	f->count[f->n] = n;
	f->linktype[f->n] = lt;
	f->n++;
	f->total += n;
	return 0;
}

/* Reads the devargs of a net_pcap device (name, args) and counts its files. Other devices
 * leave *f zero. */
static int files_read(const char *name, const char *args, struct dpdk_files *f, char *err,
                      size_t errlen)
{
	struct rte_kvargs *kv;
	int rc = 0, live = 0;
	unsigned i;

	memset(f, 0, sizeof(*f));
	if (strncmp(name, "net_pcap", 8) != 0 || args == NULL || args[0] == '\0')
		return 0;
	kv = rte_kvargs_parse(args, NULL);
	if (kv == NULL) {
		snprintf(err, errlen, "%s: cannot parse the arguments '%s'", name, args);
		return -EINVAL;
	}
	for (i = 0; i < kv->count && rc == 0; i++) {
		const char *key = kv->pairs[i].key, *val = kv->pairs[i].value;

		if (strcmp(key, "rx_pcap") == 0) {
			if (f->n == DPDK_FILES_MAX) {
				snprintf(err, errlen, "%s: more than %d rx_pcap files", name,
				         DPDK_FILES_MAX);
				rc = -E2BIG;
			} else {
				rc = file_count(val ? val : "", f, err, errlen);
			}
		} else if (strcmp(key, "infinite_rx") == 0) {
			f->infinite = val && atoi(val) > 0;
		} else if (strcmp(key, "iface") == 0 || strncmp(key, "rx_iface", 8) == 0) {
			live = 1;
		}
	}
	rte_kvargs_free(kv);
	if (rc < 0) {
		/* name the device in front of the file's message */
		char msg[CAPTURE_ERR_LEN];

		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, errlen, "%s: %s", name, msg);
		return rc;
	}
	f->finite = f->n > 0 && !f->infinite && !live;
	return 0;
}

/* The arguments part of a devargs string ("" when there is none). */
static const char *devargs_args(const char *devargs)
{
	const char *comma = strchr(devargs, ',');

	return comma ? comma + 1 : "";
}

/*
 * Finds the port named h->name, or attaches the device: spec, or the devargs it had when it
 * was last detached. Counts net_pcap's files (before attaching, so that a missing file is
 * reported as such). Called under dpdk_lock.
 */
static int port_acquire(struct drv_dpdk *h, const char *spec, struct dpdk_files *f, char *err,
                        size_t errlen)
{
	struct rte_eth_dev_info info;
	uint16_t pid;
	int rc;

	if (rte_eth_dev_get_port_by_name(h->name, &pid) == 0) {
		const struct rte_devargs *da;
		char buf[1024];

		if (port_busy[pid]) {
			snprintf(err, errlen, "%s: in use by another input", h->name);
			return -EBUSY;
		}
		rc = rte_eth_dev_info_get(pid, &info);
		if (rc < 0) {
			snprintf(err, errlen, "%s: rte_eth_dev_info_get: %s", h->name,
			         strerror(-rc));
			return rc;
		}
		da = info.device ? rte_dev_devargs(info.device) : NULL;
		if (da && da->args && da->args[0])
			snprintf(buf, sizeof(buf), "%s,%s", h->name, da->args);
		else
			snprintf(buf, sizeof(buf), "%s", h->name);
		h->devargs = strdup(buf);
		rc = files_read(h->name, devargs_args(buf), f, err, errlen);
		if (rc < 0)
			return rc;
	} else {
		const struct dpdk_known *k = known_find(h->name);
		const char *use = strchr(spec, ',') == NULL && k ? k->devargs : spec;

		h->devargs = strdup(use);
		rc = files_read(h->name, devargs_args(use), f, err, errlen);
		if (rc < 0)
			return rc;
		if (h->devargs == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		rc = rte_dev_probe(use);
		if (rc == -EFAULT) /* rte_devargs_parse(): no bus claims the name */
			snprintf(err, errlen,
			         "%s: no bus or driver knows this device (a PCI address, or a "
			         "virtual device such as net_pcap0)",
			         h->name);
		else if (rc == -EPERM) /* the driver's probe said -1 */
			snprintf(err, errlen,
			         "%s: rte_dev_probe: the driver refused the device or its "
			         "arguments (see the EAL log)",
			         h->name);
		else if (rc < 0)
			snprintf(err, errlen, "%s: rte_dev_probe: %s", h->name, strerror(-rc));
		if (rc < 0)
			return rc;
		if (rte_eth_dev_get_port_by_name(h->name, &pid) != 0) {
			struct rte_devargs da;

			if (rte_devargs_parse(&da, use) == 0) {
				rte_eal_hotplug_remove(rte_bus_name(da.bus), da.name);
				rte_devargs_reset(&da);
			}
			snprintf(err, errlen, "%s: attached, but it is not an Ethernet port",
			         h->name);
			return -ENODEV;
		}
		h->attached = 1;
	}
	h->port_id = pid;
	port_busy[pid] = 1;
	h->owned = 1;
	/* from here on port_release() undoes what we did */
	rc = rte_eth_dev_info_get(pid, &info);
	if (rc < 0) {
		snprintf(err, errlen, "%s: rte_eth_dev_info_get: %s", h->name, strerror(-rc));
		return rc;
	}
	h->dev = info.device;
	if (h->devargs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* Stops and closes the port and detaches its device, remembering how to attach a device
 * that was there before us. Called under dpdk_lock. */
static void port_release(struct drv_dpdk *h)
{
	if (h->started)
		rte_eth_dev_stop(h->port_id);
	h->started = 0;
	rte_eth_dev_close(h->port_id);
	if (h->dev) {
		if (!h->attached && h->devargs)
			known_add(h->name, h->devargs);
		rte_dev_remove(h->dev);
	}
	port_busy[h->port_id] = 0;
	h->owned = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Port set-up                                                                                */

struct dpdk_setup {
	struct rte_eth_conf conf;
	uint8_t key[DPDK_RSS_KEY_MAX];
	unsigned key_len; /* 0: no RSS asked for */
	uint16_t rxd, txd, mtu;
	int socket;
	char rss_why[128]; /* why there is no symmetric RSS, "" when there is */
	char ts_why[128];  /* why device timestamps are not used, "" when they are or none */
};

static int port_start(struct drv_dpdk *h, struct dpdk_setup *s, uint16_t ntx,
                      const struct capture_open_params *params, char *err, size_t errlen)
{
	unsigned q;
	int rc;

	rc = rte_eth_dev_configure(h->port_id, (uint16_t)h->nq, ntx, &s->conf);
	if (rc < 0) {
		if (params->mtu)
			snprintf(err, errlen, "%s: rte_eth_dev_configure (MTU %u): %s", h->name,
			         params->mtu, strerror(-rc));
		else
			snprintf(err, errlen, "%s: rte_eth_dev_configure: %s", h->name,
			         strerror(-rc));
		return rc;
	}
	for (q = 0; q < h->nq; q++) {
		rc = rte_eth_rx_queue_setup(h->port_id, (uint16_t)q, s->rxd, (unsigned)s->socket,
		                            NULL, h->pool);
		if (rc < 0) {
			snprintf(err, errlen, "%s: rte_eth_rx_queue_setup (queue %u): %s", h->name,
			         q, strerror(-rc));
			return rc;
		}
	}
	if (ntx) {
		rc = rte_eth_tx_queue_setup(h->port_id, 0, s->txd, (unsigned)s->socket, NULL);
		if (rc < 0) {
			snprintf(err, errlen, "%s: rte_eth_tx_queue_setup: %s", h->name,
			         strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_promiscuous_enable(h->port_id);
	if (rc < 0 && rc != -ENOTSUP) {
		snprintf(err, errlen, "%s: rte_eth_promiscuous_enable: %s", h->name, strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_start(h->port_id);
	if (rc < 0) {
		snprintf(err, errlen, "%s: rte_eth_dev_start: %s", h->name, strerror(-rc));
		return rc;
	}
	h->started = 1;
	return 0;
}

/* Measures the device clock against CLOCK_MONOTONIC_RAW over 20 ms; 0 if it cannot be read
 * or does not run. */
static uint64_t device_clock_hz(uint16_t port_id, char *why, size_t whylen)
{
	struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
	uint64_t c0, c1, m0, m1;
	int rc;

	m0 = mono_raw_ns();
	rc = rte_eth_read_clock(port_id, &c0);
	if (rc == 0) {
		nanosleep(&pause, NULL);
		m1 = mono_raw_ns();
		rc = rte_eth_read_clock(port_id, &c1);
		if (rc == 0 && c1 > c0 && m1 > m0)
			return (uint64_t)((unsigned __int128)(c1 - c0) * WR_NS_PER_S / (m1 - m0));
		if (rc == 0) {
			snprintf(why, whylen, "the device clock does not run");
			return 0;
		}
	}
	snprintf(why, whylen, "rte_eth_read_clock: %s", strerror(-rc));
	return 0;
}

static void describe_build(struct drv_dpdk *h, const struct dpdk_setup *s,
                           const struct dpdk_files *f)
{
	const char *ts;
	size_t off;

	off = (size_t)snprintf(h->describe, sizeof(h->describe), "%s: %u RX queue%s", h->name,
	                       h->nq, h->nq == 1 ? "" : "s");
	if (h->caps & CAPTURE_CAP_SYMMETRIC_RSS)
		off += (size_t)snprintf(h->describe + off, sizeof(h->describe) - off,
		                        ", symmetric RSS (Toeplitz key 6d5a)");
	else if (h->nq > 1)
		off += (size_t)snprintf(h->describe + off, sizeof(h->describe) - off,
		                        ", %s: software steering", s->rss_why);
	switch (h->ts_mode) {
	case DPDK_TS_PCAP:
		ts = f->n ? "timestamps from the device (the files', to the microsecond)"
		          : "timestamps from the device";
		break;
	case DPDK_TS_DEVICE:
		ts = "timestamps from the device clock";
		break;
	default:
		ts = "TSC clock";
	}
	if (off < sizeof(h->describe))
		off += (size_t)snprintf(h->describe + off, sizeof(h->describe) - off, ", %s%s%s%s",
		                        ts, s->ts_why[0] ? " (device timestamps unused: " : "",
		                        s->ts_why, s->ts_why[0] ? ")" : "");
	if (f->cut && off < sizeof(h->describe))
		snprintf(h->describe + off, sizeof(h->describe) - off,
		         "; %" PRIu64 " packets were captured short and net_pcap gives their "
		         "captured length as wire length",
		         f->cut);
}

/* Configures and starts the port h->port_id. Called under dpdk_lock. */
static int port_setup(struct drv_dpdk *h, const struct capture_open_params *params,
                      const struct dpdk_files *f, char *err, size_t errlen)
{
	struct dpdk_setup *s;
	struct rte_eth_dev_info info;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	uint32_t overhead, frame, room, n, need, cache;
	uint64_t inf = f->infinite ? f->total : 0;
	int rc, is_pcap, is_vdev;
	unsigned q;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = rte_eth_dev_info_get(h->port_id, &info);
	if (rc < 0) {
		snprintf(err, errlen, "%s: rte_eth_dev_info_get: %s", h->name, strerror(-rc));
		goto out;
	}
	is_pcap = info.driver_name && strcmp(info.driver_name, "net_pcap") == 0;
	is_vdev = info.device && strcmp(rte_bus_name(rte_dev_bus(info.device)), "vdev") == 0;

	/* queues: net_pcap has one source per queue, and each must be read */
	h->nq = is_pcap ? info.max_rx_queues : (params->queues ? params->queues : 1);
	if (h->nq > info.max_rx_queues)
		h->nq = info.max_rx_queues;
	if (h->nq == 0) {
		snprintf(err, errlen, "%s: the device has no RX queue", h->name);
		rc = -EINVAL;
		goto out;
	}
	if (f->n && f->n != h->nq) {
		snprintf(err, errlen, "%s: %u RX queues for %u rx_pcap files", h->name, h->nq,
		         f->n);
		rc = -EINVAL;
		goto out;
	}
	s->socket = rte_eth_dev_socket_id(h->port_id);
	if (s->socket < 0)
		s->socket = SOCKET_ID_ANY;

	/* frame size: a buffer holds a frame of the MTU, or frames arrive in chains */
	if (params->mtu) {
		if (params->mtu < info.min_mtu || params->mtu > info.max_mtu) {
			snprintf(err, errlen, "%s: MTU %u refused: the device takes %u to %u",
			         h->name, params->mtu, info.min_mtu, info.max_mtu);
			rc = -EINVAL;
			goto out;
		}
		s->mtu = params->mtu;
	} else if (rte_eth_dev_get_mtu(h->port_id, &s->mtu) != 0 || s->mtu == 0) {
		s->mtu = RTE_ETHER_MTU;
	}
	s->conf.rxmode.mtu = s->mtu; /* 0 would mean 1500 to rte_eth_dev_configure */
	overhead = info.max_mtu != UINT16_MAX && info.max_rx_pktlen > info.max_mtu
	               ? info.max_rx_pktlen - info.max_mtu
	               : RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
	frame = s->mtu + overhead + 2 * RTE_VLAN_HLEN;
	room = RTE_MBUF_DEFAULT_DATAROOM;
	if (frame > room) {
		if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
			s->conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
		else
			room = RTE_MIN(RTE_ALIGN_CEIL(frame, 64),
			               (uint32_t)UINT16_MAX - RTE_PKTMBUF_HEADROOM);
	}
	/* infinite_rx keeps each packet in one mbuf: it refuses chains */
	if (f->infinite && f->max_caplen > room)
		room = RTE_MIN(f->max_caplen, (uint32_t)UINT16_MAX - RTE_PKTMBUF_HEADROOM);
	if (info.min_rx_bufsize > room + RTE_PKTMBUF_HEADROOM)
		room = info.min_rx_bufsize - RTE_PKTMBUF_HEADROOM;

	/* RSS: only a physical device's hash is a hash of the packet (net_null accepts one) */
	if (h->nq == 1)
		s->rss_why[0] = '\0';
	else if (is_vdev)
		snprintf(s->rss_why, sizeof(s->rss_why), "no RSS");
	else if (!(info.flow_type_rss_offloads & RTE_ETH_RSS_IP))
		snprintf(s->rss_why, sizeof(s->rss_why), "no RSS on IP");
	else if (info.hash_key_size < 40 || info.hash_key_size > DPDK_RSS_KEY_MAX)
		snprintf(s->rss_why, sizeof(s->rss_why), "RSS key of %u bytes", info.hash_key_size);
	else
		s->key_len = info.hash_key_size;
	if (s->key_len) {
		drv_dpdk_rss_key_fill(s->key, s->key_len);
		s->conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		s->conf.rx_adv_conf.rss_conf.rss_key = s->key;
		s->conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)s->key_len;
		/* Addresses only: a NIC hashes IP fragments on their addresses, so hashing the
		 * ports too would send a fragmented packet's pieces to another worker than the
		 * rest of its flow. */
		s->conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
	}

	/* timestamps: the field is registered for every device, as net_pcap fills it unasked */
	if (rte_mbuf_dyn_rx_timestamp_register(&h->ts_off, &h->ts_flag) != 0)
		h->ts_flag = 0;
	if (is_pcap && h->ts_flag)
		h->ts_mode = DPDK_TS_PCAP;
	else if (h->ts_flag && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP))
		s->conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;

	/* the pool: rings, the bursts held and in flight (net_pcap chains a long packet over
	 * several mbufs), caches, infinite_rx's copies */
	s->rxd = DPDK_RXD;
	s->txd = DPDK_TXD;
	rte_eth_dev_adjust_nb_rx_tx_desc(h->port_id, &s->rxd, &s->txd);
	need = h->nq * (s->rxd + DPDK_BURST_MAX) + (uint32_t)inf;
	n = params->mbufs;
	if (n == 0) {
		uint64_t segs = f->max_caplen > room ? (f->max_caplen + room - 1) / room : 1;
		uint64_t want = (uint64_t)h->nq *
		                    (s->rxd + 2 * DPDK_BURST_TYPICAL * segs + DPDK_CACHE * 3 / 2) +
		                s->txd + 3 * DPDK_CACHE + inf;

		n = DPDK_MBUFS_MIN;
		while (n < want && n < UINT32_MAX / 2)
			n = n * 2 + 1;
	} else if (n < need) {
		snprintf(err, errlen,
		         "%s: %u mbufs are too few for %u RX queues of %u descriptors (at least "
		         "%u)",
		         h->name, n, h->nq, s->rxd, need);
		rc = -EINVAL;
		goto out;
	}
	cache = RTE_MIN((uint32_t)DPDK_CACHE, n * 2 / 3);
	if (cache > RTE_MEMPOOL_CACHE_MAX_SIZE)
		cache = RTE_MEMPOOL_CACHE_MAX_SIZE;
	snprintf(pool_name, sizeof(pool_name), "weir_p%u_%u", h->port_id, ++pool_seq);
	h->pool = rte_pktmbuf_pool_create(pool_name, n, cache, 0,
	                                  (uint16_t)(room + RTE_PKTMBUF_HEADROOM), s->socket);
	if (h->pool == NULL) {
		rc = -rte_errno;
		snprintf(err, errlen, "%s: rte_pktmbuf_pool_create (%u mbufs of %u bytes): %s",
		         h->name, n, room, rte_strerror(rte_errno));
		goto out;
	}
	h->q = rte_zmalloc_socket("weir_dpdk_queues", sizeof(*h->q) * h->nq, RTE_CACHE_LINE_SIZE,
	                          s->socket);
	if (h->q == NULL) {
		snprintf(err, errlen, "%s: out of memory for %u queues", h->name, h->nq);
		rc = -ENOMEM;
		goto out;
	}
	for (q = 0; q < h->nq; q++) {
		h->q[q].expected = f->finite ? f->count[q] : UINT64_MAX;
		h->q[q].linktype = f->n ? f->linktype[q] : CAPTURE_LINK_ETHERNET;
	}

	/* without a TX queue first; some PMDs want one */
	rc = port_start(h, s, 0, params, err, errlen);
	if (rc < 0 && info.max_tx_queues > 0)
		rc = port_start(h, s, 1, params, err, errlen);
	if (rc < 0)
		goto out;

	if (s->key_len &&
	    rss_verify(h->port_id, s->key, s->key_len, s->rss_why, sizeof(s->rss_why)))
		h->caps |= CAPTURE_CAP_SYMMETRIC_RSS;
	if (s->conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TIMESTAMP) {
		h->dev_hz = device_clock_hz(h->port_id, s->ts_why, sizeof(s->ts_why));
		h->ts_mode = h->dev_hz ? DPDK_TS_DEVICE : DPDK_TS_TSC;
	}
	h->caps |= f->finite ? CAPTURE_CAP_OFFLINE : CAPTURE_CAP_LIVE;
	describe_build(h, s, f);
	rc = 0;
out:
	free(s);
	return rc;
}

/* Anchors every queue's clocks and takes the device counters that an empty poll of a finite
 * queue compares with. */
static void queues_reset_clocks(struct drv_dpdk *h)
{
	struct rte_eth_stats st;
	unsigned q;

	memset(&st, 0, sizeof(st));
	rte_eth_stats_get(h->port_id, &st);
	for (q = 0; q < h->nq; q++) {
		clock_init(&h->q[q].tsc, -1, rte_get_tsc_hz());
		if (h->ts_mode == DPDK_TS_DEVICE)
			clock_init(&h->q[q].dev, h->port_id, h->dev_hz);
		h->q[q].seen_ierrors = st.ierrors;
		h->q[q].seen_nombuf = st.rx_nombuf;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Ops                                                                                        */

static void handle_free(struct drv_dpdk *h)
{
	unsigned q;

	if (h->q) {
		for (q = 0; q < h->nq; q++)
			if (h->q[q].n_held)
				rte_pktmbuf_free_bulk(h->q[q].held, h->q[q].n_held);
		rte_free(h->q);
	}
	rte_mempool_free(h->pool);
	free(h->devargs);
	free(h);
}

static int dpdk_open(const char *spec, const struct capture_open_params *params, void **ret_handle,
                     char *err, size_t errlen)
{
	static const struct capture_open_params no_params;
	struct dpdk_files files;
	struct drv_dpdk *h;
	size_t name_len;
	int rc;

	if (params == NULL)
		params = &no_params;
	if (spec == NULL || spec[0] == '\0' || spec[0] == ',') {
		snprintf(err, errlen,
		         "no device given (dpdk:PCI-ADDRESS or dpdk:VDEV[,ARG=VALUE...])");
		return -EINVAL;
	}
	name_len = strcspn(spec, ",");
	if (name_len >= RTE_DEV_NAME_MAX_LEN) {
		snprintf(err, errlen, "device name '%.*s' is too long", (int)name_len, spec);
		return -ENAMETOOLONG;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(h->name, spec, name_len);
	h->in_port = params->port;
	pthread_mutex_lock(&dpdk_lock);
	rc = eal_start(params, err, errlen);
	if (rc == 0)
		rc = port_acquire(h, spec, &files, err, errlen);
	if (rc == 0)
		rc = port_setup(h, params, &files, err, errlen);
	if (rc < 0) {
		if (h->owned)
			port_release(h);
		pthread_mutex_unlock(&dpdk_lock);
		handle_free(h);
		return rc;
	}
	open_handles++;
	pthread_mutex_unlock(&dpdk_lock);
	queues_reset_clocks(h);
	*ret_handle = h;
	return 0;
}

static uint32_t dpdk_caps(void *handle)
{
	return ((struct drv_dpdk *)handle)->caps;
}

/* The port runs from open(), so that its errors surface there; start only sets the clocks
 * going from now. */
static int dpdk_start(void *handle)
{
	queues_reset_clocks(handle);
	return 0;
}

/* A finite queue polled empty before its count: net_pcap returns nothing from a file only at
 * its end, on a read error or for want of mbufs, and counts the last two. */
static int finite_queue_empty(struct drv_dpdk *h, unsigned q)
{
	struct dpdk_queue *dq = &h->q[q];
	struct rte_eth_stats st;

	if (rte_eth_stats_get(h->port_id, &st) == 0 &&
	    (st.ierrors != dq->seen_ierrors || st.rx_nombuf != dq->seen_nombuf)) {
		dq->seen_ierrors = st.ierrors;
		dq->seen_nombuf = st.rx_nombuf;
		return 0;
	}
	dq->failed = 1;
	snprintf(h->last_error, sizeof(h->last_error),
	         "%s: queue %u ended after %" PRIu64 " of the %" PRIu64
	         " packets its file held at open",
	         h->name, q, dq->packets, dq->expected);
	return -EIO;
}

static int dpdk_rx_burst_queue(void *handle, unsigned q, struct capture_pkt *pkts, unsigned max)
{
	struct drv_dpdk *h = handle;
	struct dpdk_queue *dq;
	uint64_t tsc, burst_ns, bytes = 0;
	uint16_t n, i;

	if (unlikely(q >= h->nq))
		return -EINVAL;
	dq = &h->q[q];
	if (dq->n_held) {
		rte_pktmbuf_free_bulk(dq->held, dq->n_held);
		dq->n_held = 0;
	}
	if (unlikely(__atomic_load_n(&h->stopped, __ATOMIC_RELAXED)))
		return -ENODATA;
	if (unlikely(dq->failed))
		return -EIO;
	if (dq->expected != UINT64_MAX) {
		uint64_t left = dq->expected - dq->packets;

		if (left == 0)
			return -ENODATA;
		if (max > left)
			max = (unsigned)left;
	}
	if (max > DPDK_BURST_MAX)
		max = DPDK_BURST_MAX;
	n = rte_eth_rx_burst(h->port_id, (uint16_t)q, dq->held, (uint16_t)max);
	if (n == 0)
		return dq->expected != UINT64_MAX ? finite_queue_empty(h, q) : 0;
	dq->n_held = n;

	tsc = rte_rdtsc();
	if (unlikely(tsc >= dq->tsc.tsc_next)) {
		clock_anchor(&dq->tsc);
		if (h->ts_mode == DPDK_TS_DEVICE)
			clock_anchor(&dq->dev);
	}
	burst_ns = clock_ns(&dq->tsc, tsc);
	for (i = 0; i < n; i++) {
		const struct rte_mbuf *m = dq->held[i];
		struct capture_pkt *p = &pkts[i];

		if (i + DPDK_PREFETCH < n)
			rte_prefetch0(rte_pktmbuf_mtod(dq->held[i + DPDK_PREFETCH], void *));
		p->data = rte_pktmbuf_mtod(m, const uint8_t *);
		p->caplen = m->data_len;
		p->wirelen = m->pkt_len;
		if (m->ol_flags & h->ts_flag) {
			uint64_t v = *RTE_MBUF_DYNFIELD(m, h->ts_off, rte_mbuf_timestamp_t *);

			p->ts_ns = h->ts_mode == DPDK_TS_PCAP ? v * 1000 : clock_ns(&dq->dev, v);
		} else {
			p->ts_ns = burst_ns;
		}
		p->linktype = dq->linktype;
		p->port = h->in_port;
		bytes += m->pkt_len;
	}
	/* one writer: plain adds, stored whole for stats() on another thread */
	__atomic_store_n(&dq->packets, dq->packets + n, __ATOMIC_RELAXED);
	__atomic_store_n(&dq->bytes, dq->bytes + bytes, __ATOMIC_RELAXED);
	return n;
}

static int dpdk_rx_burst(void *handle, struct capture_pkt *pkts, unsigned max)
{
	return dpdk_rx_burst_queue(handle, 0, pkts, max);
}

static void dpdk_stats(void *handle, struct capture_stats *ret)
{
	struct drv_dpdk *h = handle;
	struct rte_eth_stats st;
	unsigned q;

	memset(ret, 0, sizeof(*ret));
	for (q = 0; q < h->nq; q++) {
		ret->packets += __atomic_load_n(&h->q[q].packets, __ATOMIC_RELAXED);
		ret->bytes += __atomic_load_n(&h->q[q].bytes, __ATOMIC_RELAXED);
	}
	if (rte_eth_stats_get(h->port_id, &st) == 0) {
		ret->dropped = st.imissed;
		ret->errors = st.ierrors;
		ret->nombuf = st.rx_nombuf;
	}
}

static void dpdk_queue_stats(void *handle, unsigned q, struct capture_stats *ret)
{
	struct drv_dpdk *h = handle;
	struct rte_eth_stats st;

	memset(ret, 0, sizeof(*ret));
	if (q >= h->nq)
		return;
	ret->packets = __atomic_load_n(&h->q[q].packets, __ATOMIC_RELAXED);
	ret->bytes = __atomic_load_n(&h->q[q].bytes, __ATOMIC_RELAXED);
	if (q < RTE_ETHDEV_QUEUE_STAT_CNTRS && rte_eth_stats_get(h->port_id, &st) == 0)
		ret->errors = st.q_errors[q];
}

static const char *dpdk_last_error(void *handle)
{
	return ((struct drv_dpdk *)handle)->last_error;
}

static unsigned dpdk_queues(void *handle)
{
	return ((struct drv_dpdk *)handle)->nq;
}

/* Gives a reader thread an lcore id, hence mempool caches. A thread that has one (the EAL's
 * own, or registered before) keeps it; one that cannot get one still works, uncached. */
static void dpdk_thread_init(void *handle)
{
	(void)handle;
	if (rte_lcore_id() == LCORE_ID_ANY)
		(void)rte_thread_register();
}

static const char *dpdk_describe(void *handle)
{
	return ((struct drv_dpdk *)handle)->describe;
}

/* Only a flag: stopping the port under a reader would pull its queue away mid-burst. The port
 * stops in close(). */
static void dpdk_stop(void *handle)
{
	__atomic_store_n(&((struct drv_dpdk *)handle)->stopped, 1, __ATOMIC_RELAXED);
}

static void dpdk_close(void *handle)
{
	struct drv_dpdk *h = handle;

	if (h == NULL)
		return;
	pthread_mutex_lock(&dpdk_lock);
	port_release(h);
	handle_free(h); /* after the port: its queues hold mbufs of the pool */
	open_handles--;
	pthread_mutex_unlock(&dpdk_lock);
}

const struct capture_driver_ops drv_dpdk_ops = {
    .name = "dpdk",
    .open = dpdk_open,
    .caps = dpdk_caps,
    .start = dpdk_start,
    .rx_burst = dpdk_rx_burst,
    .stats = dpdk_stats,
    .last_error = dpdk_last_error,
    .queues = dpdk_queues,
    .rx_burst_queue = dpdk_rx_burst_queue,
    .queue_stats = dpdk_queue_stats,
    .thread_init = dpdk_thread_init,
    .describe = dpdk_describe,
    .stop = dpdk_stop,
    .close = dpdk_close,
};
