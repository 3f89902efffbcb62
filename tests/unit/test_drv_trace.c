/*
 * Unit tests of the libtrace driver (drv_trace_ops).
 *
 * The driver is checked against weir's own reader (drv_pcap_ops), which reads pcap, pcapng
 * and ERF itself, as an independent implementation: every ERF file of the corpus named by
 * $WEIR_TRACES (erf:), and every pcap file through libtrace's own pcap reader (pcapfile:) and
 * its libpcap-based one (pcap:, which also reads pcapng), must give the same packets as
 * weir's reader (count, lengths, time to the nanosecond, link type, bytes, counters), except
 * where libtrace 3 cannot read a file, which must then end in a clean error that says why,
 * after the same packets. Pcap files converted to ERF with libtrace's traceconvert, and small
 * ERF files written here (record padding, loss counters, raw IP, extension headers) and files
 * cut short, are compared the same way. Then the error paths (missing file, unknown format,
 * directory, other format), end of input, burst sizes and stop(); and live capture on "lo"
 * through int:, ring: and pcapint: with a snap length, a BPF filter, drop counters and stop()
 * from another thread (needs root; skipped otherwise).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libtrace.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drv_pcap.h"
#include "drv_trace.h"
#include "t.h"
#include "wr.h"

#define BURST_MAX 256
#define PORT      7

static char tmp_dir[64];
static const char *traces;

/* ---------------------------------------------------------------------------------------- */
/* Reading a whole input                                                                    */

struct rec {
	uint32_t caplen, wirelen;
	uint64_t ts_ns;
	uint16_t linktype, port;
	uint8_t *data; /* copy of the captured bytes */
};

struct run {
	int open_rc;
	int end_rc;   /* the first negative rx_burst result */
	int again_rc; /* what the next two calls returned, if they agreed (else 1) */
	unsigned n, cap;
	unsigned max_burst; /* largest count one rx_burst returned */
	uint32_t caps;
	struct rec *r;
	struct capture_stats st;
	char err[CAPTURE_ERR_LEN];
	char last_error[CAPTURE_ERR_LEN];
};

static void run_free(struct run *r)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		free(r->r[i].data);
	free(r->r);
	memset(r, 0, sizeof(*r));
}

static void run_add(struct run *r, const struct capture_pkt *p)
{
	struct rec *x;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->r = realloc(r->r, r->cap * sizeof(*r->r));
		if (r->r == NULL)
			abort();
	}
	x = &r->r[r->n++];
	x->caplen = p->caplen;
	x->wirelen = p->wirelen;
	x->ts_ns = p->ts_ns;
	x->linktype = p->linktype;
	x->port = p->port;
	x->data = malloc(p->caplen + 1u);
	if (x->data == NULL)
		abort();
	memcpy(x->data, p->data, p->caplen);
}

/* Opens spec with ops and reads it to the end in bursts of `burst`. The packets are copied
 * only after each burst has returned, so a driver whose earlier packets of a burst moved
 * would show up as different bytes. */
static void read_all(const struct capture_driver_ops *ops, const char *spec, unsigned burst,
                     struct run *r)
{
	struct capture_open_params params = {.port = PORT};
	struct capture_pkt pkts[BURST_MAX];
	void *h = NULL;
	int rc, a, b;

	memset(r, 0, sizeof(*r));
	r->open_rc = ops->open(spec, &params, &h, r->err, sizeof(r->err));
	if (r->open_rc < 0)
		return;
	r->caps = ops->caps(h);
	CHECK_EQ(ops->start(h), 0);
	while ((rc = ops->rx_burst(h, pkts, burst)) >= 0) {
		int i;

		if ((unsigned)rc > r->max_burst)
			r->max_burst = (unsigned)rc;
		for (i = 0; i < rc; i++)
			run_add(r, &pkts[i]);
		ops->stats(h, &r->st); /* as a worker does now and then, between bursts */
	}
	r->end_rc = rc;
	a = ops->rx_burst(h, pkts, burst);
	b = ops->rx_burst(h, pkts, burst);
	r->again_rc = a == b ? a : 1;
	snprintf(r->last_error, sizeof(r->last_error), "%s", ops->last_error(h));
	ops->stats(h, &r->st);
	ops->close(h);
}

/* How b is expected to differ from a. */
struct expect {
	int32_t wire_delta;  /* b.wirelen - a.wirelen (traceconvert adds the FCS to Ethernet) */
	unsigned prefix_max; /* compare only the first prefix_max packets (0: all, same count) */
	bool ts_us;          /* b has a's time cut to microseconds (libpcap's default precision) */
};

/* Compares two runs packet by packet. Returns the number of differing packets (plus one
 * for a different count) and prints the first few. */
