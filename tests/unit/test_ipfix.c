/*
 * Unit tests for the IPFIX exporter: the message builder and the UDP, TCP and file transports.
 *
 * Everything is checked through an independent decoder written here from RFC 7011 (message
 * header, sets, template records, data records by template) rather than through the
 * builder's own tables, so a mistake shared by encoder and table would still show. Network
 * tests use loopback sockets on ports the kernel picks; timers are driven by the now_ns the
 * tests pass in, so nothing depends on how long a step takes.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipfix.h"
#include "t.h"
#include "wr.h"

/* ---------------------------------------------------------------------------------------- */
/* decoder                                                                                    */

#define DEC_MAX_FIELDS 32
#define DEC_MAX_TMPL   16
#define DEC_MAX_SETS   64

struct dec_tmpl {
	uint16_t id;
	unsigned n;
	unsigned scope; /* options templates: scope field count; 0 for data templates */
	uint16_t ids[DEC_MAX_FIELDS];
	uint16_t lens[DEC_MAX_FIELDS];
	uint32_t pens[DEC_MAX_FIELDS]; /* enterprise number, 0 for IANA elements */
};

struct dec_rec {
	uint16_t tid;
	uint64_t start_ms, end_ms, octets, packets;
	uint64_t start_ntp, end_ntp; /* flowStart/EndNanoseconds as sent */
	uint32_t ingress;
	uint64_t selector;
	uint8_t ttl_min, ttl_max;
	uint16_t icmp;
	uint32_t mpls; /* 3 bytes */
	int has_icmp4, has_icmp6, has_mpls;
	uint8_t src[16], dst[16];
	unsigned src_len, dst_len;
	uint16_t sport, dport, flags, vlan, cvlan;
	uint8_t proto, tos, reason;
	int has_vlan, has_cvlan;
	uint64_t rev_octets, rev_packets; /* RFC 5103 reverse elements */
	uint16_t rev_flags;
	int has_rev;
};

struct dec_msg {
	uint32_t len, export_time, seq, odid;
	unsigned records;
	unsigned option_records; /* options data records (statistics, selector report) */
	unsigned stats_records;  /* of them, statistics records (templates 282..284) */
	unsigned template_sets;
	unsigned options_template_sets;
	unsigned n_sets;
	uint16_t set_ids[DEC_MAX_SETS];
	int starts_with_templates;
};

struct decoder {
	struct dec_tmpl tmpl[DEC_MAX_TMPL];
	unsigned n_tmpl;
	struct dec_rec *recs;
	unsigned n_recs, cap_recs;
	struct dec_msg *msgs;
	unsigned n_msgs, cap_msgs;
	unsigned errors;
	/* the latest options record of each statistics template (282..284): values by field */
	uint64_t stats[3][8];
	unsigned n_stats[3];
	/* the sampler records (template 285) in order, values by field, and their sets */
	uint64_t sampler[2 * IPFIX_MAX_SELECTORS][5];
	unsigned n_sampler, sampler_sets;
};

static void dec_init(struct decoder *d)
{
	memset(d, 0, sizeof(*d));
}

static void dec_fini(struct decoder *d)
{
	free(d->recs);
	free(d->msgs);
	memset(d, 0, sizeof(*d));
}

static int dec_fail(struct decoder *d, const char *why, unsigned at)
{
	fprintf(stderr, "decoder: %s at offset %u\n", why, at);
	d->errors++;
	return -1;
}

static uint64_t get_uint(const uint8_t *p, unsigned len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v = v << 8 | p[i];
	return v;
}

static struct dec_tmpl *dec_find(struct decoder *d, uint16_t id)
{
	for (unsigned i = 0; i < d->n_tmpl; i++)
		if (d->tmpl[i].id == id)
			return &d->tmpl[i];
	return NULL;
}

/* A template set (options: an options template set, whose records carry a scope count). */
static int dec_templates(struct decoder *d, const uint8_t *p, unsigned len, unsigned base,
                         int options)
{
	unsigned off = 0;

	while (off < len) {
		struct dec_tmpl t;
		struct dec_tmpl *slot;

		if (len - off < 4u + 2u * (unsigned)options)
			return dec_fail(d, "template record header cut", base + off);
		memset(&t, 0, sizeof(t));
		t.id = wr_be16(p + off);
		t.n = wr_be16(p + off + 2);
		off += 4;
		if (options) {
			t.scope = wr_be16(p + off);
			off += 2;
			if (t.scope == 0 || t.scope > t.n)
				return dec_fail(d, "bad scope field count", base + off);
		}
		if (t.id < 256 || t.n == 0 || t.n > DEC_MAX_FIELDS)
			return dec_fail(d, "bad template id or field count", base + off);
		for (unsigned i = 0; i < t.n; i++) {
			if (len - off < 4)
				return dec_fail(d, "field specifier cut", base + off);
			t.ids[i] = wr_be16(p + off);
			t.lens[i] = wr_be16(p + off + 2);
			off += 4;
			if (t.ids[i] & 0x8000) {
				/* enterprise bit: a 4-byte enterprise number follows */
				if (len - off < 4)
					return dec_fail(d, "enterprise number cut", base + off);
				t.ids[i] &= 0x7fff;
				t.pens[i] = wr_be32(p + off);
				off += 4;
			}
		}
		slot = dec_find(d, t.id);
		if (slot == NULL) {
			if (d->n_tmpl == DEC_MAX_TMPL)
				return dec_fail(d, "too many templates", base + off);
			slot = &d->tmpl[d->n_tmpl++];
		}
		*slot = t;
	}
	return 0;
}

static int dec_field(struct decoder *d, struct dec_rec *r, uint16_t id, uint32_t pen,
                     const uint8_t *p, unsigned len, unsigned at)
{
	uint64_t v = len <= 8 ? get_uint(p, len) : 0;

	if (pen == 29305) { /* RFC 5103: reverse of the IANA element with the same id */
		r->has_rev = 1;
		switch (id) {
		case 1:
			r->rev_octets = v;
			return 0;
		case 2:
			r->rev_packets = v;
			return 0;
		case 6:
			r->rev_flags = (uint16_t)v;
			return 0;
		default:
			return dec_fail(d, "unknown reverse element", at);
		}
	}
	if (pen != 0)
		return dec_fail(d, "unknown enterprise", at);

	switch (id) {
	case 152:
		r->start_ms = v;
		break;
	case 153:
		r->end_ms = v;
		break;
	case 156:
		r->start_ntp = v;
		break;
	case 157:
		r->end_ntp = v;
		break;
	case 10:
		r->ingress = (uint32_t)v;
		break;
	case 302:
		r->selector = v;
		break;
	case 52:
		r->ttl_min = (uint8_t)v;
		break;
	case 53:
		r->ttl_max = (uint8_t)v;
		break;
	case 32:
		r->icmp = (uint16_t)v;
		r->has_icmp4 = 1;
		break;
	case 139:
		r->icmp = (uint16_t)v;
		r->has_icmp6 = 1;
		break;
	case 70:
		if (len != 3)
			return dec_fail(d, "mplsTopLabelStackSection is not 3 bytes", at);
		r->mpls = (uint32_t)v;
		r->has_mpls = 1;
		break;
	case 1:
		r->octets = v;
		break;
	case 2:
		r->packets = v;
		break;
	case 8:
	case 27:
		if (len > 16)
			return dec_fail(d, "address too long", at);
		memcpy(r->src, p, len);
		r->src_len = len;
		break;
	case 12:
	case 28:
		if (len > 16)
			return dec_fail(d, "address too long", at);
		memcpy(r->dst, p, len);
		r->dst_len = len;
		break;
	case 7:
		r->sport = (uint16_t)v;
		break;
	case 11:
		r->dport = (uint16_t)v;
		break;
	case 4:
		r->proto = (uint8_t)v;
		break;
	case 5:
		r->tos = (uint8_t)v;
		break;
	case 6:
		r->flags = (uint16_t)v;
		break;
	case 136:
		r->reason = (uint8_t)v;
		break;
	case 58:
		r->vlan = (uint16_t)v;
		r->has_vlan = 1;
		break;
	case 245:
		r->cvlan = (uint16_t)v;
		r->has_cvlan = 1;
		break;
	default:
		return dec_fail(d, "unknown element", at);
	}
	return 0;
}

