/*
 * Unit tests of the DPDK driver (drv_dpdk_ops), on virtual devices only: no hugepages, no PCI,
 * one lcore.
 *
 * net_pcap on files of the corpus ($WEIR_TRACES) must deliver exactly what weir's own pcap
 * reader (drv_pcap_ops) reads from the same file: count, lengths, bytes and timestamps, then
 * -ENODATA. Two files give two queues, each with its file. net_null is live: it delivers until
 * stop(), also to a second thread reading its own queue. Then the counters, the errors at open
 * (each naming the device), port reuse across open/close, a device created by the EAL
 * arguments (--vdev), and the symmetric RSS key check.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "drv_dpdk.h"
#include "drv_dpdk_internal.h"
#include "drv_pcap.h"
#include "t.h"

#define BURST 32
#define BIG   512                       /* the driver's largest burst */
#define GUARD 100000                    /* calls before a read loop gives up */
#define SEG   RTE_MBUF_DEFAULT_DATAROOM /* bytes in a packet's first segment */

static const struct capture_driver_ops *ops = &drv_dpdk_ops;
static char trace_dir[512];
static char vdev_arg[700];
static char *eal_argv[16];
static struct capture_open_params base_params;

static const char *trace(const char *name)
{
	static char paths[8][1024];
	static unsigned next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", trace_dir, name);
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------- */
/* What weir's own reader sees                                                              */

struct ref {
	unsigned n;
	int rc; /* of the last rx_burst: -ENODATA */
	uint32_t *caplen, *wirelen;
	uint64_t *ts;
	uint16_t *linktype;
	uint8_t **data; /* the first min(caplen, SEG) bytes */
	uint64_t wire_bytes, cap_bytes;
	unsigned cut; /* packets with caplen < wirelen */
};

static void ref_free(struct ref *r)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		free(r->data[i]);
	free(r->caplen);
	free(r->wirelen);
	free(r->ts);
	free(r->linktype);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

static void ref_read(const char *path, struct ref *r)
{
	struct capture_open_params p = {0};
	struct capture_pkt pkts[BURST];
	char err[CAPTURE_ERR_LEN];
	unsigned cap = 0, i;
	void *h = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = drv_pcap_ops.open(path, &p, &h, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "pcap:%s: %s\n", path, err);
	CHECK_EQ(rc, 0);
	if (rc != 0)
		return;
	while ((rc = drv_pcap_ops.rx_burst(h, pkts, BURST)) >= 0) {
		for (i = 0; i < (unsigned)rc; i++) {
			uint32_t keep = pkts[i].caplen < SEG ? pkts[i].caplen : SEG;

			if (r->n == cap) {
				cap = cap ? cap * 2 : 256;
				r->caplen = realloc(r->caplen, cap * sizeof(*r->caplen));
				r->wirelen = realloc(r->wirelen, cap * sizeof(*r->wirelen));
				r->ts = realloc(r->ts, cap * sizeof(*r->ts));
				r->linktype = realloc(r->linktype, cap * sizeof(*r->linktype));
				r->data = realloc(r->data, cap * sizeof(*r->data));
				if (!r->caplen || !r->wirelen || !r->ts || !r->linktype || !r->data)
					abort();
			}
			r->caplen[r->n] = pkts[i].caplen;
			r->wirelen[r->n] = pkts[i].wirelen;
			r->ts[r->n] = pkts[i].ts_ns;
			r->linktype[r->n] = pkts[i].linktype;
			r->data[r->n] = malloc(keep ? keep : 1);
			if (r->data[r->n] == NULL)
				abort();
			memcpy(r->data[r->n], pkts[i].data, keep);
			r->wire_bytes += pkts[i].wirelen;
			r->cap_bytes += pkts[i].caplen;
			r->cut += pkts[i].caplen < pkts[i].wirelen;
			r->n++;
		}
	}
	r->rc = rc;
	drv_pcap_ops.close(h);
	CHECK_EQ(r->rc, -ENODATA);
}

/* ---------------------------------------------------------------------------------------- */
/* Reading a DPDK queue against the reference                                               */

struct cmp {
	unsigned n;         /* packets read */
	unsigned bad_len;   /* caplen or wirelen differ */
	unsigned bad_ts;    /* timestamp differs */
	unsigned bad_data;  /* bytes differ */
	unsigned bad_meta;  /* linktype or port differ */
	unsigned bad_range; /* more packets than the reference */
	uint64_t bytes;
	int end_rc;
};

/* Checks one packet against reference packet i. net_pcap gives the captured length as wire
 * length, and chains a packet longer than one mbuf: caplen is its first segment. Timestamps
 * are the file's to the microsecond (usec: exact; nsec files: truncated). */
static void cmp_pkt(struct cmp *c, const struct ref *r, unsigned i, const struct capture_pkt *p,
                    uint16_t port, int nsec_file)
{
	uint32_t want_cap = r->caplen[i] < SEG ? r->caplen[i] : SEG;
	uint64_t want_ts = nsec_file ? r->ts[i] / 1000 * 1000 : r->ts[i];

	if (p->caplen != want_cap || p->wirelen != r->caplen[i]) {
		if (c->bad_len++ < 3)
			fprintf(stderr, "  packet %u: caplen %u wirelen %u, want %u %u\n", i,
			        p->caplen, p->wirelen, want_cap, r->caplen[i]);
	}
	if (p->ts_ns != want_ts) {
		if (c->bad_ts++ < 3)
			fprintf(stderr, "  packet %u: ts %" PRIu64 ", want %" PRIu64 "\n", i,
			        p->ts_ns, want_ts);
	}
	if (p->caplen == want_cap && memcmp(p->data, r->data[i], want_cap) != 0)
		c->bad_data++;
	if (p->linktype != r->linktype[i] || p->port != port)
		c->bad_meta++;
}

/* Reads queue q until it ends, comparing with the reference. */
static void read_queue(void *h, unsigned q, const struct ref *r, unsigned burst, uint16_t port,
                       int nsec_file, struct cmp *c)
{
	static struct capture_pkt pkts[BIG];
	unsigned guard, i;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	for (guard = 0; guard < GUARD; guard++) {
		rc = ops->rx_burst_queue(h, q, pkts, burst);
		if (rc < 0)
			break;
		for (i = 0; i < (unsigned)rc; i++, c->n++) {
			if (c->n >= r->n) {
				c->bad_range++;
				continue;
			}
			cmp_pkt(c, r, c->n, &pkts[i], port, nsec_file);
			c->bytes += pkts[i].wirelen;
		}
	}
	c->end_rc = rc;
}

static void check_cmp(const struct cmp *c, const struct ref *r)
{
	CHECK_EQ(c->end_rc, -ENODATA);
	CHECK_EQ(c->n, r->n);
	CHECK_EQ(c->bad_range, 0);
	CHECK_EQ(c->bad_len, 0);
	CHECK_EQ(c->bad_ts, 0);
	CHECK_EQ(c->bad_data, 0);
	CHECK_EQ(c->bad_meta, 0);
	CHECK_EQ(c->bytes, r->cap_bytes);
}

static int dpdk_open(const char *spec, const struct capture_open_params *p, void **h, char *err)
{
	int rc;

	err[0] = '\0';
	*h = NULL;
	rc = ops->open(spec, p ? p : &base_params, h, err, CAPTURE_ERR_LEN);
	if (rc != 0)
		fprintf(stderr, "  dpdk:%s: %s\n", spec, err);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* net_pcap                                                                                 */

static void check_file(const char *file, int nsec_file)
{
	struct capture_open_params p = base_params;
	char spec[1200], err[CAPTURE_ERR_LEN];
	struct capture_pkt pkts[BURST];
	struct capture_stats st;
	struct ref r;
	struct cmp c;
	void *h;

	ref_read(trace(file), &r);
	snprintf(spec, sizeof(spec), "net_pcap0,rx_pcap=%s", trace(file));
	p.port = 7;
	CHECK_EQ(dpdk_open(spec, &p, &h, err), 0);
	if (h == NULL) {
		ref_free(&r);
		return;
	}
	CHECK_EQ(ops->caps(h), CAPTURE_CAP_OFFLINE);
	CHECK_EQ(ops->queues(h), 1);
	CHECK(strstr(ops->describe(h), "net_pcap0: 1 RX queue") != NULL);
	CHECK(strstr(ops->describe(h), "timestamps from the device") != NULL);
	CHECK_EQ(ops->start(h), 0);
	read_queue(h, 0, &r, BURST, 7, nsec_file, &c);
	check_cmp(&c, &r);
	if (!r.cut) /* the wire lengths are right only where nothing was captured short */
		CHECK_EQ(c.bytes, r.wire_bytes);
	else
		CHECK(strstr(ops->describe(h), "captured short") != NULL);
	CHECK_EQ(ops->rx_burst(h, pkts, BURST), -ENODATA); /* and it stays ended */
	ops->stats(h, &st);
	CHECK_EQ(st.packets, r.n);
	CHECK_EQ(st.bytes, r.cap_bytes);
	CHECK_EQ(st.errors, 0);
	CHECK_EQ(st.nombuf, 0);
	CHECK_STR(ops->last_error(h), "");
	fprintf(stderr, "  %s: %u packets, %u cut short; %s\n", file, c.n, r.cut, ops->describe(h));
	ops->close(h);
	ref_free(&r);
}

static void test_pcap_files(void)
{
	check_file("libtrace__100_packets.pcap", 0); /* headers only: caplen < wirelen */
	check_file("libtrace__vlan.pcap", 0);
	check_file("ndpi__1kxun.pcap", 0);                 /* packets up to 37506 bytes: chains */
	check_file("tcpdump__tcp-handshake-nano.pcap", 1); /* nanoseconds, Linux cooked */
	check_file("tcpdump__empty.pcap", 0);
	check_file("ndpi__alexa-app.pcapng", 0); /* libpcap reads pcapng too */
}

/* Single bursts of one packet, and a stop() in the middle of a file. */
static void test_pcap_small_bursts_and_stop(void)
{
	char spec[1200], err[CAPTURE_ERR_LEN];
	struct capture_pkt pkts[BURST];
	struct ref r;
	struct cmp c;
	void *h;

	ref_read(trace("libtrace__vlan.pcap"), &r);
	snprintf(spec, sizeof(spec), "net_pcap0,rx_pcap=%s", trace("libtrace__vlan.pcap"));
	CHECK_EQ(dpdk_open(spec, NULL, &h, err), 0);
	if (h == NULL) {
		ref_free(&r);
		return;
	}
	read_queue(h, 0, &r, 1, 0, 0, &c);
	check_cmp(&c, &r);
	ops->close(h);
	ref_free(&r);

	/* the largest bursts of long packets: each takes up to 19 mbufs, the pool must hold them */
	ref_read(trace("ndpi__1kxun.pcap"), &r);
	snprintf(spec, sizeof(spec), "net_pcap0,rx_pcap=%s", trace("ndpi__1kxun.pcap"));
	CHECK_EQ(dpdk_open(spec, NULL, &h, err), 0);
	if (h) {
		struct capture_stats st;

		read_queue(h, 0, &r, BIG, 0, 0, &c);
		check_cmp(&c, &r);
		ops->stats(h, &st);
		CHECK_EQ(st.errors, 0);
		CHECK_EQ(st.nombuf, 0);
		ops->close(h);
	}
	ref_free(&r);

	snprintf(spec, sizeof(spec), "net_pcap0,rx_pcap=%s", trace("libtrace__vlan.pcap"));

	CHECK_EQ(dpdk_open(spec, NULL, &h, err), 0);
	if (h) {
		CHECK_EQ(ops->rx_burst(h, pkts, 10), 10);
		ops->stop(h);
		CHECK_EQ(ops->rx_burst(h, pkts, 10), -ENODATA);
		CHECK_EQ(ops->rx_burst_queue(h, 1, pkts, 10), -EINVAL);
		ops->close(h);
	}
}

/* A file that loses its tail after open: net_pcap hits the end before the count taken at open.
 * The queue ends with an error saying so, rather than waiting for packets for ever. */
static void test_pcap_file_shrinks(void)
{
	char path[] = "/tmp/weir_test_drv_dpdk_XXXXXX", spec[1200], err[CAPTURE_ERR_LEN];
	struct capture_pkt pkts[BURST];
	unsigned n = 0, guard;
	FILE *in, *out;
	char buf[65536];
	size_t len;
	void *h;
	int fd, rc = 0;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	in = fopen(trace("libtrace__vlan.pcap"), "rb");
	out = fdopen(fd, "wb");
	CHECK(in != NULL && out != NULL);
	while (in && out && (len = fread(buf, 1, sizeof(buf), in)) > 0)
		CHECK_EQ(fwrite(buf, 1, len, out), len);
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	snprintf(spec, sizeof(spec), "net_pcap5,rx_pcap=%s", path);
	CHECK_EQ(dpdk_open(spec, NULL, &h, err), 0);
	CHECK_EQ(truncate(path, 60000), 0); /* libpcap has read a few kB at most */
	if (h) {
		for (guard = 0; guard < GUARD && (rc = ops->rx_burst(h, pkts, BURST)) >= 0; guard++)
			n += (unsigned)rc;
		CHECK(n > 0 && n < 395);
		CHECK_EQ(rc, -EIO);
		CHECK(strstr(ops->last_error(h), "net_pcap5: queue 0 ended after") != NULL);
		CHECK(strstr(ops->last_error(h), "of the 395 packets") != NULL);
		CHECK_EQ(ops->rx_burst(h, pkts, BURST), -EIO);
		fprintf(stderr, "  %s\n", ops->last_error(h));
		ops->close(h);
	}
	unlink(path);
}

/* Two files: two queues, each with its own file, read interleaved. */
static void test_pcap_two_queues(void)
{
	struct capture_open_params p = base_params;
	char spec[2400], err[CAPTURE_ERR_LEN];
	struct capture_stats st, q0, q1;
	struct ref a, b;
	struct cmp ca, cb;
	unsigned want_q;
	void *h;

	ref_read(trace("libtrace__vlan.pcap"), &a);
	ref_read(trace("libtrace__100_packets.pcap"), &b);
	snprintf(spec, sizeof(spec), "net_pcap1,rx_pcap=%s,rx_pcap=%s",
	         trace("libtrace__vlan.pcap"), trace("libtrace__100_packets.pcap"));
	for (want_q = 0; want_q <= 2; want_q += 2) { /* queues=0 and 2: one per file either way */
		p.queues = (uint16_t)want_q;
		CHECK_EQ(dpdk_open(spec, &p, &h, err), 0);
		if (h == NULL)
			break;
		CHECK_EQ(ops->queues(h), 2);
		CHECK_EQ(ops->caps(h), CAPTURE_CAP_OFFLINE);
		CHECK(strstr(ops->describe(h), "2 RX queues, no RSS: software steering") != NULL);
		CHECK_EQ(ops->start(h), 0);
		/* interleave: queue 1 first, odd bursts */
		{
			struct capture_pkt pkts[BURST];
			unsigned guard;
			int ra = 0, rb = 0;

			memset(&ca, 0, sizeof(ca));
			memset(&cb, 0, sizeof(cb));
			for (guard = 0; guard < GUARD && (ra >= 0 || rb >= 0); guard++) {
				int i;

				if (rb >= 0) {
					rb = ops->rx_burst_queue(h, 1, pkts, 7);
					for (i = 0; i < rb; i++, cb.n++)
						if (cb.n < b.n) {
							cmp_pkt(&cb, &b, cb.n, &pkts[i], 0, 0);
							cb.bytes += pkts[i].wirelen;
						} else {
							cb.bad_range++;
						}
					if (rb < 0)
						cb.end_rc = rb;
				}
				if (ra >= 0) {
					ra = ops->rx_burst_queue(h, 0, pkts, 13);
					for (i = 0; i < ra; i++, ca.n++)
						if (ca.n < a.n) {
							cmp_pkt(&ca, &a, ca.n, &pkts[i], 0, 0);
							ca.bytes += pkts[i].wirelen;
						} else {
							ca.bad_range++;
						}
					if (ra < 0)
						ca.end_rc = ra;
				}
			}
		}
		check_cmp(&ca, &a);
		check_cmp(&cb, &b);
		ops->queue_stats(h, 0, &q0);
		ops->queue_stats(h, 1, &q1);
		ops->stats(h, &st);
		CHECK_EQ(q0.packets, a.n);
		CHECK_EQ(q0.bytes, a.cap_bytes);
		CHECK_EQ(q1.packets, b.n);
		CHECK_EQ(q1.bytes, b.cap_bytes);
		CHECK_EQ(st.packets, a.n + b.n);
		CHECK_EQ(st.bytes, a.cap_bytes + b.cap_bytes);
		ops->close(h);
	}
	ref_free(&a);
	ref_free(&b);
}

/* infinite_rx replays the file for ever: live, timed by the TSC. */
static void test_pcap_infinite(void)
{
	char spec[1200], err[CAPTURE_ERR_LEN];
	struct capture_pkt pkts[BURST];
	unsigned n = 0, guard, i, bad = 0, late = 0;
	uint64_t t0 = now_ns();
	struct ref r;
	void *h;

	ref_read(trace("libtrace__100_packets.pcap"), &r);
	snprintf(spec, sizeof(spec), "net_pcap2,rx_pcap=%s,infinite_rx=1",
	         trace("libtrace__100_packets.pcap"));
	CHECK_EQ(dpdk_open(spec, NULL, &h, err), 0);
	if (h == NULL || r.n == 0) {
		ops->close(h);
		ref_free(&r);
		return;
	}
	CHECK_EQ(ops->caps(h), CAPTURE_CAP_LIVE);
	CHECK(strstr(ops->describe(h), "TSC clock") == NULL); /* net_pcap still */
	CHECK_EQ(ops->start(h), 0);
	for (guard = 0; guard < GUARD && n < 250; guard++) {
		int rc = ops->rx_burst(h, pkts, BURST);

		CHECK(rc >= 0);
		if (rc < 0)
			break;
		for (i = 0; i < (unsigned)rc; i++, n++) {
			bad += pkts[i].caplen != r.caplen[n % r.n];
			bad += memcmp(pkts[i].data, r.data[n % r.n], pkts[i].caplen) != 0;
			/* no time from the file: the TSC's, now */
			late += pkts[i].ts_ns < t0 - 1000000000ULL ||
			        pkts[i].ts_ns > now_ns() + 1000000000ULL;
		}
	}
	CHECK(n >= 250);
	CHECK_EQ(bad, 0);
	CHECK_EQ(late, 0);
	ops->stop(h);
	CHECK_EQ(ops->rx_burst(h, pkts, BURST), -ENODATA);
	ops->close(h);
	ref_free(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* net_null: live, two queues, a second thread                                              */

struct reader {
	void *h;
	unsigned q;
	int registered;
	unsigned long packets; /* read by the main thread while the reader runs */
	int end_rc;
	unsigned bad_ts;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct capture_pkt pkts[BURST];
	uint64_t last = 0;
	int rc, i;

	ops->thread_init(rd->h);
	ops->thread_init(rd->h); /* idempotent */
	rd->registered = rte_lcore_id() != LCORE_ID_ANY;
	while ((rc = ops->rx_burst_queue(rd->h, rd->q, pkts, BURST)) >= 0) {
		for (i = 0; i < rc; i++) {
			rd->bad_ts += pkts[i].ts_ns < last;
			last = pkts[i].ts_ns;
		}
		__atomic_add_fetch(&rd->packets, (unsigned long)rc, __ATOMIC_RELAXED);
		sched_yield(); /* two cores, and the main thread must get to stop() */
	}
	rd->end_rc = rc;
	return NULL;
}

static void test_null_live(void)
{
	struct capture_open_params p = base_params;
	struct reader rd = {0};
	struct capture_pkt pkts[BURST];
	struct capture_stats st, q0, q1;
	char err[CAPTURE_ERR_LEN];
	unsigned long main_n = 0;
	uint64_t t0 = now_ns(), t1;
	unsigned guard, i, bad = 0;
	pthread_t th;
	void *h;
	int rc;

	p.queues = 2;
	p.port = 3;
	CHECK_EQ(dpdk_open("net_null0", &p, &h, err), 0);
	if (h == NULL)
		return;
	CHECK_EQ(ops->queues(h), 2);
	/* net_null offers RSS but hashes nothing: no symmetric-RSS claim on a virtual device */
	CHECK_EQ(ops->caps(h), CAPTURE_CAP_LIVE);
	CHECK(strstr(ops->describe(h), "no RSS: software steering, TSC clock") != NULL);
	CHECK_EQ(ops->start(h), 0);
	for (guard = 0; guard < 10; guard++) {
		rc = ops->rx_burst_queue(h, 0, pkts, BURST);
		CHECK(rc > 0);
		for (i = 0; i < (unsigned)(rc > 0 ? rc : 0); i++) {
			bad += pkts[i].caplen != 64 || pkts[i].wirelen != 64;
			bad += pkts[i].linktype != CAPTURE_LINK_ETHERNET || pkts[i].port != 3;
		}
		main_n += (unsigned long)(rc > 0 ? rc : 0);
	}
	t1 = now_ns();
	CHECK_EQ(bad, 0);
	CHECK(pkts[0].ts_ns >= t0 - 1000000 && pkts[0].ts_ns <= t1 + 1000000); /* TSC ~ wall */

	rd.h = h;
	rd.q = 1;
	CHECK_EQ(pthread_create(&th, NULL, reader_main, &rd), 0);
	for (guard = 0; guard < 100000000 && __atomic_load_n(&rd.packets, __ATOMIC_RELAXED) < 5000;
	     guard++)
		sched_yield();
	ops->stop(h); /* from another thread than the reader's */
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK(rd.registered);
	CHECK(rd.packets >= 5000);
	CHECK_EQ(rd.end_rc, -ENODATA);
	CHECK_EQ(rd.bad_ts, 0);
	CHECK_EQ(ops->rx_burst_queue(h, 0, pkts, BURST), -ENODATA);

	ops->queue_stats(h, 0, &q0);
	ops->queue_stats(h, 1, &q1);
	ops->stats(h, &st);
	CHECK_EQ(q0.packets, main_n);
	CHECK_EQ(q0.bytes, main_n * 64);
	CHECK_EQ(q1.packets, rd.packets);
	CHECK_EQ(st.packets, main_n + rd.packets);
	CHECK_EQ(st.bytes, (main_n + rd.packets) * 64);
	CHECK_EQ(st.dropped, 0);
	ops->close(h);
	ops->close(NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Errors, reuse, a device of the EAL arguments                                             */

static void test_open_errors(void)
{
	struct capture_open_params p = base_params;
	char spec[1200], err[CAPTURE_ERR_LEN];
	void *h, *h2;

	CHECK(dpdk_open("", NULL, &h, err) < 0);
	CHECK(strstr(err, "no device given") != NULL);

	CHECK(dpdk_open("net_pcap3,rx_pcap=/nonexistent/missing.pcap", NULL, &h, err) < 0);
	CHECK(strstr(err, "net_pcap3") != NULL && strstr(err, "missing.pcap") != NULL);
	CHECK(strstr(err, "No such file") != NULL);

	CHECK(dpdk_open("net_bogus0", NULL, &h, err) < 0);
	CHECK(strstr(err, "net_bogus0: no bus or driver knows this device") != NULL);

	CHECK(dpdk_open("0000:01:00.0", NULL, &h, err) < 0); /* --no-pci */
	CHECK(strstr(err, "0000:01:00.0") != NULL);

	/* net_pcap refuses a key it does not know; the name is free again afterwards */
	snprintf(spec, sizeof(spec), "net_pcap4,rx_pcap=%s,bogus=1",
	         trace("libtrace__100_packets.pcap"));
	CHECK(dpdk_open(spec, NULL, &h, err) < 0);
	CHECK(strstr(err, "net_pcap4: rte_dev_probe: the driver refused") != NULL);
	snprintf(spec, sizeof(spec), "net_pcap4,rx_pcap=%s", trace("libtrace__100_packets.pcap"));
	CHECK_EQ(dpdk_open(spec, NULL, &h, err), 0);
	/* ... and now it is in use */
	CHECK_EQ(dpdk_open(spec, NULL, &h2, err), -EBUSY);
	CHECK(strstr(err, "net_pcap4: in use") != NULL);
	ops->close(h);

	/* link types that net_pcap would deliver as one */
	snprintf(spec, sizeof(spec), "net_pcap4,rx_pcap=%s", trace("libtrace__complex.pcapng"));
	CHECK(dpdk_open(spec, NULL, &h, err) < 0);
	CHECK(strstr(err, "net_pcap4: rx_pcap=") != NULL && strstr(err, "link types") != NULL);

	/* a file that is not a capture */
	snprintf(spec, sizeof(spec), "net_pcap4,rx_pcap=%s", trace("MANIFEST.csv"));
	CHECK(dpdk_open(spec, NULL, &h, err) < 0);
	CHECK(strstr(err, "net_pcap4: rx_pcap=") != NULL);

	/* MTU out of the device's range, and one it takes */
	p.mtu = 40; /* below RTE_ETHER_MIN_LEN's 46 bytes of payload */
	CHECK(dpdk_open("net_null1", &p, &h, err) < 0);
	CHECK(strstr(err, "net_null1: MTU 40 refused") != NULL);
	ops->close(h); /* NULL unless the open above wrongly succeeded */
	p.mtu = 9000;
	CHECK_EQ(dpdk_open("net_null1", &p, &h, err), 0);
	ops->close(h);

	/* a pool too small for the ring */
	p.mtu = 0;
	p.mbufs = 100;
	CHECK(dpdk_open("net_null1", &p, &h, err) < 0);
	CHECK(strstr(err, "net_null1: 100 mbufs are too few") != NULL);
	ops->close(h);
	p.mbufs = 4000;
	CHECK_EQ(dpdk_open("net_null1", &p, &h, err), 0);
	ops->close(h);
}

static void test_reuse(void)
{
	char spec[1200], err[CAPTURE_ERR_LEN];
	struct capture_pkt pkts[BURST];
	unsigned round, n, guard;
	void *h;
	int rc;

	snprintf(spec, sizeof(spec), "net_pcap0,rx_pcap=%s", trace("libtrace__100_packets.pcap"));
	for (round = 0; round < 4; round++) {
		CHECK_EQ(dpdk_open(spec, NULL, &h, err), 0);
		if (h == NULL)
			return;
		n = 0;
		for (guard = 0; guard < GUARD && (rc = ops->rx_burst(h, pkts, BURST)) >= 0; guard++)
			n += (unsigned)rc;
		CHECK_EQ(n, 100);
		ops->close(h);
	}
	for (round = 0; round < 3; round++) {
		CHECK_EQ(dpdk_open("net_null2", NULL, &h, err), 0);
		if (h == NULL)
			return;
		CHECK_EQ(ops->rx_burst(h, pkts, BURST), BURST);
		ops->close(h);
	}
	/* once only: net_ring keeps its rings after a close, and says so when they come back */
	CHECK_EQ(dpdk_open("net_ring0", NULL, &h, err), 0);
	if (h) {
		CHECK_EQ(ops->caps(h), CAPTURE_CAP_LIVE);
		CHECK_EQ(ops->rx_burst(h, pkts, BURST), 0); /* nobody writes to the ring */
		ops->close(h);
	}
}

/* net_pcap9 came from --vdev in the EAL arguments: found by name, and again after a close. */
static void test_eal_vdev(void)
{
	char err[CAPTURE_ERR_LEN];
	struct capture_pkt pkts[BURST];
	unsigned round, n, guard;
	void *h;
	int rc;

	for (round = 0; round < 2; round++) {
		CHECK_EQ(dpdk_open("net_pcap9", NULL, &h, err), 0);
		if (h == NULL)
			return;
		CHECK_EQ(ops->caps(h), CAPTURE_CAP_OFFLINE);
		n = 0;
		for (guard = 0; guard < GUARD && (rc = ops->rx_burst(h, pkts, BURST)) >= 0; guard++)
			n += (unsigned)rc;
		CHECK_EQ(n, 395);
		CHECK_EQ(rc, -ENODATA);
		ops->close(h);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* The RSS key check                                                                        */

static void test_rss_key(void)
{
	/* the Microsoft/Intel default key: good spread, not symmetric */
	static const uint8_t msft[40] = {
	    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
	uint8_t key[52], zero[52] = {0};

	drv_dpdk_rss_key_fill(key, sizeof(key));
	CHECK_EQ(key[0], 0x6d);
	CHECK_EQ(key[1], 0x5a);
	CHECK_EQ(key[51], 0x5a);
	CHECK_EQ(drv_dpdk_rss_key_symmetric(key, 40), 1);
	CHECK_EQ(drv_dpdk_rss_key_symmetric(key, 52), 1);
	CHECK_EQ(drv_dpdk_rss_key_symmetric(key, 39), 0); /* too short for IPv6 with ports */
	CHECK_EQ(drv_dpdk_rss_key_symmetric(msft, 40), 0);
	CHECK_EQ(drv_dpdk_rss_key_symmetric(zero, 40), 0); /* symmetric, but spreads nothing */
	key[20] ^= 0x01;
	CHECK_EQ(drv_dpdk_rss_key_symmetric(key, 40), 0);
}

int main(void)
{
	const char *dir = getenv("WEIR_TRACES");
	int n = 0;

	if (dir == NULL || dir[0] == '\0') {
		fprintf(stderr,
		        "WEIR_TRACES is not set: it must name the trace corpus directory\n");
		CHECK(dir != NULL && dir[0] != '\0');
		return t_done();
	}
	snprintf(trace_dir, sizeof(trace_dir), "%s", dir);
	snprintf(vdev_arg, sizeof(vdev_arg), "--vdev=net_pcap9,rx_pcap=%s/libtrace__vlan.pcap",
	         dir);
	/* no hugepages, no PCI devices, one lcore; --no-shconf rather than --in-memory, which
	 * DPDK 22.11 refuses together with --no-huge (that implies --legacy-mem) */
	eal_argv[n++] = "--no-huge";
	eal_argv[n++] = "--no-shconf";
	eal_argv[n++] = "--no-pci";
	eal_argv[n++] = "--no-telemetry";
	eal_argv[n++] = "-l";
	eal_argv[n++] = "0";
	eal_argv[n++] = "-m";
	eal_argv[n++] = "512";
	eal_argv[n++] = vdev_arg;
	base_params.eal_argc = n;
	base_params.eal_argv = eal_argv;

	T_RUN(test_rss_key);
	T_RUN(test_pcap_files);
	T_RUN(test_pcap_small_bursts_and_stop);
	T_RUN(test_pcap_file_shrinks);
	T_RUN(test_pcap_two_queues);
	T_RUN(test_pcap_infinite);
	T_RUN(test_null_live);
	T_RUN(test_open_errors);
	T_RUN(test_reuse);
	T_RUN(test_eal_vdev);
	drv_dpdk_cleanup(); /* rte_eal_cleanup: what the EAL allocated is not reported as leaks */
	return t_done();
}