static unsigned compare_runs(const char *name, const struct run *a, const struct run *b,
                             const struct expect *ex)
{
	unsigned i, n, bad = 0;

	n = a->n < b->n ? a->n : b->n;
	if (ex->prefix_max) {
		if (n > ex->prefix_max)
			n = ex->prefix_max;
	} else if (a->n != b->n) {
		fprintf(stderr, "%s: %u packets against %u\n", name, a->n, b->n);
		bad++;
	}
	for (i = 0; i < n; i++) {
		const struct rec *x = &a->r[i], *y = &b->r[i];
		uint64_t ts = ex->ts_us ? x->ts_ns / WR_NS_PER_US * WR_NS_PER_US : x->ts_ns;

		if (x->caplen == y->caplen && (int64_t)y->wirelen - x->wirelen == ex->wire_delta &&
		    ts == y->ts_ns && x->linktype == y->linktype && x->port == y->port &&
		    memcmp(x->data, y->data, x->caplen) == 0)
			continue;
		if (bad < 3)
			fprintf(stderr,
			        "%s: packet %u differs: caplen %u/%u, wirelen %u/%u, ts %" PRIu64
			        "/%" PRIu64 ", linktype %u/%u, port %u/%u, bytes %s\n",
			        name, i, x->caplen, y->caplen, x->wirelen, y->wirelen, x->ts_ns,
			        y->ts_ns, x->linktype, y->linktype, x->port, y->port,
			        x->caplen == y->caplen && memcmp(x->data, y->data, x->caplen) == 0
			            ? "equal"
			            : "differ");
		bad++;
	}
	return bad;
}

static uint64_t run_bytes(const struct run *r)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < r->n; i++)
		sum += r->r[i].wirelen;
	return sum;
}

/* Corpus file names ending in suffix, sorted, and their count (0 when the directory cannot be
 * read); the caller frees the list with free_list. */
static int list_files(const char *suffix, struct dirent ***ret)
{
	struct dirent **all;
	int n, i, keep = 0;
	size_t sl = strlen(suffix);

	*ret = NULL;
	n = scandir(traces, &all, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "cannot read %s: %s\n", traces, strerror(errno));
		return 0;
	}
	for (i = 0; i < n; i++) {
		size_t l = strlen(all[i]->d_name);

		if (l > sl && strcmp(all[i]->d_name + l - sl, suffix) == 0)
			all[keep++] = all[i];
		else
			free(all[i]);
	}
	*ret = all;
	return keep;
}