static int dec_data(struct decoder *d, struct dec_msg *dm, uint16_t set_id, const uint8_t *p,
                    unsigned len, unsigned base)
{
	struct dec_tmpl *t = dec_find(d, set_id);
	unsigned rec_len = 0, off = 0;

	if (t == NULL)
		return dec_fail(d, "data set for an unknown template", base);
	for (unsigned i = 0; i < t->n; i++)
		rec_len += t->lens[i];
	if (rec_len == 0 || len < rec_len)
		return dec_fail(d, "data set shorter than one record", base);
	if (t->scope) {
		/* options records: the statistics and sampler records are kept by field order,
		 * the others counted */
		d->sampler_sets += set_id == IPFIX_TID_SAMPLER;
		for (; len - off >= rec_len; off += rec_len) {
			unsigned k = set_id - 282u, o = 0;

			dm->option_records++;
			if (set_id == IPFIX_TID_SAMPLER &&
			    d->n_sampler < WR_ARRAY_SIZE(d->sampler)) {
				for (unsigned i = 0; i < t->n && i < 5; o += t->lens[i], i++)
					d->sampler[d->n_sampler][i] =
					    get_uint(p + off + o, t->lens[i]);
				d->n_sampler++;
			}
			if (set_id < 282 || set_id > 284)
				continue;
			dm->stats_records++;
			d->n_stats[k]++;
			for (unsigned i = 0; i < t->n && i < 8; o += t->lens[i], i++)
				d->stats[k][i] = get_uint(p + off + o, t->lens[i]);
		}
		if (off != len)
			return dec_fail(d, "options set length is not a multiple of the record",
			                base);
		return 0;
	}
	while (len - off >= rec_len) {
		struct dec_rec r;

		memset(&r, 0, sizeof(r));
		r.tid = set_id;
		for (unsigned i = 0; i < t->n; i++) {
			if (dec_field(d, &r, t->ids[i], t->pens[i], p + off, t->lens[i],
			              base + off) < 0)
				return -1;
			off += t->lens[i];
		}
		if (d->n_recs == d->cap_recs) {
			d->cap_recs = d->cap_recs ? 2 * d->cap_recs : 256;
			d->recs = realloc(d->recs, d->cap_recs * sizeof(*d->recs));
			if (d->recs == NULL)
				abort();
		}
		d->recs[d->n_recs++] = r;
		dm->records++;
	}
	/* weir never pads, so anything left over is an encoding error. */
	if (off != len)
		return dec_fail(d, "data set length is not a multiple of the record length", base);
	return 0;
}

/* Decodes one whole message of exactly len bytes. 0 or -1 (and d->errors counts it). */
static int dec_msg(struct decoder *d, const uint8_t *p, size_t len)
{
	struct dec_msg dm;
	unsigned off = IPFIX_HEADER_LEN;

	memset(&dm, 0, sizeof(dm));
	if (len < IPFIX_HEADER_LEN)
		return dec_fail(d, "message shorter than its header", 0);
	if (wr_be16(p) != 10)
		return dec_fail(d, "version is not 10", 0);
	dm.len = wr_be16(p + 2);
	if (dm.len != len)
		return dec_fail(d, "length field disagrees with the message size", 2);
	dm.export_time = wr_be32(p + 4);
	dm.seq = wr_be32(p + 8);
	dm.odid = wr_be32(p + 12);
	while (off < len) {
		uint16_t id, set_len;

		if (len - off < 4)
			return dec_fail(d, "set header cut", off);
		id = wr_be16(p + off);
		set_len = wr_be16(p + off + 2);
		if (set_len < 4 || set_len > len - off)
			return dec_fail(d, "set length out of bounds", off);
		if (dm.n_sets < DEC_MAX_SETS)
			dm.set_ids[dm.n_sets] = id;
		dm.n_sets++;
		if (id == 2) {
			if (dec_templates(d, p + off + 4, set_len - 4u, off + 4, 0) < 0)
				return -1;
			dm.template_sets++;
			if (dm.n_sets == 1)
				dm.starts_with_templates = 1;
		} else if (id == 3) {
			if (dec_templates(d, p + off + 4, set_len - 4u, off + 4, 1) < 0)
				return -1;
			dm.options_template_sets++;
		} else if (id >= 256) {
			if (dec_data(d, &dm, id, p + off + 4, set_len - 4u, off + 4) < 0)
				return -1;
		} else {
			return dec_fail(d, "unexpected set id", off);
		}
		off += set_len;
	}
	if (d->n_msgs == d->cap_msgs) {
		d->cap_msgs = d->cap_msgs ? 2 * d->cap_msgs : 64;
		d->msgs = realloc(d->msgs, d->cap_msgs * sizeof(*d->msgs));
		if (d->msgs == NULL)
			abort();
	}
	d->msgs[d->n_msgs++] = dm;
	return 0;
}

/* Splits a byte stream (TCP, file) into messages by their length fields and decodes them.
 * Returns the bytes consumed; a trailing partial message is left for later. */
static size_t dec_stream(struct decoder *d, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (len - off >= IPFIX_HEADER_LEN) {
		size_t mlen = wr_be16(p + off + 2);

		if (mlen < IPFIX_HEADER_LEN) {
			dec_fail(d, "message length below the header size", (unsigned)off);
			return len;
		}
		if (len - off < mlen)
			break;
		dec_msg(d, p + off, mlen);
		off += mlen;
	}
	return off;
}

/* ---------------------------------------------------------------------------------------- */
/* records and expectations (from the spec, independently of the builder's table)             */

static uint16_t expected_tid(const struct flowcache_record *r)
{
	unsigned depth = r->key.vlan_depth > 2 ? 2 : r->key.vlan_depth;

	return (uint16_t)(256 + (r->key.ip_version == 6 ? 3 : 0) + depth);
}

static unsigned expected_template(uint16_t tid, uint16_t *ids, uint16_t *lens)
{
	static const uint16_t v4[][2] = {{152, 8}, {153, 8}, {1, 8},  {2, 8},  {8, 4}, {12, 4},
	                                 {7, 2},   {11, 2},  {4, 1},  {5, 1},  {6, 2}, {136, 1},
	                                 {10, 4},  {52, 1},  {53, 1}, {32, 2}, {70, 3}};
	static const uint16_t v6[][2] = {{152, 8}, {153, 8}, {1, 8},  {2, 8},   {27, 16}, {28, 16},
	                                 {7, 2},   {11, 2},  {4, 1},  {5, 1},   {6, 2},   {136, 1},
	                                 {10, 4},  {52, 1},  {53, 1}, {139, 2}, {70, 3}};
	int is_v6 = tid >= 259;
	unsigned depth = (unsigned)(tid - 256) % 3, n = 0;

	for (unsigned i = 0; i < 17; i++) {
		ids[n] = is_v6 ? v6[i][0] : v4[i][0];
		lens[n++] = is_v6 ? v6[i][1] : v4[i][1];
	}
	if (depth >= 1) {
		ids[n] = 58;
		lens[n++] = 2;
	}
	if (depth >= 2) {
		ids[n] = 245;
		lens[n++] = 2;
	}
	return n;
}

/* A record for index i: cycles through both families and VLAN depths 0..3, with values that
 * exercise every byte of every field. */
static struct flowcache_record make_rec(unsigned i)
{
	struct flowcache_record r;

