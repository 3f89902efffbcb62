/*
 * Unit tests of the pcap driver (drv_pcap_ops).
 *
 * The file reader is checked on small synthetic captures written into a temporary directory
 * (pcap in both byte orders and resolutions, pcapng with several sections, interfaces and
 * timestamp resolutions, ERF with extension headers and skipped record types, broken and cut
 * files, records larger than the read buffer, bursts across buffer refills, a pipe on
 * standard input), then on the real corpus named by $WEIR_TRACES: every readable file must
 * yield exactly the packet count of MANIFEST.csv. Finally a live capture on "lo" with a BPF
 * filter receives datagrams this test sends to itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drv_pcap.h"
#include "t.h"
#include "weir_config.h"
#include "wr.h"

#define MAX_PKTS 64
#define COPY_LEN 64

static char tmp_dir[64];
static char tmp_paths[64][128];
static unsigned n_tmp_paths;

/* ---------------------------------------------------------------------------------------- */
/* Building capture files                                                                   */

struct bb {
	uint8_t *p;
	size_t len, cap;
	bool big;
};

static void bb_put(struct bb *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	if (d)
		memcpy(b->p + b->len, d, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
}

static void bb_u8(struct bb *b, uint8_t v)
{
	bb_put(b, &v, 1);
}

static void bb_u16(struct bb *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	if (b->big)
		wr_put_be16(x, v);
	bb_put(b, x, 2);
}

static void bb_set_u32(struct bb *b, size_t off, uint32_t v)
{
	if (b->big) {
		wr_put_be32(b->p + off, v);
	} else {
		b->p[off] = (uint8_t)v;
		b->p[off + 1] = (uint8_t)(v >> 8);
		b->p[off + 2] = (uint8_t)(v >> 16);
		b->p[off + 3] = (uint8_t)(v >> 24);
	}
}

static void bb_u32(struct bb *b, uint32_t v)
{
	bb_put(b, NULL, 4);
	bb_set_u32(b, b->len - 4, v);
}

static void bb_u64(struct bb *b, uint64_t v)
{
	if (b->big) {
		bb_u32(b, (uint32_t)(v >> 32));
		bb_u32(b, (uint32_t)v);
	} else {
		bb_u32(b, (uint32_t)v);
		bb_u32(b, (uint32_t)(v >> 32));
	}
}

/* n bytes of a pattern that identifies the packet: seed, seed+1, ... */
static void bb_pattern(struct bb *b, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		bb_u8(b, (uint8_t)(seed + i));
}

static void bb_pad4(struct bb *b)
{
	while (b->len % 4)
		bb_u8(b, 0);
}

static void bb_free(struct bb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void pcap_file_hdr(struct bb *b, uint32_t magic, uint16_t major, uint16_t minor,
                          uint32_t linktype)
{
	bb_u32(b, magic);
	bb_u16(b, major);
	bb_u16(b, minor);
	bb_u32(b, 0);
	bb_u32(b, 0);
	bb_u32(b, 65535);
	bb_u32(b, linktype);
}

static void pcap_rec(struct bb *b, uint32_t sec, uint32_t frac, uint32_t incl, uint32_t orig,
                     uint8_t seed)
{
	bb_u32(b, sec);
	bb_u32(b, frac);
	bb_u32(b, incl);
	bb_u32(b, orig);
	bb_pattern(b, incl, seed);
}

/* pcapng block: ng_begin writes type and a length placeholder, ng_end pads the body and
 * writes the length at both ends. */
static size_t ng_begin(struct bb *b, uint32_t type)
{
	size_t start = b->len;

	bb_u32(b, type);
	bb_u32(b, 0);
	return start;
}

static void ng_end(struct bb *b, size_t start)
{
	uint32_t len;

	bb_pad4(b);
	len = (uint32_t)(b->len - start + 4);
	bb_u32(b, len);
	bb_set_u32(b, start + 4, len);
}

static void ng_opt(struct bb *b, uint16_t code, const void *v, uint16_t len)
{
	bb_u16(b, code);
	bb_u16(b, len);
	bb_put(b, v, len);
	bb_pad4(b);
}

static void ng_shb(struct bb *b, bool big)
{
	size_t s;

	b->big = big;
	s = ng_begin(b, 0x0a0d0d0a);
	bb_u32(b, 0x1a2b3c4d);
	bb_u16(b, 1);
	bb_u16(b, 0);
	bb_u64(b, UINT64_MAX);
	ng_opt(b, 4, "weir test", 9); /* shb_userappl */
	bb_u32(b, 0);                 /* opt_endofopt */
	ng_end(b, s);
}

/* tsresol < 0: no option; has_offset: write if_tsoffset. */
static void ng_idb(struct bb *b, uint16_t linktype, uint32_t snaplen, int tsresol, bool has_offset,
                   int64_t offset)
{
	size_t s = ng_begin(b, 1);

	bb_u16(b, linktype);
	bb_u16(b, 0);
	bb_u32(b, snaplen);
	ng_opt(b, 2, "eth0", 4); /* if_name, to be skipped */
	if (tsresol >= 0) {
		uint8_t v = (uint8_t)tsresol;

		ng_opt(b, 9, &v, 1);
	}
	if (has_offset) {
		bb_u16(b, 14);
		bb_u16(b, 8);
		bb_u64(b, (uint64_t)offset);
	}
	bb_u32(b, 0);
	ng_end(b, s);
}

static void ng_epb(struct bb *b, uint32_t ifid, uint64_t ts, uint32_t caplen, uint32_t orig,
                   uint8_t seed)
{
	size_t s = ng_begin(b, 6);

	bb_u32(b, ifid);
	bb_u32(b, (uint32_t)(ts >> 32));
	bb_u32(b, (uint32_t)ts);
	bb_u32(b, caplen);
	bb_u32(b, orig);
	bb_pattern(b, caplen, seed);
	bb_pad4(b);
	ng_opt(b, 1, "a comment", 9); /* opt_comment: options after the data are skipped */
	bb_u32(b, 0);
	ng_end(b, s);
}

static void ng_spb(struct bb *b, uint32_t orig, uint32_t present, uint8_t seed)
{
	size_t s = ng_begin(b, 3);

	bb_u32(b, orig);
	bb_pattern(b, present, seed);
	ng_end(b, s);
}

static void ng_pb(struct bb *b, uint16_t ifid, uint64_t ts, uint32_t caplen, uint32_t orig,
                  uint8_t seed)
{
	size_t s = ng_begin(b, 2);

	bb_u16(b, ifid);
	bb_u16(b, 0);
	bb_u32(b, (uint32_t)(ts >> 32));
	bb_u32(b, (uint32_t)ts);
	bb_u32(b, caplen);
	bb_u32(b, orig);
	bb_pattern(b, caplen, seed);
	ng_end(b, s);
}

static void ng_opaque(struct bb *b, uint32_t type, size_t body)
{
	size_t s = ng_begin(b, type);

	bb_pattern(b, body, 0xEE);
	ng_end(b, s);
}

/* ERF record: n_ext extension headers, then `pre` pad bytes, then the payload pattern, then
 * `post` bytes of record padding. */
static void erf_rec(struct bb *b, uint64_t ts, uint8_t type, unsigned n_ext, uint16_t lctr,
                    uint16_t wlen, size_t pre, size_t payload, size_t post, uint8_t seed)
{
	uint8_t h[16];
	size_t rlen = 16 + 8 * n_ext + pre + payload + post;
	unsigned i;

	for (i = 0; i < 8; i++)
		h[i] = (uint8_t)(ts >> (8 * i));
	h[8] = (uint8_t)(type | (n_ext ? 0x80 : 0));
	h[9] = 0x04;
	wr_put_be16(h + 10, (uint16_t)rlen);
	wr_put_be16(h + 12, lctr);
	wr_put_be16(h + 14, wlen);
	bb_put(b, h, sizeof(h));
	for (i = 0; i < n_ext; i++) {
		uint8_t e[8] = {(uint8_t)((i + 1 < n_ext ? 0x80 : 0) | 0x05), 1, 2, 3, 4, 5, 6, 7};

		bb_put(b, e, sizeof(e));
	}
	bb_put(b, NULL, pre);
	bb_pattern(b, payload, seed);
	bb_put(b, NULL, post);
}

static const char *write_tmp(const char *name, const void *data, size_t len)
{
	char *path = tmp_paths[n_tmp_paths++];
	FILE *fp;

	snprintf(path, sizeof(tmp_paths[0]), "%s/%s", tmp_dir, name);
	fp = fopen(path, "wb");
	if (fp == NULL || (len && fwrite(data, 1, len, fp) != len) || fclose(fp) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		abort();
	}
	return path;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading                                                                                  */

struct result {
	int open_rc;
	char err[CAPTURE_ERR_LEN];
	unsigned n;
	struct capture_pkt pkt[MAX_PKTS];
	uint8_t data[MAX_PKTS][COPY_LEN]; /* first bytes of each packet, copied at once */
	int end_rc;                       /* what ended the reading: -ENODATA or an error */
	char last_error[CAPTURE_ERR_LEN];
	struct capture_stats st;
	uint32_t caps;
};

/* Opens path and reads it to the end in bursts of `burst`. */
static void read_file(const char *path, unsigned burst, struct result *r)
{
	struct capture_open_params params = {.port = 7};
	struct capture_pkt pkts[MAX_PKTS];
	void *h = NULL;
	int rc, guard;

	memset(r, 0, sizeof(*r));
	r->open_rc = drv_pcap_ops.open(path, &params, &h, r->err, sizeof(r->err));
	if (r->open_rc < 0)
		return;
	r->caps = drv_pcap_ops.caps(h);
	CHECK_EQ(drv_pcap_ops.start(h), 0);
	for (guard = 0; guard < 100000; guard++) {
		int i;

		rc = drv_pcap_ops.rx_burst(h, pkts, burst);
		if (rc < 0)
			break;
		for (i = 0; i < rc; i++) {
			if (r->n < MAX_PKTS) {
				r->pkt[r->n] = pkts[i];
				memcpy(r->data[r->n], pkts[i].data,
				       pkts[i].caplen < COPY_LEN ? pkts[i].caplen : COPY_LEN);
			}
			r->n++;
		}
	}
	r->end_rc = rc;
	snprintf(r->last_error, sizeof(r->last_error), "%s", drv_pcap_ops.last_error(h));
	drv_pcap_ops.stats(h, &r->st);
	/* After the end (or a fatal error) the answer stays the same. */
	CHECK_EQ(drv_pcap_ops.rx_burst(h, pkts, burst), rc);
	drv_pcap_ops.close(h);
}

/* True when packet i of r has caplen bytes of the pattern starting at seed. */
static bool pkt_pattern_ok(const struct result *r, unsigned i, uint8_t seed)
{
	unsigned k, n = r->pkt[i].caplen < COPY_LEN ? r->pkt[i].caplen : COPY_LEN;

	for (k = 0; k < n; k++)
		if (r->data[i][k] != (uint8_t)(seed + k))
			return false;
	return true;
}

static struct result res; /* large: kept off the stack */

/* ---------------------------------------------------------------------------------------- */
/* pcap                                                                                     */

static void test_pcap_le_usec(void)
{
	struct bb b = {0};
	const char *path;

	pcap_file_hdr(&b, 0xa1b2c3d4, 2, 4, 1);
	pcap_rec(&b, 1700000000, 123456, 60, 60, 1);
	pcap_rec(&b, 1700000001, 999999, 40, 1500, 2);
	pcap_rec(&b, 1700000002, 0, 50, 10, 3); /* orig < incl: wirelen is at least caplen */
	path = write_tmp("le_usec.pcap", b.p, b.len);
	read_file(path, 2, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.caps, CAPTURE_CAP_OFFLINE);
	CHECK_EQ(res.n, 3);
	CHECK_EQ(res.pkt[0].ts_ns, 1700000000123456000ULL);
	CHECK_EQ(res.pkt[1].ts_ns, 1700000001999999000ULL);
	CHECK_EQ(res.pkt[0].caplen, 60);
	CHECK_EQ(res.pkt[0].wirelen, 60);
	CHECK_EQ(res.pkt[1].caplen, 40);
	CHECK_EQ(res.pkt[1].wirelen, 1500);
	CHECK_EQ(res.pkt[2].caplen, 50);
	CHECK_EQ(res.pkt[2].wirelen, 50);
	CHECK_EQ(res.pkt[0].linktype, CAPTURE_LINK_ETHERNET);
	CHECK_EQ(res.pkt[2].port, 7);
	CHECK(pkt_pattern_ok(&res, 0, 1));
	CHECK(pkt_pattern_ok(&res, 1, 2));
	CHECK(pkt_pattern_ok(&res, 2, 3));
	CHECK_EQ(res.end_rc, -ENODATA);
	CHECK_EQ(res.st.packets, 3);
	CHECK_EQ(res.st.bytes, 60 + 1500 + 50);
	CHECK_EQ(res.st.truncated_file, 0);
	CHECK_STR(res.last_error, "");
	bb_free(&b);
}

static void test_pcap_be_nsec(void)
{
	struct bb b = {.big = true};
	const char *path;

	pcap_file_hdr(&b, 0xa1b23c4d, 2, 4, 101);
	pcap_rec(&b, 1, 999999999, 20, 20, 9);
	pcap_rec(&b, 4000000000u, 5, 28, 28, 10); /* seconds past 2^31: unsigned */
	path = write_tmp("be_nsec.pcap", b.p, b.len);
	CHECK_EQ(b.p[0], 0xa1); /* really big-endian */
	read_file(path, 64, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 2);
	CHECK_EQ(res.pkt[0].ts_ns, 1999999999ULL);
	CHECK_EQ(res.pkt[1].ts_ns, 4000000000ULL * WR_NS_PER_S + 5);
	CHECK_EQ(res.pkt[0].linktype, CAPTURE_LINK_RAW);
	CHECK_EQ(res.pkt[1].caplen, 28);
	CHECK(pkt_pattern_ok(&res, 1, 10));
	CHECK_EQ(res.end_rc, -ENODATA);
	bb_free(&b);
}

static void test_pcap_refused_and_odd(void)
{
	struct bb b = {0};
	char missing[128];
	const char *path;

	/* version 1.4 */
	pcap_file_hdr(&b, 0xa1b2c3d4, 1, 4, 1);
	pcap_rec(&b, 1, 0, 20, 20, 0);
	path = write_tmp("v14.pcap", b.p, b.len);
	read_file(path, 8, &res);
	CHECK(res.open_rc < 0);
	CHECK(strstr(res.err, "version 1.4") != NULL);
	bb_free(&b);

	/* link-type field with upper bits set */
	pcap_file_hdr(&b, 0xa1b2c3d4, 2, 4, 0x30000001);
	pcap_rec(&b, 1, 0, 20, 20, 0);
	path = write_tmp("upper_bits.pcap", b.p, b.len);
	read_file(path, 8, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 1);
	CHECK_EQ(res.pkt[0].linktype, 1);
	bb_free(&b);

	/* last record cut short inside its data */
	pcap_file_hdr(&b, 0xa1b2c3d4, 2, 4, 1);
	pcap_rec(&b, 1, 0, 20, 20, 0);
	pcap_rec(&b, 2, 0, 30, 30, 0);
	pcap_rec(&b, 3, 0, 100, 100, 0);
	b.len -= 90;
	path = write_tmp("cut_data.pcap", b.p, b.len);
	read_file(path, 8, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 2);
	CHECK_EQ(res.end_rc, -ENODATA);
	CHECK_EQ(res.st.truncated_file, 1);
	CHECK_EQ(res.st.packets, 2);
	/* ... and inside its record header */
	b.len -= 10 + 10;
	path = write_tmp("cut_header.pcap", b.p, b.len);
	read_file(path, 1, &res);
	CHECK_EQ(res.n, 2);
	CHECK_EQ(res.end_rc, -ENODATA);
	CHECK_EQ(res.st.truncated_file, 1);
	bb_free(&b);

	/* header only: a valid, empty capture */
	pcap_file_hdr(&b, 0xa1b2c3d4, 2, 4, 1);
	path = write_tmp("header_only.pcap", b.p, b.len);
	read_file(path, 8, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 0);
	CHECK_EQ(res.end_rc, -ENODATA);
	CHECK_EQ(res.st.truncated_file, 0);
	CHECK_STR(res.last_error, "");
	/* cut file header */
	path = write_tmp("short_header.pcap", b.p, 20);
	read_file(path, 8, &res);
	CHECK(res.open_rc < 0);
	CHECK(strstr(res.err, "pcap file header") != NULL);
	bb_free(&b);

	/* empty file */
	path = write_tmp("empty.pcap", "", 0);
	read_file(path, 8, &res);
	CHECK(res.open_rc < 0);
	CHECK_STR(res.err, "empty file");

	/* not a capture at all */
	path = write_tmp("page.html", "<html><body>hello</body></html>\n", 32);
	read_file(path, 8, &res);
	CHECK(res.open_rc < 0);
	CHECK(strstr(res.err, "not a pcap, pcapng or ERF file") != NULL);
	CHECK(strstr(res.err, "0x3c68746d") != NULL);

	/* missing file */
	snprintf(missing, sizeof(missing), "%s/missing.pcap", tmp_dir);
	read_file(missing, 8, &res);
	CHECK_EQ(res.open_rc, -ENOENT);
	CHECK_STR(res.err, "cannot open: No such file or directory");
}

static void test_pcap_record_limits(void)
{
	struct bb b = {0};
	const size_t big = (5u << 20) + 3; /* above the initial 4 MiB buffer */
	struct capture_pkt pkts[4];
	struct capture_open_params params = {0};
	char err[CAPTURE_ERR_LEN];
	const char *path;
	void *h = NULL;
	int rc;

	pcap_file_hdr(&b, 0xa1b2c3d4, 2, 4, 1);
	pcap_rec(&b, 1, 0, 100, 100, 1);
	pcap_rec(&b, 2, 0, (uint32_t)big, (uint32_t)big, 2);
	pcap_rec(&b, 3, 0, 100, 100, 3);
	path = write_tmp("big_record.pcap", b.p, b.len);
	CHECK_EQ(drv_pcap_ops.open(path, &params, &h, err, sizeof(err)), 0);
	rc = drv_pcap_ops.rx_burst(h, pkts, 4);
	CHECK(rc >= 1);
	CHECK_EQ(pkts[0].caplen, 100);
	if (rc == 1) /* the big record was not in the buffer yet: the burst stopped before it */
		rc = drv_pcap_ops.rx_burst(h, pkts + 1, 3) + 1;
	CHECK(rc >= 2);
	CHECK_EQ(pkts[1].caplen, big);
	CHECK_EQ(pkts[1].data[0], 2);
	CHECK_EQ(pkts[1].data[big - 1], (uint8_t)(2 + big - 1));
	drv_pcap_ops.close(h);
	read_file(path, 64, &res);
	CHECK_EQ(res.n, 3);
	CHECK_EQ(res.end_rc, -ENODATA);
	CHECK_EQ(res.st.bytes, 200 + big);
	bb_free(&b);

	/* a record above the hard cap is refused with its offset, after the good ones */
	pcap_file_hdr(&b, 0xa1b2c3d4, 2, 4, 1);
	pcap_rec(&b, 1, 0, 100, 100, 1);
	bb_u32(&b, 2);
	bb_u32(&b, 0);
	bb_u32(&b, 20u << 20);
	bb_u32(&b, 20u << 20);
	bb_pattern(&b, 1000, 0);
	path = write_tmp("huge_record.pcap", b.p, b.len);
	read_file(path, 64, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 1);
	CHECK(res.end_rc < 0 && res.end_rc != -ENODATA);
	CHECK(strstr(res.last_error, "offset 140") != NULL);
	bb_free(&b);
}

/* Records of varied sizes over several buffer refills; every packet of a burst is checked
 * after the burst returns, so a refill in the middle of a burst would show. */
#define REFILL_RECORDS 6000u

static size_t refill_size(uint32_t i)
{
	return 64 + (i * 7919u) % 3000;
}

static void refill_build(struct bb *b)
{
	uint32_t i;

	pcap_file_hdr(b, 0xa1b2c3d4, 2, 4, 1);
	for (i = 0; i < REFILL_RECORDS; i++) {
		size_t n = refill_size(i);

		bb_u32(b, i);
		bb_u32(b, 0);
		bb_u32(b, (uint32_t)n);
		bb_u32(b, (uint32_t)n);
		bb_u32(b, i); /* packet starts with its index, then the pattern */
		bb_pattern(b, n - 4, (uint8_t)i);
	}
}

/* Reads a refill_build() capture from an open handle; returns the packets whose bytes were
 * all as written when their burst returned. */
static unsigned refill_read(void *h, unsigned burst, unsigned *ret_short_bursts)
{
	struct capture_pkt pkts[MAX_PKTS];
	uint32_t next = 0;
	unsigned good = 0, guard;
	int rc = 0;

	*ret_short_bursts = 0;
	for (guard = 0; guard < 1000000; guard++) {
		int i;

		rc = drv_pcap_ops.rx_burst(h, pkts, burst);
		if (rc <= 0)
			break;
		if ((unsigned)rc < burst)
			(*ret_short_bursts)++;
		for (i = 0; i < rc; i++, next++) {
			const uint8_t *d = pkts[i].data;
			size_t k, n = refill_size(next);
			bool ok = pkts[i].caplen == n && wr_le32(d) == next;

			for (k = 4; ok && k < n; k++)
				ok = d[k] == (uint8_t)(next + k - 4);
			good += ok;
		}
	}
	CHECK_EQ(rc, -ENODATA);
	CHECK_EQ(next, REFILL_RECORDS);
	return good;
}

static void test_burst_across_refill(void)
{
	struct bb b = {0};
	struct capture_open_params params = {0};
	struct capture_stats st;
	char err[CAPTURE_ERR_LEN];
	const char *path;
	unsigned shorts;
	void *h = NULL;

	refill_build(&b);
	CHECK(b.len > (8u << 20)); /* at least two refills of the 4 MiB buffer */
	path = write_tmp("refill.pcap", b.p, b.len);
	CHECK_EQ(drv_pcap_ops.open(path, &params, &h, err, sizeof(err)), 0);
	CHECK_EQ(refill_read(h, MAX_PKTS, &shorts), REFILL_RECORDS);
	CHECK(shorts >= 2); /* bursts ended early at the buffer's end rather than refilling */
	drv_pcap_ops.stats(h, &st);
	CHECK_EQ(st.packets, REFILL_RECORDS);
	CHECK_EQ(st.truncated_file, 0);
	drv_pcap_ops.close(h);
	bb_free(&b);
}

/* The same capture through a pipe on standard input: short reads everywhere. */
static void test_stdin_pipe(void)
{
	struct bb b = {0};
	struct capture_open_params params = {0};
	char err[CAPTURE_ERR_LEN];
	int fds[2], saved, status = 0;
	unsigned shorts;
	void *h = NULL;
	pid_t pid;

	refill_build(&b);
	CHECK_EQ(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		size_t off = 0;

		close(fds[0]);
		while (off < b.len) {
			size_t n = b.len - off < 7001 ? b.len - off : 7001;
			ssize_t w = write(fds[1], b.p + off, n);

			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	CHECK(pid > 0);
	close(fds[1]);
	saved = dup(STDIN_FILENO);
	dup2(fds[0], STDIN_FILENO);
	close(fds[0]);
	CHECK_EQ(drv_pcap_ops.open("-", &params, &h, err, sizeof(err)), 0);
	if (h) {
		CHECK_EQ(drv_pcap_ops.caps(h), CAPTURE_CAP_OFFLINE);
		CHECK_EQ(refill_read(h, 17, &shorts), REFILL_RECORDS);
		drv_pcap_ops.close(h);
	}
	dup2(saved, STDIN_FILENO);
	close(saved);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	bb_free(&b);
}

static void test_stop(void)
{
	struct bb b = {0};
	struct capture_open_params params = {0};
	struct capture_pkt pkts[2];
	char err[CAPTURE_ERR_LEN];
	const char *path;
	void *h = NULL;

	pcap_file_hdr(&b, 0xa1b2c3d4, 2, 4, 1);
	pcap_rec(&b, 1, 0, 20, 20, 0);
	pcap_rec(&b, 2, 0, 20, 20, 0);
	path = write_tmp("stop.pcap", b.p, b.len);
	CHECK_EQ(drv_pcap_ops.open(path, &params, &h, err, sizeof(err)), 0);
	CHECK_EQ(drv_pcap_ops.rx_burst(h, pkts, 1), 1);
	drv_pcap_ops.stop(h);
	CHECK_EQ(drv_pcap_ops.rx_burst(h, pkts, 1), -ENODATA);
	drv_pcap_ops.close(h);
	drv_pcap_ops.close(NULL);
	bb_free(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* pcapng                                                                                   */

static void test_pcapng_sections(void)
{
	struct bb b = {0};
	const char *path;

	/* section 1, little-endian: Ethernet in microseconds, raw IP in nanoseconds + 100 s */
	ng_shb(&b, false);
	ng_idb(&b, 1, 0, -1, false, 0);
	ng_idb(&b, 101, 65535, 9, true, 100);
	ng_opaque(&b, 0x00000BAD, 13); /* custom blocks */
	ng_opaque(&b, 0x40000BAD, 8);
	ng_opaque(&b, 4, 20);         /* name resolution */
	ng_opaque(&b, 0x12345678, 0); /* unknown type */
	ng_epb(&b, 1, 1500000000123456789ULL, 20, 40, 1);
	ng_epb(&b, 0, 1700000000000001ULL, 60, 60, 2);
	ng_spb(&b, 50, 52, 3); /* 2 bytes of block padding are not packet data */
	ng_pb(&b, 1, 5, 10, 10, 4);
	ng_opaque(&b, 5, 24); /* interface statistics */
	/* section 2, big-endian: a new interface list */
	ng_shb(&b, true);
	ng_idb(&b, 0, 0, 0x94, false, 0); /* 2^-20 s */
	ng_idb(&b, 113, 0, 3, true, -10); /* milliseconds, 10 s earlier */
	ng_epb(&b, 0, (5ULL << 20) + (1ULL << 19), 16, 16, 5);
	ng_epb(&b, 0, 1, 16, 16, 6);
	ng_epb(&b, 1, 20000, 16, 16, 7);
	ng_opaque(&b, 0x00000BAD, 4);
	path = write_tmp("sections.pcapng", b.p, b.len);
	read_file(path, 3, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 7);
	CHECK_EQ(res.end_rc, -ENODATA);
	CHECK_STR(res.last_error, "");

	CHECK_EQ(res.pkt[0].linktype, CAPTURE_LINK_RAW);
	CHECK_EQ(res.pkt[0].ts_ns, 1500000000123456789ULL + 100 * WR_NS_PER_S);
	CHECK_EQ(res.pkt[0].caplen, 20);
	CHECK_EQ(res.pkt[0].wirelen, 40);
	CHECK(pkt_pattern_ok(&res, 0, 1));

	CHECK_EQ(res.pkt[1].linktype, CAPTURE_LINK_ETHERNET);
	CHECK_EQ(res.pkt[1].ts_ns, 1700000000000001000ULL);
	CHECK_EQ(res.pkt[1].caplen, 60);
	CHECK(pkt_pattern_ok(&res, 1, 2));

	CHECK_EQ(res.pkt[2].linktype, CAPTURE_LINK_ETHERNET); /* SPB: interface 0 */
	CHECK_EQ(res.pkt[2].caplen, 50);
	CHECK_EQ(res.pkt[2].wirelen, 50);
	CHECK_EQ(res.pkt[2].ts_ns, res.pkt[1].ts_ns); /* no time of its own: the previous one */
	CHECK(pkt_pattern_ok(&res, 2, 3));

	CHECK_EQ(res.pkt[3].linktype, CAPTURE_LINK_RAW); /* obsolete PB on interface 1 */
	CHECK_EQ(res.pkt[3].ts_ns, 5 + 100 * WR_NS_PER_S);
	CHECK_EQ(res.pkt[3].caplen, 10);
	CHECK(pkt_pattern_ok(&res, 3, 4));

	CHECK_EQ(res.pkt[4].linktype, CAPTURE_LINK_NULL);
	CHECK_EQ(res.pkt[4].ts_ns, 5500000000ULL);
	CHECK(pkt_pattern_ok(&res, 4, 5));
	CHECK_EQ(res.pkt[5].ts_ns, 953); /* 10^9 / 2^20 = 953.67, rounded down */
	CHECK_EQ(res.pkt[6].linktype, CAPTURE_LINK_SLL);
	CHECK_EQ(res.pkt[6].ts_ns, 10 * WR_NS_PER_S);
	CHECK(pkt_pattern_ok(&res, 6, 7));
	CHECK_EQ(res.st.packets, 7);
	CHECK_EQ(res.st.bytes, 40 + 60 + 50 + 10 + 16 * 3);
	bb_free(&b);
}

static void test_pcapng_errors(void)
{
	struct bb b = {0};
	const char *path;
	size_t bad;

	/* block length 7 after a good packet */
	ng_shb(&b, false);
	ng_idb(&b, 1, 0, -1, false, 0);
	ng_epb(&b, 0, 1, 20, 20, 0);
	bad = b.len;
	bb_u32(&b, 0x12345678);
	bb_u32(&b, 7);
	bb_put(&b, NULL, 16);
	path = write_tmp("bad_len.pcapng", b.p, b.len);
	read_file(path, 8, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 1);
	CHECK(res.end_rc < 0 && res.end_rc != -ENODATA);
	snprintf(res.err, sizeof(res.err), "pcapng block at offset %zu has bad length 7", bad);
	CHECK_STR(res.last_error, res.err);

	/* trailing length differs from the leading one */
	b.len = bad;
	ng_epb(&b, 0, 1, 20, 20, 0);
	b.p[b.len - 4] ^= 4;
	path = write_tmp("bad_trailer.pcapng", b.p, b.len);
	read_file(path, 8, &res);
	CHECK_EQ(res.n, 1);
	CHECK(res.end_rc < 0 && res.end_rc != -ENODATA);
	CHECK(strstr(res.last_error, "offset") != NULL);

	/* a new section forgets the interfaces of the previous one */
	b.len = bad;
	ng_idb(&b, 1, 0, -1, false, 0);
	ng_epb(&b, 1, 1, 20, 20, 0);
	bad = b.len;
	ng_shb(&b, true);
	ng_idb(&b, 1, 0, -1, false, 0);
	ng_epb(&b, 1, 1, 20, 20, 0);
	path = write_tmp("unknown_if.pcapng", b.p, b.len);
	read_file(path, 8, &res);
	CHECK_EQ(res.n, 2);
	CHECK(res.end_rc < 0 && res.end_rc != -ENODATA);
	CHECK(strstr(res.last_error, "interface 1") != NULL);

	/* a file cut in the middle of a block */
	b.len = bad - 10;
	path = write_tmp("cut.pcapng", b.p, b.len);
	read_file(path, 8, &res);
	CHECK_EQ(res.n, 1);
	CHECK_EQ(res.end_rc, -ENODATA);
	CHECK_EQ(res.st.truncated_file, 1);
	bb_free(&b);

	/* a bad byte-order magic */
	ng_shb(&b, false);
	b.p[8] = 0x99;
	path = write_tmp("bad_bom.pcapng", b.p, b.len);
	read_file(path, 8, &res);
	CHECK(res.open_rc < 0);
	CHECK(strstr(res.err, "byte-order magic") != NULL);
	bb_free(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* ERF                                                                                      */

static void test_erf(void)
{
	struct bb b = {0};
	const uint64_t sec = 1700000000ULL << 32;
	const char *path;

	erf_rec(&b, sec | 0x80000000u, 2, 2, 0, 64, 2, 60, 0, 1);  /* ETH, 2 extension headers */
	erf_rec(&b, sec, 27, 0, 0, 0, 0, 40, 0, 0);                /* META */
	erf_rec(&b, sec, 48, 0, 0, 0, 0, 32, 0, 0);                /* PAD */
	erf_rec(&b, sec | 0xffffffffu, 22, 0, 3, 20, 0, 20, 4, 2); /* IPv4, padded, 3 lost */
	erf_rec(&b, sec | 3, 1, 0, 0, 30, 0, 30, 0, 3);            /* HDLC: not decodable */
	erf_rec(&b, sec | 1, 2, 0, 0, 100, 2, 40, 0, 4);           /* ETH cut at 40 bytes */
	erf_rec(&b, sec, 27, 1, 0, 0, 0, 16, 0, 0);                /* META with extension */
	path = write_tmp("mixed.erf", b.p, b.len);
	read_file(path, 2, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 4);
	CHECK_EQ(res.end_rc, -ENODATA);

	CHECK_EQ(res.pkt[0].linktype, CAPTURE_LINK_ETHERNET);
	CHECK_EQ(res.pkt[0].caplen, 60);
	CHECK_EQ(res.pkt[0].wirelen, 64);
	CHECK_EQ(res.pkt[0].ts_ns, 1700000000500000000ULL);
	CHECK(pkt_pattern_ok(&res, 0, 1));

	CHECK_EQ(res.pkt[1].linktype, CAPTURE_LINK_RAW);
	CHECK_EQ(res.pkt[1].caplen, 20);
	CHECK_EQ(res.pkt[1].wirelen, 20);
	CHECK_EQ(res.pkt[1].ts_ns, 1700000001000000000ULL); /* 0.99999999977 s rounds up */
	CHECK(pkt_pattern_ok(&res, 1, 2));

	CHECK_EQ(res.pkt[2].linktype, 0xFFFF);
	CHECK_EQ(res.pkt[2].caplen, 30);
	CHECK_EQ(res.pkt[2].ts_ns, 1700000000000000001ULL); /* 3 * 0.2328 ns */
	CHECK(pkt_pattern_ok(&res, 2, 3));

	CHECK_EQ(res.pkt[3].caplen, 40);
	CHECK_EQ(res.pkt[3].wirelen, 100);
	CHECK_EQ(res.pkt[3].ts_ns, 1700000000000000000ULL);
	CHECK(pkt_pattern_ok(&res, 3, 4));

	CHECK_EQ(res.st.packets, 4);
	CHECK_EQ(res.st.bytes, 64 + 20 + 30 + 100);
	CHECK_EQ(res.st.dropped, 3);

	/* a record length below the header size is a fatal error after the good records */
	b.len = 0;
	erf_rec(&b, sec, 2, 0, 0, 64, 2, 60, 0, 1);
	erf_rec(&b, sec, 2, 0, 0, 64, 2, 60, 0, 1);
	erf_rec(&b, sec, 2, 0, 0, 64, 2, 60, 0, 1);
	wr_put_be16(b.p + 2 * 78 + 10, 8);
	path = write_tmp("bad.erf", b.p, b.len);
	read_file(path, 8, &res);
	CHECK_EQ(res.open_rc, 0);
	CHECK_EQ(res.n, 2);
	CHECK(res.end_rc < 0 && res.end_rc != -ENODATA);
	CHECK_STR(res.last_error, "ERF record at offset 156 has bad length 8");
	/* ... but as the second record it stops the file being taken for ERF at all */
	wr_put_be16(b.p + 78 + 10, 8);
	path = write_tmp("not.erf", b.p, b.len);
	read_file(path, 8, &res);
	CHECK(res.open_rc < 0);
	CHECK(strstr(res.err, "not a pcap, pcapng or ERF file") != NULL);
	bb_free(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* The corpus                                                                               */

#define CSV_MAX_FIELDS 32

/* Splits one CSV record (RFC 4180: quoted fields may hold commas, newlines and "" quotes)
 * starting at *p into fields, NUL-terminating them in place. Returns the field count, 0 at
 * the end of the text. */
static unsigned csv_record(char **p, char *fields[CSV_MAX_FIELDS])
{
	char *s = *p, *out;
	unsigned n = 0;

	if (*s == '\0')
		return 0;
	for (;;) {
		char *start = out = s;

		if (*s == '"') {
			start = out = ++s;
			for (;;) {
				if (*s == '\0')
					break;
				if (*s == '"' && s[1] == '"') {
					*out++ = '"';
					s += 2;
				} else if (*s == '"') {
					s++;
					break;
				} else {
					*out++ = *s++;
				}
			}
		}
		while (*s != ',' && *s != '\n' && *s != '\r' && *s != '\0')
			*out++ = *s++;
		if (n < CSV_MAX_FIELDS)
			fields[n++] = start;
		if (*s == ',') {
			*out = '\0';
			s++;
			continue;
		}
		if (*s == '\r')
			*s++ = '\0';
		if (*s == '\n')
			s++;
		*out = '\0';
		break;
	}
	*p = s;
	return n;
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long len;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, fp) == (size_t)len) {
			buf[len] = '\0';
			*ret_len = (size_t)len;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(fp);
	return buf;
}

static int csv_column(char **fields, unsigned n, const char *name)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i], name) == 0)
			return (int)i;
	fprintf(stderr, "MANIFEST.csv has no column %s\n", name);
	return -1;
}

static void test_corpus(void)
{
	const char *dir = getenv("WEIR_TRACES");
	char path[1024], *text, *p, *fields[CSV_MAX_FIELDS];
	int c_file, c_packets, c_status;
	unsigned n, files = 0, equal = 0, refused = 0;
	size_t len;

	if (dir == NULL || dir[0] == '\0') {
		fprintf(stderr, "WEIR_TRACES is not set: it must name the trace corpus directory "
		                "(with MANIFEST.csv)\n");
		CHECK(dir != NULL && dir[0] != '\0');
		return;
	}
	snprintf(path, sizeof(path), "%s/MANIFEST.csv", dir);
	text = slurp(path, &len);
	if (text == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		CHECK(text != NULL);
		return;
	}
	p = text;
	n = csv_record(&p, fields);
	c_file = csv_column(fields, n, "file");
	c_packets = csv_column(fields, n, "packets");
	c_status = csv_column(fields, n, "tshark_status");
	CHECK(c_file >= 0 && c_packets >= 0 && c_status >= 0);
	if (c_file < 0 || c_packets < 0 || c_status < 0) {
		free(text);
		return;
	}
	while ((n = csv_record(&p, fields)) > 0) {
		uint64_t want = 0;

		if (n <= (unsigned)c_status || n <= (unsigned)c_packets) {
			CHECK(n > (unsigned)c_status && n > (unsigned)c_packets);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, fields[c_file]);
		read_file(path, 32, &res);
		if (strcmp(fields[c_status], "ok") != 0) {
			/* tshark cannot read it: neither should we, with a message */
			CHECK(res.open_rc < 0 || res.end_rc != -ENODATA);
			CHECK(res.err[0] != '\0' || res.last_error[0] != '\0');
			refused++;
			continue;
		}
		files++;
		CHECK_EQ(wr_parse_u64(fields[c_packets], 0, UINT64_MAX, &want), 0);
		if (res.open_rc == 0 && res.end_rc == -ENODATA && res.n == want) {
			equal++;
		} else {
			fprintf(stderr,
			        "%s: open %d (%s), end %d (%s), %u packets, manifest %" PRIu64 "\n",
			        fields[c_file], res.open_rc, res.err, res.end_rc, res.last_error,
			        res.n, want);
		}
		CHECK_EQ(res.open_rc, 0);
		CHECK_EQ(res.end_rc, -ENODATA);
		CHECK_EQ(res.n, want);
		CHECK_EQ(res.st.packets, want);
	}
	fprintf(stderr,
	        "corpus: %u of %u readable files give the manifest's packet count, %u "
	        "unreadable refused\n",
	        equal, files, refused);
	CHECK(files > 0);
	CHECK_EQ(equal, files);
	free(text);
}

/* The two libtrace copies of the same 100 packets, one pcap and one ERF, must agree on
 * lengths, link type, time and IP header. */
static void test_corpus_erf_matches_pcap(void)
{
	static struct result pcap_res;
	const char *dir = getenv("WEIR_TRACES");
	char path[1024];
	unsigned i;

	if (dir == NULL || dir[0] == '\0')
		return; /* test_corpus has failed already */
	snprintf(path, sizeof(path), "%s/libtrace__100_packets.pcap", dir);
	read_file(path, 32, &pcap_res);
	snprintf(path, sizeof(path), "%s/libtrace__100_packets.erf", dir);
	read_file(path, 32, &res);
	CHECK_EQ(res.n, 100);
	CHECK_EQ(pcap_res.n, 100);
	for (i = 0; i < MAX_PKTS && i < res.n && i < pcap_res.n; i++) {
		const struct capture_pkt *a = &res.pkt[i], *b = &pcap_res.pkt[i];

		CHECK_EQ(a->caplen, b->caplen);
		CHECK_EQ(a->wirelen, b->wirelen);
		CHECK_EQ(a->linktype, b->linktype);
		/* The pcap copy has microseconds, rounded either way, and two of its packets are
		 * 3 us off the ERF time in the published files. */
		CHECK((a->ts_ns > b->ts_ns ? a->ts_ns - b->ts_ns : b->ts_ns - a->ts_ns) <
		      5 * WR_NS_PER_US);
		/* Ethertype and IPv4 header. The MAC addresses and some TCP bytes differ between
		 * the two published files (0x0a in the pcap where the ERF has 0x0d). */
		CHECK(memcmp(res.data[i] + 12, pcap_res.data[i] + 12, 34 - 12) == 0);
	}
	CHECK_EQ(res.st.bytes, pcap_res.st.bytes);
}

/* ---------------------------------------------------------------------------------------- */
/* Live capture                                                                             */

#if WEIR_HAVE_PCAP
static void test_live_loopback(void)
{
	static const size_t sizes[5] = {1, 100, 512, 1000, 1400};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct capture_open_params params = {.port = 3, .buffer_mb = 8};
	struct capture_pkt pkts[MAX_PKTS];
	struct capture_stats st;
	uint32_t got_len[5] = {0}, got_wire[5] = {0};
	uint16_t got_link[5] = {0}, got_dport[5] = {0}, got_port[5] = {0};
	uint8_t payload[1400];
	char filter[64], err[CAPTURE_ERR_LEN] = "";
	unsigned got = 0, i, iter;
	void *h = NULL;
	int s, rc;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(s >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&sa, &salen), 0);
	snprintf(filter, sizeof(filter), "udp and dst port %u", ntohs(sa.sin_port));
	params.filter = filter;
	rc = drv_pcap_ops.open("lo", &params, &h, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "pcap:lo: %s\n", err);
	CHECK_EQ(rc, 0);
	if (rc != 0) {
		close(s);
		return;
	}
	CHECK_EQ(drv_pcap_ops.caps(h), CAPTURE_CAP_LIVE);
	CHECK_EQ(drv_pcap_ops.start(h), 0);
	memset(payload, 0xAB, sizeof(payload));
	for (i = 0; i < 5; i++)
		CHECK_EQ(sendto(s, payload, sizes[i], 0, (struct sockaddr *)&sa, sizeof(sa)),
		         (ssize_t)sizes[i]);
	/* Each call waits at most 100 ms: 50 calls bound the wait without timing anything. */
	for (iter = 0; iter < 50 && got < 5; iter++) {
		rc = drv_pcap_ops.rx_burst(h, pkts, MAX_PKTS);
		CHECK(rc >= 0);
		for (i = 0; i < (unsigned)(rc > 0 ? rc : 0) && got < 5; i++, got++) {
			got_len[got] = pkts[i].caplen;
			got_wire[got] = pkts[i].wirelen;
			got_link[got] = pkts[i].linktype;
			got_port[got] = pkts[i].port;
			got_dport[got] = pkts[i].caplen >= 38 ? wr_be16(pkts[i].data + 36) : 0;
		}
	}
	CHECK_EQ(got, 5);
	for (i = 0; i < got; i++) {
		CHECK_EQ(got_len[i], 14 + 20 + 8 + sizes[i]);
		CHECK_EQ(got_wire[i], 14 + 20 + 8 + sizes[i]);
		CHECK_EQ(got_link[i], CAPTURE_LINK_ETHERNET);
		CHECK_EQ(got_port[i], 3);
		CHECK_EQ(got_dport[i], ntohs(sa.sin_port));
	}
	drv_pcap_ops.stats(h, &st);
	CHECK(st.packets >= 5);
	drv_pcap_ops.stop(h);
	CHECK_EQ(drv_pcap_ops.rx_burst(h, pkts, MAX_PKTS), -ENODATA);
	drv_pcap_ops.close(h);
	close(s);

	/* a bad filter is refused at open, naming the filter */
	params.filter = "udp and nonsense";
	rc = drv_pcap_ops.open("lo", &params, &h, err, sizeof(err));
	CHECK(rc < 0);
	CHECK(strstr(err, "udp and nonsense") != NULL);

	/* an interface that does not exist */
	params.filter = NULL;
	rc = drv_pcap_ops.open("weirnosuch0", &params, &h, err, sizeof(err));
	CHECK(rc < 0);
	CHECK(strstr(err, "no such interface") != NULL);
}
#else
/* Built without libpcap: an interface name is refused with the reason. */
static void test_live_loopback(void)
{
	struct capture_open_params params = {0};
	char err[CAPTURE_ERR_LEN] = "";
	void *h = NULL;

	CHECK(drv_pcap_ops.open("lo", &params, &h, err, sizeof(err)) < 0);
	CHECK(strstr(err, "live capture needs libpcap") != NULL);
}
#endif

int main(void)
{
	unsigned i;

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/weir_test_drv_pcap_XXXXXX");
	if (mkdtemp(tmp_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_pcap_le_usec);
	T_RUN(test_pcap_be_nsec);
	T_RUN(test_pcap_refused_and_odd);
	T_RUN(test_pcap_record_limits);
	T_RUN(test_burst_across_refill);
	T_RUN(test_stdin_pipe);
	T_RUN(test_stop);
	T_RUN(test_pcapng_sections);
	T_RUN(test_pcapng_errors);
	T_RUN(test_erf);
	T_RUN(test_corpus);
	T_RUN(test_corpus_erf_matches_pcap);
	T_RUN(test_live_loopback);
	for (i = 0; i < n_tmp_paths; i++)
		unlink(tmp_paths[i]);
	rmdir(tmp_dir);
	return t_done();
}