static void free_list(struct dirent **list, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static bool have_traces(void)
{
	if (traces == NULL || traces[0] == '\0') {
		fprintf(stderr,
		        "WEIR_TRACES is not set: it must name the trace corpus directory\n");
		CHECK(traces != NULL && traces[0] != '\0');
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------------------- */
/* The corpus through both readers                                                          */

/*
 * ERF files that libtrace 3.0 cannot read: its ERF reader refuses record types from 24 up
 * (among them META, 27, which provenance.erf consists of) and any record with extension
 * headers, where weir's reader skips META and PAD records and steps over extension headers.
 * The driver must say so rather than end early, and packets before that point must agree.
 */
static const char *const erf_beyond_libtrace3[] = {"libtrace__provenance.erf"};

static bool erf_expected_unreadable(const char *name)
{
	size_t i;

	if (LIBTRACE_API_VERSION >= 0x040000)
		return false;
	for (i = 0; i < WR_ARRAY_SIZE(erf_beyond_libtrace3); i++)
		if (strcmp(name, erf_beyond_libtrace3[i]) == 0)
			return true;
	return false;
}

static void test_corpus_erf(void)
{
	struct dirent **list;
	int n, i, same = 0;

	if (!have_traces())
		return;
	n = list_files(".erf", &list);
	CHECK(n >= 2);
	for (i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		const struct expect ex = {0};
		char path[1024], uri[1100];
		struct run t, p;
		unsigned bad;

		snprintf(path, sizeof(path), "%s/%s", traces, name);
		snprintf(uri, sizeof(uri), "erf:%s", path);
		read_all(&drv_trace_ops, uri, 64, &t);
		read_all(&drv_pcap_ops, path, 64, &p);
		CHECK_EQ(t.open_rc, 0);
		CHECK_EQ(p.open_rc, 0);
		CHECK_EQ(p.end_rc, -ENODATA);
		CHECK_EQ(t.caps, CAPTURE_CAP_OFFLINE);
		if (erf_expected_unreadable(name)) {
			/* a clean error naming the record type, and the same packets before it */
			CHECK_EQ(t.end_rc, -EBADMSG);
			CHECK_EQ(t.again_rc, -EBADMSG);
			CHECK(strstr(t.last_error, "has type 27 (META)") != NULL);
			CHECK(strstr(t.last_error, "pcap:FILE") != NULL);
			CHECK(t.n <= p.n);
			CHECK_EQ(compare_runs(name, &t, &p,
			                      &(struct expect){.prefix_max = t.n ? t.n : 1}),
			         0);
		} else {
			if (t.end_rc != -ENODATA)
				fprintf(stderr, "%s: %s\n", name, t.last_error);
			CHECK_EQ(t.end_rc, -ENODATA);
			CHECK_EQ(t.again_rc, -ENODATA);
			CHECK_STR(t.last_error, "");
			bad = compare_runs(name, &t, &p, &ex);
			CHECK_EQ(bad, 0);
			CHECK_EQ(t.st.packets, p.st.packets);
			CHECK_EQ(t.st.bytes, p.st.bytes);
			CHECK_EQ(t.st.bytes, run_bytes(&t));
			CHECK_EQ(t.st.dropped, p.st.dropped);
			same += t.n > 0 && bad == 0;
		}
		run_free(&t);
		run_free(&p);
	}
	CHECK(same >= 1); /* 100_packets.erf at least */
	free_list(list, n);
}

/*
 * Every pcap file of the corpus through libtrace's own pcap reader (pcapfile:), through
 * libtrace's libpcap-based one (pcap:) and through weir's. The one thing libtrace 3's reader
 * cannot do is a record of more than 64 KiB (its packet buffer size): such a file must stop
 * there with an error naming the captured length. pcap: asks libpcap for microseconds.
 */
static void test_corpus_pcap(void)
{
	struct dirent **list;
	int n, i, same = 0, same_libpcap = 0, refused = 0;

	if (!have_traces())
		return;
	n = list_files(".pcap", &list);
	CHECK(n >= 10);
	for (i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		char path[1024], uri[1100];
		struct run t, l, p;
		unsigned k, big = UINT32_MAX;

		snprintf(path, sizeof(path), "%s/%s", traces, name);
		read_all(&drv_pcap_ops, path, 64, &p);
		snprintf(uri, sizeof(uri), "pcapfile:%s", path);
		read_all(&drv_trace_ops, uri, 64, &t);
		snprintf(uri, sizeof(uri), "pcap:%s", path);
		read_all(&drv_trace_ops, uri, 64, &l);
		if (p.open_rc < 0) {
			/* weir refuses it (e.g. pcap version 1.4): so must the libtrace inputs */
			if (t.open_rc == 0 || l.open_rc == 0)
				fprintf(stderr, "%s: weir refuses it (%s), libtrace does not\n",
				        name, p.err);
			CHECK(t.open_rc < 0);
			CHECK(t.err[0] != '\0');
			CHECK(l.open_rc < 0);
			CHECK(l.err[0] != '\0');
			refused++;
			goto next;
		}
		CHECK_EQ(t.open_rc, 0);
		CHECK_EQ(l.open_rc, 0);
		for (k = 0; k < p.n && big == UINT32_MAX; k++)
			if (p.r[k].caplen > LIBTRACE_PACKET_BUFSIZE)
				big = k;
		if (big != UINT32_MAX) {
			CHECK_EQ(t.end_rc, -EBADMSG);
			CHECK(strstr(t.last_error, "caplen") != NULL);
			CHECK_EQ(t.n, big);
			CHECK_EQ(
			    compare_runs(name, &t, &p, &(struct expect){.prefix_max = big + 1}), 0);
		} else {
			if (t.end_rc != -ENODATA)
				fprintf(stderr, "%s: %s\n", name, t.last_error);
			CHECK_EQ(t.end_rc, -ENODATA);
			k = compare_runs(name, &t, &p, &(struct expect){0});
			CHECK_EQ(k, 0);
			CHECK_EQ(t.st.packets, p.st.packets);
			CHECK_EQ(t.st.bytes, p.st.bytes);
			CHECK_EQ(t.st.truncated_file, p.st.truncated_file);
			same += k == 0;
		}
		/* libpcap has no 64 KiB limit */
		CHECK_EQ(l.end_rc, -ENODATA);
		k = compare_runs(name, &p, &l, &(struct expect){.ts_us = true});
		CHECK_EQ(k, 0);
		CHECK_EQ(l.st.bytes, p.st.bytes);
		same_libpcap += k == 0;
	next:
		run_free(&t);
		run_free(&l);
		run_free(&p);
	}
	fprintf(stderr,
	        "corpus: of %d pcap files %d are identical through pcapfile: and weir, %d through "
	        "pcap: and weir, %d refused by all\n",
	        n, same, same_libpcap, refused);
	CHECK(same >= 10);
	CHECK(same_libpcap >= 10);
	CHECK(refused >= 1);
	free_list(list, n);
}

/*
 * libtrace 3 has no pcapng reader of its own: pcapfile: refuses the file when the input is
 * opened. pcap: hands it to libpcap, which reads pcapng unless its interfaces have different
 * link types; then it must fail cleanly after the packets that agree.
 */
static void test_corpus_pcapng(void)
{
	struct dirent **list;
	int n, i, same = 0;

	if (!have_traces())
		return;
	n = list_files(".pcapng", &list);
	CHECK(n >= 2);
	for (i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		char path[1024], uri[1100];
		struct run t, l, p;

		snprintf(path, sizeof(path), "%s/%s", traces, name);
		snprintf(uri, sizeof(uri), "pcapfile:%s", path);
		read_all(&drv_trace_ops, uri, 64, &t);
		CHECK(t.open_rc < 0);
		CHECK(strstr(t.err, "pcap") != NULL);
		snprintf(uri, sizeof(uri), "pcap:%s", path);
		read_all(&drv_trace_ops, uri, 64, &l);
		read_all(&drv_pcap_ops, path, 64, &p);
		CHECK_EQ(p.end_rc, -ENODATA);
		if (l.open_rc == 0 && l.end_rc == -ENODATA) {
			unsigned k = compare_runs(name, &p, &l, &(struct expect){.ts_us = true});

			CHECK_EQ(k, 0);
			same += k == 0;
		} else {
			fprintf(stderr, "%s through libpcap: %s%s\n", name, l.err, l.last_error);
			CHECK(l.err[0] != '\0' || l.last_error[0] != '\0');
			CHECK(l.n < p.n);
			CHECK_EQ(compare_runs(
			             name, &p, &l,
			             &(struct expect){.ts_us = true, .prefix_max = l.n ? l.n : 1}),
			         0);
		}
		run_free(&t);
		run_free(&l);
		run_free(&p);
	}
	CHECK(same >= 2);
	free_list(list, n);
}

/* ---------------------------------------------------------------------------------------- */
/* Pcap files converted to ERF by traceconvert                                              */

/* Runs argv with standard output into out_path (NULL: inherited). Returns the exit status
 * (127: the program is not installed). */
static int run_cmd(char *const argv[], const char *out_path)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (out_path != NULL) {
			int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
				_exit(126);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A pcap through weir's reader and its ERF conversion through libtrace: the same bytes,
 * lengths and times (ERF's 32.32 fraction holds micro- and nanoseconds exactly after the
 * driver's rounding). Ethernet records gain 4 bytes of wire length, because libtrace writes
 * ERF's convention (the wire length counts the FCS) from its own FCS-including value.
 * traceconvert always writes gzip (libtrace reads it as it is); weir's own ERF reader, which
 * reads the decompressed copy, must agree with libtrace on it too.
 */
static void test_converted(void)
{
	static const struct {
		const char *name;
		int32_t wire_delta;
		uint16_t linktype;
	} files[] = {
	    {"libtrace__vlan.pcap", 4, CAPTURE_LINK_ETHERNET},
	    {"zeek__gre-sample.pcap", 4, CAPTURE_LINK_ETHERNET},
	    {"zeek__mixed-vlan-mpls.pcap", 4, CAPTURE_LINK_ETHERNET},
	    {"libtrace__ip-in-mpls.pcap", 4, CAPTURE_LINK_ETHERNET},
	    {"ndpi__dingtalk.pcap", 0, CAPTURE_LINK_RAW},
	};
	size_t i;

	if (!have_traces())
		return;
	for (i = 0; i < WR_ARRAY_SIZE(files); i++) {
		char in[1024], out[1024], raw[1024], uri[1100], a[1100], b[1100];
		char *convert[] = {"traceconvert", a, b, NULL};
		char *gunzip[] = {"gzip", "-dc", out, NULL};
		struct run t, p;
		int rc;

		snprintf(in, sizeof(in), "%s/%s", traces, files[i].name);
		snprintf(out, sizeof(out), "%s/conv%zu.erf.gz", tmp_dir, i);
		snprintf(raw, sizeof(raw), "%s/conv%zu.erf", tmp_dir, i);
		snprintf(a, sizeof(a), "pcapfile:%s", in);
		snprintf(b, sizeof(b), "erf:%s", out);
		rc = run_cmd(convert, NULL);
		if (rc == 127)
			fprintf(stderr, "traceconvert not found: install libtrace-tools "
			                "(scripts/deps.sh)\n");
		CHECK_EQ(rc, 0);
		if (rc != 0)
			continue;
		snprintf(uri, sizeof(uri), "erf:%s", out);
		read_all(&drv_trace_ops, uri, 64, &t);
		read_all(&drv_pcap_ops, in, 64, &p);
		CHECK_EQ(t.open_rc, 0);
		CHECK_EQ(t.end_rc, -ENODATA);
		CHECK(p.n > 0);
		CHECK(t.n > 0 && t.r[0].linktype == files[i].linktype);
		/* p first: the ERF side carries the extra FCS bytes */
		CHECK_EQ(compare_runs(files[i].name, &p, &t,
		                      &(struct expect){.wire_delta = files[i].wire_delta}),
		         0);
		CHECK_EQ(t.st.bytes, p.st.bytes + (uint64_t)files[i].wire_delta * p.n);
		/* weir's own ERF reader agrees with libtrace on the converted file */
		run_free(&p);
		CHECK_EQ(run_cmd(gunzip, raw), 0);
		read_all(&drv_pcap_ops, raw, 64, &p);
		CHECK_EQ(p.end_rc, -ENODATA);
		CHECK_EQ(compare_runs(files[i].name, &t, &p, &(struct expect){0}), 0);
		run_free(&t);
		run_free(&p);
		unlink(out);
		unlink(raw);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Small ERF and pcap files written here                                                    */

static void put_erf(FILE *fp, uint64_t ts, uint8_t type, uint16_t lctr, uint16_t wlen,
                    const uint8_t *body, uint16_t len)
{
	uint8_t h[16];
	unsigned i;

	for (i = 0; i < 8; i++)
		h[i] = (uint8_t)(ts >> (8 * i)); /* little-endian */
	h[8] = type;
	h[9] = 0x04; /* varying-length record */
	wr_put_be16(h + 10, (uint16_t)(16 + len));
	wr_put_be16(h + 12, lctr);
	wr_put_be16(h + 14, wlen);
	fwrite(h, 1, sizeof(h), fp);
	fwrite(body, 1, len, fp);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp_dir, name);
}

/* Three records: Ethernet whose record runs past the wire length (padding), Ethernet with a
 * loss counter and fewer wire bytes than recorded ones, raw IPv4. */
static void write_erf_mix(const char *path, bool ext_first)
{
	uint8_t eth[2 + 64], ip[24], ext[8 + 2 + 60];
	FILE *fp = fopen(path, "wb");
	unsigned i;

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	memset(eth, 0, sizeof(eth));
	for (i = 0; i < 64; i++)
		eth[2 + i] = (uint8_t)(0x40 + i);
	memset(ip, 0, sizeof(ip));
	ip[0] = 0x45;
	ip[3] = 20;
	if (ext_first) {
		/* extension header (type 1, no further one), then the Ethernet pad and frame */
		memset(ext, 0, sizeof(ext));
		ext[0] = 0x01;
		memcpy(ext + 8, eth, 2 + 60);
		put_erf(fp, 0x4148d78100000000ull, 2 | 0x80, 0, 64, ext, sizeof(ext));
	}
	put_erf(fp, 0x4148d78180000000ull, 2, 0, 64, eth, sizeof(eth));
	put_erf(fp, 0x4148d78200000001ull, 2, 3, 50, eth, sizeof(eth));
	put_erf(fp, 0x4148d783fffffffful, 22, 2, 20, ip, sizeof(ip));
	fclose(fp);
}

static void test_erf_written(void)
{
	char path[256], uri[300];
	struct run t, p;

	tmp_path(path, sizeof(path), "mix.erf");
	write_erf_mix(path, false);
	snprintf(uri, sizeof(uri), "erf:%s", path);
	read_all(&drv_trace_ops, uri, 64, &t);
	read_all(&drv_pcap_ops, path, 64, &p);
	CHECK_EQ(t.end_rc, -ENODATA);
	CHECK_EQ(t.n, 3);
	CHECK_EQ(compare_runs("mix.erf", &t, &p, &(struct expect){0}), 0);
	if (t.n == 3) {
		/* record padding is not packet data; the wire length caps what is captured */
		CHECK_EQ(t.r[0].caplen, 64);
		CHECK_EQ(t.r[0].wirelen, 64);
		CHECK_EQ(t.r[0].data[0], 0x40);
		CHECK_EQ(t.r[0].ts_ns, 0x4148d781ull * WR_NS_PER_S + 500000000u);
		CHECK_EQ(t.r[1].caplen, 50);
		CHECK_EQ(t.r[1].wirelen, 50);
		CHECK_EQ(t.r[1].ts_ns, 0x4148d782ull * WR_NS_PER_S); /* 2^-32 s rounds to 0 ns */
		CHECK_EQ(t.r[1].port, PORT);
		CHECK_EQ(t.r[2].linktype, CAPTURE_LINK_RAW);
		CHECK_EQ(t.r[2].caplen, 20);
		/* 1 - 2^-32 s rounds up to the next second */
		CHECK_EQ(t.r[2].ts_ns, 0x4148d784ull * WR_NS_PER_S);
	}
	CHECK_EQ(t.st.dropped, 5); /* the loss counters */
	CHECK_EQ(t.st.dropped, p.st.dropped);
	CHECK_EQ(t.st.bytes, 64 + 50 + 20);
	run_free(&t);
	run_free(&p);

	/* an extension header: weir reads past it, libtrace 3 refuses the record by name */
	tmp_path(path, sizeof(path), "ext.erf");
	write_erf_mix(path, true);
	snprintf(uri, sizeof(uri), "erf:%s", path);
	read_all(&drv_trace_ops, uri, 64, &t);
	read_all(&drv_pcap_ops, path, 64, &p);
	CHECK_EQ(p.n, 4);
	if (LIBTRACE_API_VERSION < 0x040000) {
		CHECK_EQ(t.n, 0);
		CHECK_EQ(t.end_rc, -EBADMSG);
		CHECK(strstr(t.last_error, "type 2 with extension headers") != NULL);
	} else {
		CHECK_EQ(compare_runs("ext.erf", &t, &p, &(struct expect){0}), 0);
	}
	run_free(&t);
	run_free(&p);
}

/* Copies the first len bytes of src into dst. */
static void copy_prefix(const char *src, const char *dst, size_t len)
{
	char buf[65536];
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	size_t n;

	CHECK(in != NULL && out != NULL);
	if (in == NULL || out == NULL) {
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		return;
	}
	while (len > 0 && (n = fread(buf, 1, len < sizeof(buf) ? len : sizeof(buf), in)) > 0) {
		fwrite(buf, 1, n, out);
		len -= n;
	}
	fclose(in);
	fclose(out);
}

/* A file cut in the middle of its last record ends like weir's reader ends it: the whole
 * records, then -ENODATA with truncated_file set. */
static void test_truncated(void)
{
	static const struct {
		const char *src, *scheme;
		size_t len;
	} cases[] = {
	    {"libtrace__100_packets.erf", "erf", 7774},       /* last record body cut */
	    {"libtrace__100_packets.pcap", "pcapfile", 7600}, /* last record body cut */
	    {"libtrace__100_packets.pcap", "pcapfile", 7590},
	};
	size_t i;

	if (!have_traces())
		return;
	for (i = 0; i < WR_ARRAY_SIZE(cases); i++) {
		char src[1024], path[256], uri[300];
		struct run t, p;

		snprintf(src, sizeof(src), "%s/%s", traces, cases[i].src);
		snprintf(path, sizeof(path), "%s/cut%zu", tmp_dir, i);
		copy_prefix(src, path, cases[i].len);
		snprintf(uri, sizeof(uri), "%s:%s", cases[i].scheme, path);
		read_all(&drv_trace_ops, uri, 64, &t);
		read_all(&drv_pcap_ops, path, 64, &p);
		CHECK_EQ(t.n, 99);
		CHECK_EQ(t.end_rc, -ENODATA);
		CHECK_EQ(t.again_rc, -ENODATA);
		CHECK_EQ(t.st.truncated_file, 1);
		CHECK_EQ(p.st.truncated_file, 1);
		CHECK_EQ(compare_runs(uri, &t, &p, &(struct expect){0}), 0);
		run_free(&t);
		run_free(&p);
		unlink(path);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Errors, end of input, bursts, stop                                                       */

static int open_err(const char *spec, char *err, size_t errlen)
{
	struct capture_open_params params = {0};
	void *h = NULL;
	int rc;

	err[0] = '\0';
	rc = drv_trace_ops.open(spec, &params, &h, err, errlen);
	if (rc == 0)
		drv_trace_ops.close(h);
	return rc;
}

static void test_open_errors(void)
{
	char err[CAPTURE_ERR_LEN], spec[1100];

	/* a missing file: -ENOENT, and the message names it */
	CHECK_EQ(open_err("erf:/nonexistent/weir-x.erf", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/weir-x.erf") != NULL);
	CHECK_EQ(open_err("pcapfile:/nonexistent/weir-y.pcap", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/weir-y.pcap") != NULL);
	/* an unknown format, and a URI without one for a file that does not exist */
	CHECK_EQ(open_err("bogus:/x", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bogus") != NULL);
	CHECK(strstr(err, "FORMAT:") != NULL);
	CHECK(open_err("weir-no-such-file", err, sizeof(err)) < 0);
	CHECK(strstr(err, "weir-no-such-file") != NULL);
	CHECK_EQ(open_err("", err, sizeof(err)), -EINVAL);
	CHECK(err[0] != '\0');
	/* a directory (libtrace 3 would crash reading it as ERF) */
	snprintf(spec, sizeof(spec), "erf:%s", tmp_dir);
	CHECK_EQ(open_err(spec, err, sizeof(err)), -EISDIR);
	CHECK(strstr(err, tmp_dir) != NULL);
	if (!have_traces())
		return;
	/* a file of another format */
	snprintf(spec, sizeof(spec), "pcapfile:%s/libtrace__100_packets.erf", traces);
	CHECK(open_err(spec, err, sizeof(err)) < 0);
	CHECK(strstr(err, "pcap") != NULL);
	/* no scheme: libtrace guesses the format of a file */
	snprintf(spec, sizeof(spec), "%s/libtrace__100_packets.erf", traces);
	CHECK_EQ(open_err(spec, err, sizeof(err)), 0);
	/* close(NULL) is a no-op */
	drv_trace_ops.close(NULL);
}

/* Burst sizes do not change what is read, and no burst exceeds the driver's 64 packets. */
static void test_bursts(void)
{
	static const unsigned sizes[] = {1, 7, 64, BURST_MAX};
	char uri[1100];
	struct run ref, r;
	size_t i;

	if (!have_traces())
		return;
	snprintf(uri, sizeof(uri), "erf:%s/libtrace__100_packets.erf", traces);
	read_all(&drv_trace_ops, uri, 64, &ref);
	CHECK_EQ(ref.n, 100);
	CHECK_EQ(ref.max_burst, 64);
	CHECK_EQ(ref.st.packets, 100);
	CHECK_EQ(ref.st.bytes, run_bytes(&ref));
	CHECK_EQ(ref.st.dropped, 0);
	CHECK_EQ(ref.st.if_dropped, 0);
	CHECK_EQ(ref.again_rc, -ENODATA);
	CHECK_STR(ref.last_error, "");
	for (i = 0; i < WR_ARRAY_SIZE(sizes); i++) {
		read_all(&drv_trace_ops, uri, sizes[i], &r);
		CHECK_EQ(r.max_burst, sizes[i] < 64 ? sizes[i] : 64);
		CHECK_EQ(compare_runs("bursts", &ref, &r, &(struct expect){0}), 0);
		run_free(&r);
	}
	run_free(&ref);
}

static void test_stop_offline(void)
{
	struct capture_open_params params = {0};
	struct capture_pkt pkts[64];
	struct capture_stats st;
	char err[CAPTURE_ERR_LEN], uri[1100];
	void *h = NULL;
	int rc;

	if (!have_traces())
		return;
	snprintf(uri, sizeof(uri), "erf:%s/libtrace__100_packets.erf", traces);
	rc = drv_trace_ops.open(uri, &params, &h, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc != 0)
		return;
	CHECK_EQ(drv_trace_ops.rx_burst(h, pkts, 0), 0);
	CHECK_EQ(drv_trace_ops.rx_burst(h, pkts, 10), 10);
	drv_trace_ops.stop(h);
	CHECK_EQ(drv_trace_ops.rx_burst(h, pkts, 10), -ENODATA);
	CHECK_EQ(drv_trace_ops.rx_burst(h, pkts, 10), -ENODATA);
	drv_trace_ops.stats(h, &st);
	CHECK_EQ(st.packets, 10);
	CHECK_STR(drv_trace_ops.last_error(h), "");
	drv_trace_ops.close(h);
}

/* ---------------------------------------------------------------------------------------- */
/* Live capture on the loopback interface                                                   */

struct stopper {
	void *h;
	unsigned zeros;  /* rx_burst calls that returned 0 */
	int last;        /* the result that ended the loop */
	uint64_t end_ns; /* when it ended */
};

static void *stop_reader(void *arg)
{
	struct stopper *s = arg;
	struct capture_pkt pkts[64];
	int rc;

	while ((rc = drv_trace_ops.rx_burst(s->h, pkts, 64)) >= 0)
		s->zeros += rc == 0;
	s->last = rc;
	s->end_ns = wr_mono_ns();
	return NULL;
}

/* True when the frame is IPv4/UDP to port (big-endian) dport. */
static bool udp_to(const struct capture_pkt *p, uint16_t dport)
{
	return p->caplen >= 42 && wr_be16(p->data + 12) == 0x0800 && p->data[23] == 17 &&
	       wr_be16(p->data + 36) == dport;
}

/*
 * Receives datagrams of six sizes (up to the largest) sent to a port of our own through scheme:lo,
 * with a snap length, and with a BPF filter for that port where the format takes one (elsewhere
 * other loopback traffic is skipped here). AF_PACKET sees a loopback packet both leaving and
 * arriving, so a size may come twice.
 */
static void live_one(const char *scheme, bool filtered)
{
	/* 65507: the largest datagram, a 65549-byte frame on lo, whose wire length plus the FCS
	 * libtrace adds makes libtrace 3 assert if it is asked for it */
	static const size_t sizes[6] = {1, 100, 512, 1000, 1400, 65507};
	static uint8_t payload[65507];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct capture_open_params params = {.port = 3, .snaplen = 300};
	struct capture_pkt pkts[64];
	struct capture_stats st;
	char filter[64], uri[32], err[CAPTURE_ERR_LEN] = "";
	unsigned seen = 0, wrong = 0, i, iter;
	struct stopper stp = {0};
	uint16_t dport;
	pthread_t th;
	uint64_t stop_ns;
	void *h = NULL;
	int s, rc;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(s >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&sa, &salen), 0);
	dport = ntohs(sa.sin_port);
	snprintf(filter, sizeof(filter), "udp and dst port %u", dport);
	snprintf(uri, sizeof(uri), "%s:lo", scheme);
	params.filter = filtered ? filter : NULL;
	rc = drv_trace_ops.open(uri, &params, &h, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "trace:%s: %s\n", uri, err);
	CHECK_EQ(rc, 0);
	if (rc != 0) {
		close(s);
		return;
	}
	CHECK_EQ(drv_trace_ops.caps(h), CAPTURE_CAP_LIVE);
	CHECK_EQ(drv_trace_ops.start(h), 0);
	memset(payload, 0xAB, sizeof(payload));
	for (i = 0; i < WR_ARRAY_SIZE(sizes); i++)
		CHECK_EQ(sendto(s, payload, sizes[i], 0, (struct sockaddr *)&sa, sizeof(sa)),
		         (ssize_t)sizes[i]);
	/* each call waits at most about 100 ms: 50 calls bound the wait */
	for (iter = 0; iter < 50 && seen != 0x3f; iter++) {
		rc = drv_trace_ops.rx_burst(h, pkts, 64);
		CHECK(rc >= 0);
		for (i = 0; i < (unsigned)(rc > 0 ? rc : 0); i++) {
			const struct capture_pkt *p = &pkts[i];
			unsigned k, udp_len;

			if (!udp_to(p, dport)) {
				if (filtered) {
					fprintf(stderr,
					        "%s: packet the filter should have dropped\n", uri);
					wrong++;
				}
				continue;
			}
			udp_len = wr_be16(p->data + 38);
			for (k = 0; k < WR_ARRAY_SIZE(sizes); k++)
				if (udp_len == 8 + sizes[k])
					break;
			if (k == WR_ARRAY_SIZE(sizes) || p->linktype != CAPTURE_LINK_ETHERNET ||
			    p->port != 3 || p->wirelen != 14 + 20 + udp_len ||
			    p->caplen != (p->wirelen < 300 ? p->wirelen : 300) || p->ts_ns == 0) {
				fprintf(stderr,
				        "%s: unexpected packet: caplen %u wirelen %u linktype %u\n",
				        uri, p->caplen, p->wirelen, p->linktype);
				wrong++;
				continue;
			}
			seen |= 1u << k;
		}
	}
	CHECK_EQ(seen, 0x3f);
	CHECK_EQ(wrong, 0);
	drv_trace_ops.stats(h, &st);
	CHECK(st.packets >= 5);
	CHECK_EQ(st.dropped, 0);
	CHECK_EQ(st.if_dropped, 0);

	/* a quiet input returns 0 within the wait, and stop() from another thread ends the
	 * reader promptly */
	stp.h = h;
	CHECK_EQ(pthread_create(&th, NULL, stop_reader, &stp), 0);
	usleep(250 * 1000);
	stop_ns = wr_mono_ns();
	drv_trace_ops.stop(h);
	pthread_join(th, NULL);
	CHECK_EQ(stp.last, -ENODATA);
	if (filtered)
		CHECK(stp.zeros >= 1);
	CHECK(stp.end_ns - stop_ns < 300 * WR_NS_PER_MS);
	CHECK_EQ(drv_trace_ops.rx_burst(h, pkts, 64), -ENODATA);
	drv_trace_ops.close(h);
	close(s);

	/* a bad filter is refused at open, naming the filter */
	params.filter = "udp and nonsense";
	rc = drv_trace_ops.open(uri, &params, &h, err, sizeof(err));
	CHECK(rc == -EINVAL || (!filtered && rc == -ENOTSUP));
	CHECK(strstr(err, filtered ? "udp and nonsense" : "filter") != NULL);
}

/* A flood the capture does not read in time: the kernel's drop counter reaches stats (libtrace
 * hands int: and ring: drops over as counts since its previous call; the driver adds them up). */
static void live_drops(const char *scheme)
{
	struct capture_open_params params = {.port = 1};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct capture_stats st1, st2;
	struct capture_pkt pkts[64];
	char filter[64], uri[32], err[CAPTURE_ERR_LEN];
	static uint8_t payload[1400];
	unsigned i, sent = 0;
	void *h = NULL;
	int s, rc;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(s >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&sa, &salen), 0);
	snprintf(filter, sizeof(filter), "udp and dst port %u", ntohs(sa.sin_port));
	snprintf(uri, sizeof(uri), "%s:lo", scheme);
	params.filter = filter;
	rc = drv_trace_ops.open(uri, &params, &h, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc != 0) {
		close(s);
		return;
	}
	for (i = 0; i < 20000; i++)
		sent += sendto(s, payload, sizeof(payload), MSG_DONTWAIT, (struct sockaddr *)&sa,
		               sizeof(sa)) == (ssize_t)sizeof(payload);
	usleep(50 * 1000);
	drv_trace_ops.stats(h, &st1);
	drv_trace_ops.stats(h, &st2);
	CHECK(st1.dropped > 0);
	CHECK(st1.dropped <= 2ull * sent);
	CHECK_EQ(st2.dropped, st1.dropped); /* no double counting */
	while (drv_trace_ops.rx_burst(h, pkts, 64) > 0)
		;
	drv_trace_ops.stats(h, &st2);
	CHECK(st2.dropped >= st1.dropped);
	CHECK(st2.packets > 0);
	CHECK(st2.packets + st2.dropped <= 2ull * sent);
	drv_trace_ops.close(h);
	close(s);
}

static void test_live_loopback(void)
{
	struct capture_open_params params = {.filter = "udp"};
	char err[CAPTURE_ERR_LEN];
	uint64_t t0;
	void *h = NULL;

	if (geteuid() != 0) {
		fprintf(stderr, "skipping live capture tests: they need root\n");
		return;
	}
	live_one("int", true);
	live_one("ring", true);
	live_drops("int");
	live_drops("ring");
	/* libtrace 3's pcapint: start would wait for (and swallow) a first matching packet: a
	 * filter is refused at once instead */
	live_one("pcapint", false);
	t0 = wr_mono_ns();
	CHECK_EQ(drv_trace_ops.open("pcapint:lo", &params, &h, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "int:lo") != NULL);
	CHECK(wr_mono_ns() - t0 < WR_NS_PER_S);
	/* an interface that does not exist */
	CHECK_EQ(open_err("int:weirnosuch0", err, sizeof(err)), -ENODEV);
	CHECK(strstr(err, "weirnosuch0") != NULL);
	CHECK_EQ(open_err("pcapint:weirnosuch0", err, sizeof(err)), -ENODEV);
}

/*
 * LeakSanitizer (the sanitizer build): leaks inside libtrace 3.0.22 and the libraries under it,
 * on paths this test takes on purpose, with every handle closed: the pcap: format never
 * closes its libpcap handle, pcapint: leaks the handle of a failed activation, int: and ring:
 * never free the BPF programs they compile, wandio leaks on a file it cannot open, and an
 * unknown scheme leaks its name. weir calls libpcap and wandio only through libtrace here.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libpcap.so\nleak:libwandio.so\nleak:trace_parse_uri\n";
}

int main(void)
{
	traces = getenv("WEIR_TRACES");
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/weir_test_drv_trace_XXXXXX");
	if (mkdtemp(tmp_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_corpus_erf);
	T_RUN(test_corpus_pcap);
	T_RUN(test_corpus_pcapng);
	T_RUN(test_converted);
	T_RUN(test_erf_written);
	T_RUN(test_truncated);
	T_RUN(test_open_errors);
	T_RUN(test_bursts);
	T_RUN(test_stop_offline);
	T_RUN(test_live_loopback);
	{
		char path[256];

		tmp_path(path, sizeof(path), "mix.erf");
		unlink(path);
		tmp_path(path, sizeof(path), "ext.erf");
		unlink(path);
	}
	rmdir(tmp_dir);
	return t_done();
}