	memset(&r, 0, sizeof(r));
	r.key.ip_version = (i & 1) ? 6 : 4;
	r.key.vlan_depth = (uint8_t)((i >> 1) % 4);
	if (r.key.ip_version == 4) {
		const uint8_t src[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
		const uint8_t dst[4] = {192, 168, (uint8_t)(i >> 8), (uint8_t)(i + 7)};

		memcpy(r.key.src, src, 4);
		memcpy(r.key.dst, dst, 4);
	} else {
		for (unsigned k = 0; k < 16; k++) {
			r.key.src[k] = (uint8_t)(i * 7 + k + 1);
			r.key.dst[k] = (uint8_t)(i * 13 + k + 100);
		}
	}
	r.key.sport = (uint16_t)(1024 + i * 3);
	r.key.dport = (i % 3 == 0) ? 65535 : (uint16_t)(80 + i);
	r.key.proto = (i & 1) ? 17 : 6;
	for (unsigned k = 0; k < r.key.vlan_depth && k < CAPTURE_VLAN_MAX; k++)
		r.key.vlan[k] = (uint16_t)(4094 - i % 100 - k * 1000);
	r.first_ns = 1700000000000000000ULL + i * 1234567891ULL + 999999;
	r.last_ns = r.first_ns + i * 1000001ULL;
	r.packets = i + 1;
	r.octets = 5000000000ULL + i * 1500ULL;
	r.tcp_flags = (uint16_t)((i * 37) & 0x1ff);
	r.tos = (uint8_t)(i * 11);
	r.end_reason = (uint8_t)(1 + i % 5);
	r.port = (uint16_t)i;
	r.ttl_min = (uint8_t)(i * 5);
	r.ttl_max = (uint8_t)(r.ttl_min + i % 7);
	r.icmp = (uint16_t)(i * 257);
	r.mpls_top = (i % 4 == 0) ? 0 : (uint32_t)(0xFFFFFF - i * 4099) & 0xFFFFFF;
	return r;
}

/* Compares a decoded record with the record it came from; counts one check per field. */
static void check_rec(const struct dec_rec *d, const struct flowcache_record *r)
{
	unsigned alen = r->key.ip_version == 6 ? 16 : 4;
	unsigned depth = r->key.vlan_depth;

	CHECK_EQ(d->tid, expected_tid(r));
	CHECK_EQ(d->start_ms, r->first_ns / 1000000);
	CHECK_EQ(d->end_ms, r->last_ns / 1000000);
	CHECK_EQ(d->octets, r->octets);
	CHECK_EQ(d->packets, r->packets);
	CHECK_EQ(d->src_len, alen);
	CHECK_EQ(d->dst_len, alen);
	CHECK(memcmp(d->src, r->key.src, alen) == 0);
	CHECK(memcmp(d->dst, r->key.dst, alen) == 0);
	CHECK_EQ(d->sport, r->key.sport);
	CHECK_EQ(d->dport, r->key.dport);
	CHECK_EQ(d->proto, r->key.proto);
	CHECK_EQ(d->tos, r->tos);
	CHECK_EQ(d->flags, r->tcp_flags);
	CHECK_EQ(d->reason, r->end_reason);
	CHECK_EQ(d->ingress, (uint32_t)r->port + 1);
	CHECK_EQ(d->ttl_min, r->ttl_min);
	CHECK_EQ(d->ttl_max, r->ttl_max);
	CHECK_EQ(d->icmp, r->icmp);
	CHECK_EQ(d->has_icmp4, r->key.ip_version == 4);
	CHECK_EQ(d->has_icmp6, r->key.ip_version == 6);
	CHECK(d->has_mpls);
	CHECK_EQ(d->mpls, r->mpls_top & 0xFFFFFF); /* the entry's upper 3 bytes */
	CHECK_EQ(d->has_vlan, depth >= 1);
	CHECK_EQ(d->has_cvlan, depth >= 2);
	if (depth >= 1)
		CHECK_EQ(d->vlan, r->key.vlan[0]);
	if (depth >= 2)
		CHECK_EQ(d->cvlan, r->key.vlan[1]);
}

/* The statistics options templates of RFC 7011 section 4: scope first. */
static void check_stats_templates(struct decoder *d)
{
	static const uint16_t want[3][7] = {
	    {149, 41, 42, 40},              /* Metering Process Statistics */
	    {149, 164, 165, 152, 153},      /* Metering Process Reliability Statistics */
	    {144, 166, 167, 168, 152, 153}, /* Exporting Process Reliability Statistics */
	};
	static const unsigned n[3] = {4, 5, 6};

	for (unsigned k = 0; k < 3; k++) {
		struct dec_tmpl *t = dec_find(d, (uint16_t)(282 + k));

		CHECK(t != NULL);
		if (t == NULL)
			continue;
		CHECK_EQ(t->scope, 1);
		CHECK_EQ(t->n, n[k]);
		for (unsigned i = 0; i < n[k] && i < t->n; i++) {
			CHECK_EQ(t->ids[i], want[k][i]);
			CHECK_EQ(t->lens[i], i == 0 ? 4 : 8);
		}
	}
}

/* Checks the decoder's templates against the spec: all six, exactly, and the statistics. */
static void check_templates(struct decoder *d)
{
	CHECK_EQ(d->n_tmpl, 9);
	check_stats_templates(d);
	for (uint16_t tid = 256; tid <= 261; tid++) {
		struct dec_tmpl *t = dec_find(d, tid);
		uint16_t ids[DEC_MAX_FIELDS], lens[DEC_MAX_FIELDS];
		unsigned n = expected_template(tid, ids, lens);

		CHECK(t != NULL);
		if (t == NULL)
			continue;
		CHECK_EQ(t->n, n);
		for (unsigned i = 0; i < n && i < t->n; i++) {
			CHECK_EQ(t->ids[i], ids[i]);
			CHECK_EQ(t->lens[i], lens[i]);
		}
	}
}

/* Sequence numbers of all decoded messages must count the records before them. */
static void check_seq_continuous(const struct decoder *d, unsigned first, uint32_t start)
{
	uint32_t expect = start;
	unsigned bad = 0;

	for (unsigned i = first; i < d->n_msgs; i++) {
		bad += d->msgs[i].seq != expect;
		expect += d->msgs[i].records + d->msgs[i].option_records;
	}
	CHECK_EQ(bad, 0);
}

static uint64_t test_now(void)
{
	/* A round wall-clock second: timers are driven only by what the tests pass in. */
	return wr_wall_ns() / WR_NS_PER_S * WR_NS_PER_S;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void get_stats(struct ipfix_exporter *ex, struct ipfix_exporter_stats *st)
{
	ipfix_exporter_get_stats(ex, st);
}

/* ---------------------------------------------------------------------------------------- */
/* builder                                                                                    */

static void test_template_ids(void)
{
	struct flowcache_record r;

	memset(&r, 0, sizeof(r));
	for (int v6 = 0; v6 <= 1; v6++) {
		for (unsigned depth = 0; depth <= 6; depth++) {
			r.key.ip_version = v6 ? 6 : 4;
			r.key.vlan_depth = (uint8_t)depth;
			CHECK_EQ(ipfix_template_id(&r), 256 + 3 * v6 + (depth > 2 ? 2 : depth));
		}
	}
	CHECK_EQ(IPFIX_TID_FIRST, 256);
	CHECK_EQ(IPFIX_TEMPLATE_COUNT, 6);
}

static void test_templates_encode(void)
{
	uint8_t buf[2048];
	struct ipfix_msg m;
	struct decoder d;
	size_t len;

	ipfix_msg_begin(&m, buf, sizeof(buf), NULL, 0);
	CHECK_EQ(ipfix_msg_add_templates(&m), 0);
	len = ipfix_msg_finish(&m, 1234, 0, 9);
	CHECK_EQ(len, m.len);
	dec_init(&d);
	CHECK_EQ(dec_msg(&d, buf, len), 0);
	CHECK_EQ(d.errors, 0);
	check_templates(&d);
	CHECK_EQ(d.n_msgs, 1);
	CHECK_EQ(d.msgs[0].template_sets, 1);
	CHECK_EQ(d.msgs[0].records, 0);
	CHECK_EQ(d.msgs[0].odid, 9);
	CHECK_EQ(d.msgs[0].export_time, 1234);
	dec_fini(&d);

	/* Too small for the template set: refused, message untouched. */
	ipfix_msg_begin(&m, buf, 100, NULL, 0);
	CHECK_EQ(ipfix_msg_add_templates(&m), -ENOSPC);
	CHECK_EQ(m.len, IPFIX_HEADER_LEN);
}

static void test_roundtrip(void)
{
	static uint8_t buf[65535];
	struct flowcache_record recs[60];
	struct ipfix_msg m;
	struct decoder d;
	size_t len;
	unsigned n = 48;

	for (unsigned i = 0; i < n; i++)
		recs[i] = make_rec(i);
	/* Extremes: sub-millisecond times round down, all-ones counters and fields. */
	memset(&recs[n], 0, sizeof(recs[n]));
	recs[n].key.ip_version = 4;
	recs[n].first_ns = 999999;
	recs[n].last_ns = 1000000;
	n++;
	memset(&recs[n], 0xff, sizeof(recs[n]));
	recs[n].key.ip_version = 6;
	recs[n].key.vlan_depth = 2;
	recs[n].tcp_flags = 0x1ff;
	n++;
	memset(&recs[n], 0, sizeof(recs[n]));
	recs[n].key.ip_version = 4;
	recs[n].key.vlan_depth = 200; /* deeper than the key holds: still template 258 */
	recs[n].key.vlan[0] = 1;
	recs[n].key.vlan[1] = 4095;
	recs[n].key.vlan[2] = 33;
	n++;

	ipfix_msg_begin(&m, buf, sizeof(buf), NULL, 0);
	CHECK_EQ(ipfix_msg_add_templates(&m), 0);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(ipfix_msg_add_record(&m, &recs[i]), 0);
	CHECK_EQ(m.records, n);
	len = ipfix_msg_finish(&m, 1700000123, 4242, 77);
	dec_init(&d);
	CHECK_EQ(dec_msg(&d, buf, len), 0);
	CHECK_EQ(d.errors, 0);
	check_templates(&d);
	CHECK_EQ(d.msgs[0].export_time, 1700000123);
	CHECK_EQ(d.msgs[0].seq, 4242);
	CHECK_EQ(d.msgs[0].odid, 77);
	CHECK_EQ(d.n_recs, n);
	for (unsigned i = 0; i < n && i < d.n_recs; i++)
		check_rec(&d.recs[i], &recs[i]);
	CHECK_EQ(d.recs[n - 3].start_ms, 0);
	CHECK_EQ(d.recs[n - 3].end_ms, 1);
	CHECK_EQ(d.recs[n - 2].octets, UINT64_MAX);
	CHECK_EQ(d.recs[n - 1].tid, 258);
	dec_fini(&d);
}

/* Biflow messages: templates 270..275 with the three reverse elements under enterprise 29305
 * (8-byte field specifiers), records carrying the reverse counters. */
static void test_biflow_roundtrip(void)
{
	static uint8_t buf[65535];
	struct flowcache_record recs[12];
	struct ipfix_msg m;
	struct decoder d;
	size_t len;
	unsigned n = 12;

	for (unsigned i = 0; i < n; i++) {
		recs[i] = make_rec(i);
		recs[i].rev_packets = 1000 + i;
		recs[i].rev_octets = (uint64_t)1 << (40 + i % 20);
		recs[i].rev_tcp_flags = (uint16_t)(0x100 | i);
	}
	ipfix_msg_begin(&m, buf, sizeof(buf), NULL, IPFIX_MSG_BIFLOW);
	CHECK_EQ(ipfix_msg_add_templates(&m), 0);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(ipfix_msg_add_record(&m, &recs[i]), 0);
	len = ipfix_msg_finish(&m, 1700000000, 0, 1);
	dec_init(&d);
	CHECK_EQ(dec_msg(&d, buf, len), 0);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_tmpl, 9);
	check_stats_templates(&d);
	for (uint16_t tid = IPFIX_TID_BIFLOW; tid < IPFIX_TID_BIFLOW + 6; tid++) {
		struct dec_tmpl *t = dec_find(&d, tid);
		uint16_t ids[DEC_MAX_FIELDS], lens[DEC_MAX_FIELDS];
		unsigned k = expected_template((uint16_t)(tid - IPFIX_TID_BIFLOW + 256), ids, lens);

		CHECK(t != NULL);
		if (t == NULL)
			continue;
		CHECK_EQ(t->n, k + 3); /* the uniflow template, then the reverse elements */
		for (unsigned i = 0; i < k && i < t->n; i++) {
			CHECK_EQ(t->ids[i], ids[i]);
			CHECK_EQ(t->pens[i], 0);
		}
		CHECK_EQ(t->ids[k], 1);
		CHECK_EQ(t->ids[k + 1], 2);
		CHECK_EQ(t->ids[k + 2], 6);
		for (unsigned i = k; i < k + 3; i++)
			CHECK_EQ(t->pens[i], 29305);
	}
	CHECK_EQ(d.n_recs, n);
	for (unsigned i = 0; i < n && i < d.n_recs; i++) {
		struct dec_rec r = d.recs[i];

		CHECK_EQ(r.tid, expected_tid(&recs[i]) - 256 + IPFIX_TID_BIFLOW);
		r.tid = expected_tid(&recs[i]);
		check_rec(&r, &recs[i]);
		CHECK(r.has_rev);
		CHECK_EQ(r.rev_packets, recs[i].rev_packets);
		CHECK_EQ(r.rev_octets, recs[i].rev_octets);
		CHECK_EQ(r.rev_flags, recs[i].rev_tcp_flags);
	}
	dec_fini(&d);
}

static void test_enospc(void)
{
	/* Lengths from the spec: IPv4 untagged 60 bytes, one tag 62, IPv6 with two tags 88. */
	uint8_t buf[16 + 4 + 60 + 62], copy[sizeof(buf)];
	struct flowcache_record r0, r1, r6;
	struct ipfix_msg m, mcopy;
	struct decoder d;
	size_t len;

	memset(&r0, 0, sizeof(r0));
	r0.key.ip_version = 4;
	r0.key.sport = 1;
	r1 = r0;
	r1.key.vlan_depth = 1;
	r1.key.vlan[0] = 5;
	r6 = r0;
	r6.key.ip_version = 6;
	r6.key.vlan_depth = 2;

	memset(buf, 0xa5, sizeof(buf));
	ipfix_msg_begin(&m, buf, sizeof(buf), NULL, 0);
	CHECK_EQ(ipfix_msg_add_record(&m, &r0), 0);
	CHECK_EQ(m.len, 16 + 4 + 60);
	memcpy(copy, buf, sizeof(buf));
	mcopy = m;
	/* 62 bytes left: a record of another template also needs a set header. */
	CHECK_EQ(ipfix_msg_add_record(&m, &r1), -ENOSPC);
	CHECK(memcmp(buf, copy, sizeof(buf)) == 0);
	CHECK(memcmp(&m, &mcopy, sizeof(m)) == 0);
	CHECK_EQ(ipfix_msg_add_record(&m, &r6), -ENOSPC);
	CHECK(memcmp(buf, copy, sizeof(buf)) == 0);
	CHECK(memcmp(&m, &mcopy, sizeof(m)) == 0);
	/* ... but one more of the open set fits. */
	r0.key.sport = 2;
	CHECK_EQ(ipfix_msg_add_record(&m, &r0), 0);
	CHECK_EQ(m.len, 16 + 4 + 60 + 60);
	memcpy(copy, buf, sizeof(buf));
	mcopy = m;
	CHECK_EQ(ipfix_msg_add_record(&m, &r0), -ENOSPC);
	CHECK(memcmp(buf, copy, sizeof(buf)) == 0);
	CHECK(memcmp(&m, &mcopy, sizeof(m)) == 0);
	CHECK_EQ(m.records, 2);

	/* The refused attempts left a message that decodes to exactly the two records. */
	len = ipfix_msg_finish(&m, 1, 0, 1);
	dec_init(&d);
	{
		uint8_t tbuf[1024];
		struct ipfix_msg tm;

		ipfix_msg_begin(&tm, tbuf, sizeof(tbuf), NULL, 0);
		ipfix_msg_add_templates(&tm);
		CHECK_EQ(dec_msg(&d, tbuf, ipfix_msg_finish(&tm, 1, 0, 1)), 0);
	}
	CHECK_EQ(dec_msg(&d, buf, len), 0);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_recs, 2);
	CHECK_EQ(d.msgs[1].n_sets, 1);
	CHECK_EQ(d.recs[0].sport, 1);
	CHECK_EQ(d.recs[1].sport, 2);
	dec_fini(&d);
}

static void test_sets(void)
{
	uint8_t buf[4096];
	struct flowcache_record a = make_rec(0), b = make_rec(3), a2 = make_rec(8);
	struct ipfix_msg m;
	struct decoder d;
	size_t len;

	CHECK(ipfix_template_id(&a) == ipfix_template_id(&a2));
	CHECK(ipfix_template_id(&a) != ipfix_template_id(&b));
	ipfix_msg_begin(&m, buf, sizeof(buf), NULL, 0);
	CHECK_EQ(ipfix_msg_add_templates(&m), 0);
	/* A A B B A, then templates, then A: sets A(2) B(2) A(1) T O A(1) (templates come as a
	 * template set and an options template set). */
	ipfix_msg_add_record(&m, &a);
	ipfix_msg_add_record(&m, &a2);
	ipfix_msg_add_record(&m, &b);
	ipfix_msg_add_record(&m, &b);
	ipfix_msg_add_record(&m, &a);
	CHECK_EQ(ipfix_msg_add_templates(&m), 0);
	ipfix_msg_add_record(&m, &a);
	len = ipfix_msg_finish(&m, 5, 100, 2);
	dec_init(&d);
	CHECK_EQ(dec_msg(&d, buf, len), 0);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_recs, 6);
	/* every options template has a set of its own */
	CHECK_EQ(d.msgs[0].n_sets, 12);
	CHECK_EQ(d.msgs[0].set_ids[0], 2);
	CHECK_EQ(d.msgs[0].set_ids[1], 3);
	CHECK_EQ(d.msgs[0].set_ids[2], 3);
	CHECK_EQ(d.msgs[0].set_ids[3], 3);
	CHECK_EQ(d.msgs[0].set_ids[4], ipfix_template_id(&a));
	CHECK_EQ(d.msgs[0].set_ids[5], ipfix_template_id(&b));
	CHECK_EQ(d.msgs[0].set_ids[6], ipfix_template_id(&a));
	CHECK_EQ(d.msgs[0].set_ids[7], 2);
	CHECK_EQ(d.msgs[0].set_ids[8], 3);
	CHECK_EQ(d.msgs[0].set_ids[11], ipfix_template_id(&a));
	CHECK_EQ(d.msgs[0].template_sets, 2);
	CHECK_EQ(d.msgs[0].options_template_sets, 6);
	check_rec(&d.recs[1], &a2);
	check_rec(&d.recs[2], &b);
	dec_fini(&d);

	/* An empty message is just a header. */
	ipfix_msg_begin(&m, buf, sizeof(buf), NULL, 0);
	len = ipfix_msg_finish(&m, 5, 7, 2);
	CHECK_EQ(len, IPFIX_HEADER_LEN);
	dec_init(&d);
	CHECK_EQ(dec_msg(&d, buf, len), 0);
	CHECK_EQ(d.msgs[0].seq, 7);
	dec_fini(&d);
}

/* ---------------------------------------------------------------------------------------- */
/* sockets                                                                                    */

static int udp_collector(uint16_t *ret_port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	int size = 4 << 20;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		close(fd);
		return -1;
	}
	*ret_port = ntohs(sin.sin_port);
	return fd;
}

/* Listens on 127.0.0.1:port (0: any free port). */
static int tcp_collector(uint16_t port, uint16_t *ret_port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t sl = sizeof(sin);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		close(fd);
		return -1;
	}
	*ret_port = ntohs(sin.sin_port);
	return fd;
}

/* Receives datagrams until want records were decoded or nothing came for a second. Returns
 * the number of datagrams; their sizes go to sizes[]. */
static unsigned udp_recv(int fd, struct decoder *d, unsigned want, size_t *sizes, unsigned max)
{
	static uint8_t buf[65536];
	unsigned n = 0;

	while (d->n_recs < want) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t len;

		if (poll(&pfd, 1, 1000) <= 0)
			break;
		len = recv(fd, buf, sizeof(buf), 0);
		if (len <= 0)
			break;
		if (n < max)
			sizes[n] = (size_t)len;
		n++;
		dec_msg(d, buf, (size_t)len);
	}
	return n;
}

static int udp_pending(int fd)
{
	uint8_t b;

	return recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

/* Reads a TCP stream until want records (and at least min_msgs messages) were decoded or
 * nothing came for a second. */
static void tcp_read(int fd, struct decoder *d, unsigned want, unsigned min_msgs)
{
	static uint8_t buf[1 << 18];
	static size_t have;

	have = 0;
	while (d->n_recs < want || d->n_msgs < min_msgs) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t len;
		size_t used;

		if (poll(&pfd, 1, 1000) <= 0)
			break;
		len = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (len <= 0)
			break;
		have += (size_t)len;
		used = dec_stream(d, buf, have);
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	CHECK_EQ(have, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* UDP                                                                                        */

static void test_udp(void)
{
	enum { N = 500, MAXD = 1024 };
	struct ipfix_exporter_params p;
	struct ipfix_exporter_stats st;
	struct ipfix_exporter *ex;
	struct flowcache_record recs[N];
	size_t sizes[MAXD];
	struct decoder d;
	char url[64], err[256];
	uint64_t now = test_now(), bytes = 0;
	unsigned n, with_templates = 0, bad_period = 0, bad_size = 0;
	uint16_t port;
	int fd = udp_collector(&port);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	for (unsigned i = 0; i < N; i++)
		recs[i] = make_rec(i);
	ipfix_exporter_params_default(&p);
	p.udp_max_msg = 1000;
	p.template_refresh_msgs = 4;
	p.odid = 31;
	snprintf(url, sizeof(url), "udp://127.0.0.1:%u", port);
	ex = ipfix_exporter_create(url, &p, err, sizeof(err));
	CHECK(ex != NULL);
	if (ex == NULL) {
		fprintf(stderr, "%s\n", err);
		close(fd);
		return;
	}
	CHECK_STR(ipfix_exporter_url(ex), url);
	for (unsigned i = 0; i < N; i += 50)
		CHECK_EQ(ipfix_exporter_add(ex, &recs[i], 50, now), 50);
	CHECK_EQ(ipfix_exporter_flush(ex, now), 0);

	dec_init(&d);
	n = udp_recv(fd, &d, N, sizes, MAXD);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_recs, N);
	CHECK_EQ(d.n_msgs, n);
	CHECK(n > 4 && n <= MAXD);
	if (n > MAXD)
		n = MAXD;
	CHECK(d.n_msgs > 0 && d.msgs[0].starts_with_templates);
	check_templates(&d);
	check_seq_continuous(&d, 0, 0);
	for (unsigned i = 0; i < n && i < d.n_msgs; i++) {
		bad_size += sizes[i] > 1000;
		bytes += sizes[i];
		with_templates += d.msgs[i].template_sets;
		/* refresh by count: the template set goes in every 4th message */
		bad_period += (d.msgs[i].template_sets == 1) != (i % 4 == 0);
		CHECK_EQ(d.msgs[i].odid, 31);
		CHECK_EQ(d.msgs[i].export_time, now / WR_NS_PER_S);
	}
	CHECK_EQ(bad_size, 0);
	CHECK_EQ(bad_period, 0);
	for (unsigned i = 0; i < N && i < d.n_recs; i++)
		check_rec(&d.recs[i], &recs[i]);
	get_stats(ex, &st);
	CHECK_EQ(st.messages, n);
	CHECK_EQ(st.records, N);
	CHECK_EQ(st.bytes, bytes);
	CHECK_EQ(st.template_sets, with_templates);
	CHECK_EQ(st.records_lost, 0);
	CHECK_EQ(st.send_errors, 0);
	CHECK_EQ(st.connects, 0);

	/* flush_ms: a partial message waits until it is 500 ms old. */
	ipfix_exporter_add(ex, &recs[0], 1, now + 1 * WR_NS_PER_S);
	ipfix_exporter_tick(ex, now + 1 * WR_NS_PER_S + 100 * WR_NS_PER_MS);
	CHECK(!udp_pending(fd));
	ipfix_exporter_tick(ex, now + 1 * WR_NS_PER_S + 500 * WR_NS_PER_MS);
	n = udp_recv(fd, &d, N + 1, sizes, MAXD);
	CHECK_EQ(n, 1);
	CHECK_EQ(d.n_recs, N + 1);
	check_seq_continuous(&d, 0, 0);

	/* refresh by time: an idle exporter sends the templates alone after 20 s. */
	ipfix_exporter_tick(ex, now + 19 * WR_NS_PER_S);
	CHECK(!udp_pending(fd));
	ipfix_exporter_tick(ex, now + 21 * WR_NS_PER_S);
	{
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		static uint8_t buf[2048];
		ssize_t len;

		CHECK(poll(&pfd, 1, 1000) == 1);
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		CHECK(len > 0);
		if (len > 0)
			CHECK_EQ(dec_msg(&d, buf, (size_t)len), 0);
		CHECK_EQ(d.msgs[d.n_msgs - 1].template_sets, 1);
		CHECK_EQ(d.msgs[d.n_msgs - 1].records, 0);
		check_seq_continuous(&d, 0, 0);
	}
	ipfix_exporter_tick(ex, now + 22 * WR_NS_PER_S);
	CHECK(!udp_pending(fd));
	get_stats(ex, &st);
	ipfix_exporter_free(ex);
	/* nothing was left to flush: the last message holds only the final statistics */
	{
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		static uint8_t buf[2048];
		ssize_t len;

		CHECK(poll(&pfd, 1, 1000) == 1);
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		CHECK(len > 0);
		if (len > 0)
			CHECK_EQ(dec_msg(&d, buf, (size_t)len), 0);
	}
	CHECK_EQ(d.msgs[d.n_msgs - 1].records, 0);
	CHECK_EQ(d.msgs[d.n_msgs - 1].stats_records, 3);
	CHECK_EQ(d.stats[0][1], st.messages);
	CHECK_EQ(d.stats[0][2], N + 1);
	CHECK_EQ(d.stats[0][3], st.bytes);
	check_seq_continuous(&d, 0, 0);
	CHECK(!udp_pending(fd));
	dec_fini(&d);
	close(fd);
}

static void test_udp_refused(void)
{
	struct ipfix_exporter_params p;
	struct ipfix_exporter_stats st;
	struct ipfix_exporter *ex;
	struct flowcache_record recs[10];
	char url[64], err[256];
	uint64_t now = test_now();
	uint16_t port;
	int fd = udp_collector(&port);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd); /* nobody listens: ICMP port unreachable comes back as ECONNREFUSED */
	for (unsigned i = 0; i < 10; i++)
		recs[i] = make_rec(i);
	ipfix_exporter_params_default(&p);
	p.udp_pace_mps = 0;
	p.udp_max_msg = 4000; /* templates and ten records in one message */
	snprintf(url, sizeof(url), "udp://127.0.0.1:%u", port);
	ex = ipfix_exporter_create(url, &p, err, sizeof(err));
	CHECK(ex != NULL);
	if (ex == NULL)
		return;
	for (unsigned i = 0; i < 20; i++) {
		ipfix_exporter_add(ex, recs, 10, now);
		ipfix_exporter_flush(ex, now);
		sleep_ms(1);
	}
	get_stats(ex, &st);
	/* Refusals are seen and counted; each refused message is retried once, so what is
	 * counted lost is what a second refusal in a row kept from going out. */
	CHECK(st.send_errors > 0);
	CHECK_EQ(st.records + st.records_lost, 200);
	CHECK_EQ(st.records, st.messages * 10);
	ipfix_exporter_free(ex);
}

/* ---------------------------------------------------------------------------------------- */
/* TCP                                                                                        */

static void test_tcp(void)
{
	enum { N = 300 };
	struct ipfix_exporter_params p;
	struct ipfix_exporter_stats st;
	struct ipfix_exporter *ex;
	struct flowcache_record recs[N];
	struct decoder d;
	char url[64], err[256];
	uint64_t now = test_now(), t0, added = N, lost_before;
	uint16_t port;
	int lfd = tcp_collector(0, &port), cfd;
	unsigned i;

	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	for (i = 0; i < N; i++)
		recs[i] = make_rec(i);
	ipfix_exporter_params_default(&p);
	p.tcp_retry_ms = 100;
	/* Only explicit flushes send: reconnects below must not race a flush by age. */
	p.flush_ms = 600000;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
	ex = ipfix_exporter_create(url, &p, err, sizeof(err));
	CHECK(ex != NULL);
	if (ex == NULL) {
		close(lfd);
		return;
	}
	/* The kernel completes the handshake on its own: accept does not need the exporter. */
	cfd = accept(lfd, NULL, NULL);
	CHECK(cfd >= 0);
	ipfix_exporter_add(ex, recs, N, now);
	CHECK_EQ(ipfix_exporter_flush(ex, now), 0);
	dec_init(&d);
	tcp_read(cfd, &d, N, 1);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_recs, N);
	CHECK(d.n_msgs > 1);
	CHECK(d.n_msgs > 0 && d.msgs[0].starts_with_templates);
	CHECK(d.n_msgs > 0 && d.msgs[0].seq == 0);
	check_templates(&d);
	check_seq_continuous(&d, 0, 0);
	for (i = 0; i < N && i < d.n_recs; i++)
		check_rec(&d.recs[i], &recs[i]);
	get_stats(ex, &st);
	CHECK_EQ(st.connects, 1);
	CHECK_EQ(st.records, N);
	CHECK_EQ(st.records_lost, 0);
	CHECK_EQ(st.messages, d.n_msgs);
	CHECK_EQ(st.template_sets, 1);

	/* The collector goes away: records are counted lost, nothing blocks. */
	close(cfd);
	close(lfd);
	t0 = now + 1 * WR_NS_PER_S;
	for (i = 0; i < 200; i++) {
		ipfix_exporter_add(ex, recs, 1, t0);
		added++;
		ipfix_exporter_flush(ex, t0);
		get_stats(ex, &st);
		if (st.records_lost > 0)
			break;
		sleep_ms(1);
	}
	CHECK(st.records_lost > 0);
	/* Down and not yet due for a retry: the whole message is lost at once. */
	lost_before = st.records_lost;
	ipfix_exporter_add(ex, recs, 5, t0 + 10 * WR_NS_PER_MS);
	added += 5;
	CHECK_EQ(ipfix_exporter_flush(ex, t0 + 10 * WR_NS_PER_MS), -ENOTCONN);
	get_stats(ex, &st);
	CHECK_EQ(st.records_lost, lost_before + 5);
	CHECK_EQ(st.records + st.records_lost, added);

	/* The collector is back, but the back-off (100 ms) has not passed yet. */
	lfd = tcp_collector(port, &port);
	CHECK(lfd >= 0);
	if (lfd < 0) {
		ipfix_exporter_free(ex);
		dec_fini(&d);
		return;
	}
	for (i = 0; i < 5; i++) {
		ipfix_exporter_tick(ex, t0 + 50 * WR_NS_PER_MS);
		sleep_ms(1);
	}
	get_stats(ex, &st);
	CHECK_EQ(st.connects, 1);
	for (i = 0; i < 600; i++) {
		ipfix_exporter_tick(ex, t0 + (100 + 50 * (uint64_t)i) * WR_NS_PER_MS);
		get_stats(ex, &st);
		if (st.connects == 2)
			break;
		sleep_ms(1);
	}
	CHECK_EQ(st.connects, 2);
	cfd = accept(lfd, NULL, NULL);
	CHECK(cfd >= 0);

	/* A new session: templates first, sequence numbers from 0 again. */
	dec_fini(&d);
	dec_init(&d);
	now = t0 + 40 * WR_NS_PER_S;
	ipfix_exporter_add(ex, recs, 50, now);
	added += 50;
	CHECK_EQ(ipfix_exporter_flush(ex, now), 0);
	tcp_read(cfd, &d, 50, 1);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_recs, 50);
	CHECK(d.n_msgs > 0 && d.msgs[0].starts_with_templates);
	CHECK(d.n_msgs > 0 && d.msgs[0].seq == 0);
	check_templates(&d);
	check_seq_continuous(&d, 0, 0);
	for (i = 0; i < 50 && i < d.n_recs; i++)
		check_rec(&d.recs[i], &recs[i]);
	get_stats(ex, &st);
	CHECK_EQ(st.records + st.records_lost, added);
	CHECK_EQ(st.template_sets, 2);

	/* The collector restarts while a message started without templates is open: the new
	 * session gets a templates-only message first, then the held records, numbered from 0. */
	lost_before = st.records_lost;
	ipfix_exporter_add(ex, recs + 50, 3, now);
	added += 3;
	close(cfd);
	close(lfd);
	for (i = 0; i < 20; i++) {
		ipfix_exporter_tick(ex, now + 10 * WR_NS_PER_MS);
		sleep_ms(1);
	}
	lfd = tcp_collector(port, &port);
	CHECK(lfd >= 0);
	for (i = 0; i < 600; i++) {
		ipfix_exporter_tick(ex, now + (1000 + 50 * (uint64_t)i) * WR_NS_PER_MS);
		get_stats(ex, &st);
		if (st.connects == 3)
			break;
		sleep_ms(1);
	}
	CHECK_EQ(st.connects, 3);
	cfd = accept(lfd, NULL, NULL);
	CHECK(cfd >= 0);
	now += 40 * WR_NS_PER_S;
	CHECK_EQ(ipfix_exporter_flush(ex, now), 0);
	dec_fini(&d);
	dec_init(&d);
	tcp_read(cfd, &d, 3, 2);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_msgs, 2);
	if (d.n_msgs == 2) {
		CHECK_EQ(d.msgs[0].template_sets, 1);
		CHECK_EQ(d.msgs[0].records, 0);
		CHECK_EQ(d.msgs[0].seq, 0);
		CHECK_EQ(d.msgs[0].stats_records, 3);
		CHECK_EQ(d.msgs[1].template_sets, 0);
		CHECK_EQ(d.msgs[1].records, 3);
		/* the statistics records of the first message count as data records */
		CHECK_EQ(d.msgs[1].seq, 3);
	}
	for (i = 0; i < 3 && i < d.n_recs; i++)
		check_rec(&d.recs[i], &recs[50 + i]);
	get_stats(ex, &st);
	CHECK_EQ(st.records_lost, lost_before);
	CHECK_EQ(st.records + st.records_lost, added);

	/* free flushes what is buffered. */
	ipfix_exporter_add(ex, recs + 60, 7, now);
	ipfix_exporter_free(ex);
	tcp_read(cfd, &d, 10, 3);
	CHECK_EQ(d.n_recs, 10);
	for (i = 3; i < 10 && i < d.n_recs; i++)
		check_rec(&d.recs[i], &recs[57 + i]);
	check_seq_continuous(&d, 0, 0);
	CHECK_EQ(d.errors, 0);
	dec_fini(&d);
	close(cfd);
	close(lfd);
}

static void test_tcp_down_at_create(void)
{
	struct ipfix_exporter_params p;
	struct ipfix_exporter_stats st;
	struct ipfix_exporter *ex;
	struct flowcache_record recs[10];
	char url[64], err[256];
	uint64_t now = test_now();
	uint16_t port;
	int lfd = tcp_collector(0, &port);

	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	close(lfd);
	for (unsigned i = 0; i < 10; i++)
		recs[i] = make_rec(i);
	ipfix_exporter_params_default(&p);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
	ex = ipfix_exporter_create(url, &p, err, sizeof(err));
	CHECK(ex != NULL); /* a collector that is down is not an error */
	if (ex == NULL)
		return;
	CHECK_EQ(ipfix_exporter_add(ex, recs, 10, now), 10);
	CHECK(ipfix_exporter_flush(ex, now) < 0);
	ipfix_exporter_tick(ex, now + 10 * WR_NS_PER_S);
	get_stats(ex, &st);
	CHECK_EQ(st.connects, 0);
	CHECK_EQ(st.records, 0);
	CHECK_EQ(st.records_lost, 10);
	ipfix_exporter_free(ex);
}

/* ---------------------------------------------------------------------------------------- */
/* file                                                                                       */

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, len = 0, n;
	uint8_t *buf = malloc(cap);

	if (f == NULL || buf == NULL) {
		if (f)
			fclose(f);
		free(buf);
		return -1;
	}
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
	}
	fclose(f);
	*ret = buf;
	*ret_len = len;
	return 0;
}

static void test_file(void)
{
	enum { N = 1000 };
	struct ipfix_exporter_params p;
	struct ipfix_exporter_stats st;
	struct ipfix_exporter *ex;
	static struct flowcache_record recs[N];
	char dir[] = "/tmp/test_ipfix_XXXXXX", path[128], url[160], err[256];
	uint64_t now = test_now();
	struct decoder d;
	uint8_t *data = NULL;
	size_t len = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/out.ipfix", dir);
	snprintf(url, sizeof(url), "file:%s", path);
	for (unsigned i = 0; i < N; i++)
		recs[i] = make_rec(i);
	ipfix_exporter_params_default(&p);
	p.odid = 5;
	ex = ipfix_exporter_create(url, &p, err, sizeof(err));
	CHECK(ex != NULL);
	if (ex == NULL) {
		fprintf(stderr, "%s\n", err);
		rmdir(dir);
		return;
	}
	for (unsigned i = 0; i < N; i += 100) {
		ipfix_exporter_add(ex, &recs[i], 100, now + i * WR_NS_PER_MS);
		ipfix_exporter_tick(ex, now + i * WR_NS_PER_MS);
	}
	CHECK_EQ(ipfix_exporter_flush(ex, now + 2 * WR_NS_PER_S), 0);
	ipfix_exporter_finish(ex, now + 2 * WR_NS_PER_S);
	get_stats(ex, &st);
	ipfix_exporter_free(ex);

	CHECK_EQ(read_file(path, &data, &len), 0);
	dec_init(&d);
	CHECK_EQ(dec_stream(&d, data, len), len);
	/* The file ends with the final statistics: what went before that last message. */
	CHECK(d.n_msgs > 1);
	if (d.n_msgs > 1) {
		const struct dec_msg *last = &d.msgs[d.n_msgs - 1];

		CHECK_EQ(last->records, 0);
		CHECK_EQ(last->stats_records, 3);
		CHECK_EQ(d.stats[0][0], 5); /* observationDomainId */
		CHECK_EQ(d.stats[0][1], d.n_msgs - 1);
		CHECK_EQ(d.stats[0][2], N);
		CHECK_EQ(d.stats[0][3], len - last->len);
		CHECK_EQ(d.stats[1][1], 0);                  /* nothing ignored */
		CHECK_EQ(d.stats[2][0], (uint64_t)getpid()); /* exportingProcessId */
		CHECK_EQ(d.stats[2][1], 0);                  /* nothing lost */
		CHECK_EQ(st.stats_sent, 2);                  /* at the start, at the end */
		CHECK_EQ(d.n_stats[0], 2);
	}
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_recs, N);
	CHECK(d.n_msgs > 1 && d.msgs[0].starts_with_templates);
	check_templates(&d);
	check_seq_continuous(&d, 0, 0);
	for (unsigned i = 0; i < N && i < d.n_recs; i++)
		check_rec(&d.recs[i], &recs[i]);
	CHECK_EQ(st.messages, d.n_msgs);
	CHECK_EQ(st.records, N);
	CHECK_EQ(st.bytes, len);
	CHECK_EQ(st.template_sets, 1);
	CHECK_EQ(st.records_lost, 0);
	CHECK_EQ(d.msgs[0].odid, 5);
	dec_fini(&d);
	free(data);
	unlink(path);

	/* A file that cannot be created is an error at create, with the reason. */
	snprintf(url, sizeof(url), "file:%s/no/such/dir/x.ipfix", dir);
	errno = 0;
	err[0] = '\0';
	CHECK(ipfix_exporter_create(url, &p, err, sizeof(err)) == NULL);
	CHECK_EQ(errno, ENOENT);
	CHECK(strstr(err, "cannot open") != NULL);
	CHECK(strstr(err, "no/such/dir") != NULL);
	rmdir(dir);
}

/* flowStart/EndNanoseconds: NTP format, seconds from 1900 and a 2^-32 s fraction. */
static void test_ns_timestamps(void)
{
	static uint8_t buf[8192];
	struct flowcache_record recs[8];
	struct ipfix_msg m;
	struct decoder d;
	size_t len;

	for (unsigned i = 0; i < 8; i++)
		recs[i] = make_rec(i);
	recs[7].first_ns = 0;        /* 1970: NTP second 2208988800 */
	recs[7].last_ns = 999999999; /* the largest fraction of a second */
	ipfix_msg_begin(&m, buf, sizeof(buf), NULL, IPFIX_MSG_NS);
	CHECK_EQ(ipfix_msg_add_templates(&m), 0);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(ipfix_msg_add_record(&m, &recs[i]), 0);
	len = ipfix_msg_finish(&m, 1, 0, 1);
	dec_init(&d);
	CHECK_EQ(dec_msg(&d, buf, len), 0);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_recs, 8);
	for (uint16_t tid = 256; tid <= 261; tid++) {
		struct dec_tmpl *t = dec_find(&d, tid);

		CHECK(t != NULL && t->ids[0] == 156 && t->ids[1] == 157 && t->lens[0] == 8);
	}
	for (unsigned i = 0; i < 8 && i < d.n_recs; i++) {
		const struct dec_rec *r = &d.recs[i];
		uint64_t s0 = r->start_ntp >> 32, f0 = r->start_ntp & 0xFFFFFFFFu;
		uint64_t back_ns = (s0 - 2208988800ULL) * WR_NS_PER_S + ((f0 * WR_NS_PER_S) >> 32);

		CHECK_EQ(r->start_ms, 0); /* no milliseconds elements */
		CHECK_EQ(s0, recs[i].first_ns / WR_NS_PER_S + 2208988800ULL);
		/* the fraction is the nanoseconds scaled down: back within 1 ns */
		CHECK(back_ns <= recs[i].first_ns && recs[i].first_ns - back_ns <= 1);
		CHECK_EQ(r->end_ntp >> 32, recs[i].last_ns / WR_NS_PER_S + 2208988800ULL);
	}
	CHECK_EQ(d.recs[7].start_ntp, 2208988800ULL << 32);
	CHECK_EQ(d.recs[7].end_ntp, 2208988800ULL << 32 | 0xFFFFFFFBu);
	dec_fini(&d);
}

/* The selector report shares the options template set with the statistics templates. */
static void test_sampled_templates(void)
{
	static uint8_t buf[8192];
	struct ipfix_sampling smp;
	struct flowcache_record r = make_rec(2);
	struct ipfix_msg m;
	struct decoder d;
	struct dec_tmpl *t;
	size_t len;

	memset(&smp, 0, sizeof(smp));
	smp.n_selectors = 2;
	smp.odid = 7;
	smp.sel[0].algorithm = 1;
	smp.sel[0].interval = 1;
	smp.sel[0].space = 99;
	smp.sel[1].algorithm = 4;
	smp.sel[1].probability = 0.25;
	ipfix_msg_begin(&m, buf, sizeof(buf), &smp, 0);
	CHECK_EQ(ipfix_msg_add_templates(&m), 0);
	CHECK_EQ(ipfix_msg_add_record(&m, &r), 0);
	len = ipfix_msg_finish(&m, 1, 0, 1);
	dec_init(&d);
	CHECK_EQ(dec_msg(&d, buf, len), 0);
	CHECK_EQ(d.errors, 0);
	CHECK_EQ(d.n_tmpl, 11); /* six data, three statistics, the two selector layouts */
	check_stats_templates(&d);
	t = dec_find(&d, IPFIX_TID_SELECTOR);
	CHECK(t != NULL && t->scope == 1 && t->ids[0] == 302);
	/* the NetFlow v9 layout: observationDomainId scope, selectorId, algorithm, rate */
	t = dec_find(&d, IPFIX_TID_SAMPLER);
	CHECK(t != NULL && t->scope == 1 && t->n == 5 && t->ids[0] == 149 && t->ids[1] == 302 &&
	      t->ids[2] == 304 && t->ids[3] == 305 && t->ids[4] == 306);
	CHECK_EQ(d.msgs[0].option_records, 4);
	CHECK_EQ(d.msgs[0].options_template_sets, 5);
	CHECK_EQ(d.n_sampler, 2);
	CHECK_EQ(d.sampler_sets, 2);   /* a set for each record */
	CHECK_EQ(d.sampler[0][0], 7);  /* the exporter's observation domain */
	CHECK_EQ(d.sampler[0][1], 1);  /* selectorId */
	CHECK_EQ(d.sampler[0][2], 1);  /* count-based */
	CHECK_EQ(d.sampler[0][3], 1);  /* 1 taken */
	CHECK_EQ(d.sampler[0][4], 99); /* 99 passed over */
	CHECK_EQ(d.sampler[1][1], 2);
	CHECK_EQ(d.sampler[1][2], 4); /* probabilistic, p = 0.25: one in four */
	CHECK_EQ(d.sampler[1][3], 1);
	CHECK_EQ(d.sampler[1][4], 3);
	CHECK_EQ(d.n_recs, 1);
	CHECK_EQ(d.recs[0].tid, 262 + 1);    /* sampled IPv4, one tag */
	CHECK_EQ(d.recs[0].selector, 2 + 1); /* the record's input (port 2) + 1 */
	dec_fini(&d);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Rotation by size: every file is a session of its own, starting with the templates and
 * ending with its statistics; the files hold every record once. Losses reported by the
 * metering process reach the reliability records. */
static void test_file_rotation(void)
{
	enum { N = 2000 };
	struct ipfix_exporter_params p;
	struct ipfix_exporter_stats st;
	struct ipfix_metering_losses loss;
	struct ipfix_exporter *ex;
	static struct flowcache_record recs[N];
	char dir[] = "/tmp/test_ipfix_rot_XXXXXX", path[128], url[160], err[256];
	char names[64][320];
	uint64_t now = test_now(), total_bytes = 0;
	unsigned n_files = 0, total_recs = 0, bad_start = 0, bad_end = 0;
	struct dirent *de;
	DIR *dh;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/flows.ipfix", dir);
	snprintf(url, sizeof(url), "file:%s", path);
	for (unsigned i = 0; i < N; i++)
		recs[i] = make_rec(i);
	ipfix_exporter_params_default(&p);
	p.file_rotate_bytes = 20000;
	ex = ipfix_exporter_create(url, &p, err, sizeof(err));
	CHECK(ex != NULL);
	if (ex == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	memset(&loss, 0, sizeof(loss));
	loss.ignored_packets = 7;
	loss.ignored_octets = 700;
	loss.ignored_first_ns = 1700000000123456789ULL;
	loss.ignored_last_ns = 1700000001123456789ULL;
	loss.dropped_flows = 3;
	loss.dropped_packets = 30;
	loss.dropped_octets = 3000;
	loss.dropped_first_ns = 1700000002000000000ULL;
	loss.dropped_last_ns = 1700000003000000000ULL;
	ipfix_exporter_set_losses(ex, &loss);
	for (unsigned i = 0; i < N; i += 100) {
		ipfix_exporter_add(ex, &recs[i], 100, now);
		ipfix_exporter_tick(ex, now);
	}
	ipfix_exporter_finish(ex, now);
	get_stats(ex, &st);
	ipfix_exporter_free(ex);
	CHECK(st.files > 3);
	CHECK(access(path, F_OK) != 0); /* the last file was renamed too */

	dh = opendir(dir);
	CHECK(dh != NULL);
	while (dh != NULL && (de = readdir(dh)) != NULL && n_files < 64)
		if (strncmp(de->d_name, "flows.ipfix.", 12) == 0)
			snprintf(names[n_files++], sizeof(names[0]), "%s/%s", dir, de->d_name);
	if (dh != NULL)
		closedir(dh);
	qsort(names, n_files, sizeof(names[0]), cmp_names);
	CHECK_EQ(n_files, st.files);
	for (unsigned f = 0; f < n_files; f++) {
		struct decoder d;
		uint8_t *data = NULL;
		size_t len = 0;
		const char *base = strrchr(names[f], '/') + 1;

		/* flows.ipfix.YYYYMMDDTHHMMSSZ-NNNNNN */
		CHECK_EQ(strlen(base), strlen("flows.ipfix.20261122T101010Z-000001"));
		CHECK(base[20] == 'T' && base[27] == 'Z' && base[28] == '-');
		CHECK_EQ(read_file(names[f], &data, &len), 0);
		dec_init(&d);
		CHECK_EQ(dec_stream(&d, data, len), len);
		CHECK_EQ(d.errors, 0);
		bad_start +=
		    !(d.n_msgs > 0 && d.msgs[0].starts_with_templates && d.msgs[0].seq == 0);
		bad_end += !(d.n_msgs > 1 && d.msgs[d.n_msgs - 1].stats_records == 3);
		check_seq_continuous(&d, 0, 0);
		total_recs += d.n_recs;
		total_bytes += len;
		/* the reliability records carry what the metering process reported */
		CHECK_EQ(d.stats[1][1], 7);
		CHECK_EQ(d.stats[1][2], 700);
		CHECK_EQ(d.stats[1][3], 1700000000123ULL);
		CHECK_EQ(d.stats[1][4], 1700000001123ULL);
		CHECK_EQ(d.stats[2][1], 3);
		CHECK_EQ(d.stats[2][2], 30);
		CHECK_EQ(d.stats[2][3], 3000);
		CHECK_EQ(d.stats[2][4], 1700000002000ULL);
		CHECK_EQ(d.stats[2][5], 1700000003000ULL);
		/* A file ends after the message that took it past the bound (at most one stream
		 * buffer) and its statistics; names sort in the order the files were written. */
		if (f + 1 < n_files)
			CHECK(len >= 20000 && len <= 20000 + 16384 + 1024);
		CHECK(base[34] - '0' == (int)(f + 1) % 10);
		dec_fini(&d);
		free(data);
		unlink(names[f]);
	}
	CHECK_EQ(bad_start, 0);
	CHECK_EQ(bad_end, 0);
	CHECK_EQ(total_recs, N);
	CHECK_EQ(total_bytes, st.bytes);
	rmdir(dir);
}

/* ---------------------------------------------------------------------------------------- */
/* urls                                                                                       */

static void test_bad_urls(void)
{
	static const struct {
		const char *url;
		const char *msg;
	} bad[] = {
	    {"udp://x:70000", "bad port '70000' in 'udp://x:70000'"},
	    {"udp://127.0.0.1:0", "bad port '0'"},
	    {"tcp://127.0.0.1:12a", "bad port '12a'"},
	    {"udp://127.0.0.1:", "missing port"},
	    {"udp://127.0.0.1", "missing port"},
	    {"tcp://[::1]", "missing port"},
	    {"tcp://[::1:4739", "missing ']'"},
	    {"udp://::1:4739", "brackets"},
	    {"udp://:4739", "missing host"},
	    {"tcp://[]:4739", "missing host"},
	    {"ftp://x:1", "unknown scheme in 'ftp://x:1'"},
	    {"127.0.0.1:4739", "unknown scheme"},
	    {"", "unknown scheme"},
	    {"file:", "missing path"},
	};
	struct ipfix_exporter_params p;
	char err[256];

	ipfix_exporter_params_default(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		err[0] = '\0';
		CHECK(ipfix_exporter_create(bad[i].url, &p, err, sizeof(err)) == NULL);
		CHECK_EQ(errno, EINVAL);
		if (strstr(err, bad[i].msg) == NULL) {
			fprintf(stderr, "url '%s': message '%s' lacks '%s'\n", bad[i].url, err,
			        bad[i].msg);
			CHECK(0);
		}
	}
	/* A UDP message must at least hold the templates and one record. */
	p.udp_max_msg = 200;
	CHECK(ipfix_exporter_create("udp://127.0.0.1:4739", &p, err, sizeof(err)) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(strstr(err, "udp_max_msg") != NULL);
	/* A bracketed host must be an IPv6 literal, not a name. */
	ipfix_exporter_params_default(&p);
	CHECK(ipfix_exporter_create("udp://[localhost]:4739", &p, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "cannot resolve 'localhost'") != NULL);
	/* The small output buffer is never overrun. */
	CHECK(ipfix_exporter_create("ftp://a-rather-long-url:1", &p, err, 8) == NULL);
	CHECK_EQ(strlen(err), 7);
	ipfix_exporter_free(NULL);
}

static void test_good_urls(void)
{
	struct ipfix_exporter_params p;
	struct ipfix_exporter *ex;
	char err[256];
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t sl = sizeof(sin6);
	int fd;

	ipfix_exporter_params_default(&p);
	/* Names resolve (localhost comes from /etc/hosts, no DNS). */
	ex = ipfix_exporter_create("udp://localhost:4739", &p, err, sizeof(err));
	CHECK(ex != NULL);
	ipfix_exporter_free(ex);

	/* IPv6 loopback, where the host has it. */
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin6, &sl) == 0) {
		struct flowcache_record r = make_rec(1);
		struct decoder d;
		char url[64];

		snprintf(url, sizeof(url), "udp://[::1]:%u", ntohs(sin6.sin6_port));
		ex = ipfix_exporter_create(url, &p, err, sizeof(err));
		CHECK(ex != NULL);
		ipfix_exporter_add(ex, &r, 1, test_now());
		ipfix_exporter_free(ex);
		dec_init(&d);
		{
			size_t sizes[4];

			CHECK_EQ(udp_recv(fd, &d, 1, sizes, 4), 1);
		}
		CHECK_EQ(d.n_recs, 1);
		CHECK_EQ(d.errors, 0);
		if (d.n_recs == 1)
			check_rec(&d.recs[0], &r);
		dec_fini(&d);
	}
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	T_RUN(test_template_ids);
	T_RUN(test_templates_encode);
	T_RUN(test_roundtrip);
	T_RUN(test_biflow_roundtrip);
	T_RUN(test_enospc);
	T_RUN(test_sets);
	T_RUN(test_udp);
	T_RUN(test_udp_refused);
	T_RUN(test_tcp);
	T_RUN(test_tcp_down_at_create);
	T_RUN(test_file);
	T_RUN(test_file_rotation);
	T_RUN(test_ns_timestamps);
	T_RUN(test_sampled_templates);
	T_RUN(test_bad_urls);
	T_RUN(test_good_urls);
	return t_done();
}
