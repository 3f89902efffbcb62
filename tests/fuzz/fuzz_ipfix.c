/*
 * Fuzz target: the IPFIX message builder (exporter/ipfix_msg.c), round trip.
 *
 * The input makes flow records (uniflow or biflow, IPv4 or IPv6, any VLAN depth, any counter
 * and time), a sampling setup (0 to 16 selectors of any algorithm and parameters), the
 * statistics report and the size of the message buffer. The records are encoded with weir's
 * builder into as many messages as they need (templates in the first, or in every one; the
 * statistics records in the first, or in every one) and each message is decoded by the
 * independent decoder below, which follows RFC 7011 only: the message header, template and
 * options template sets whose templates it keeps for the later messages, and data sets read
 * by those templates, each field by its enterprise number and element id (RFC 7012 and the
 * IANA registry; RFC 5103 reverse elements under enterprise 29305). Every field of every
 * record must give back what was encoded, every record must come back once and in order, and
 * nothing else may be there; any difference aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ipfix.h"
#include "ipfix_internal.h"

#define MAX_RECORDS   4096
#define MAX_TEMPLATES 64
#define MAX_FIELDS    64
#define PEN_REVERSE   29305u
#define NTP_OFFSET_S  2208988800ull

/* ---------------------------------------------------------------------------------------- */
/* The decoder (RFC 7011), with no knowledge of weir's template ids or layouts               */

struct field_spec {
	uint32_t pen; /* 0: IANA */
	uint16_t id;
	uint16_t len;
};

#define MAX_ID     512 /* IANA element ids below this; weir sends no others */
#define MAX_REV_ID 16  /* reverse element ids below this */

struct template
{
	uint16_t tid; /* 0: free slot */
	uint16_t n, scope;
	struct field_spec f[MAX_FIELDS];
	int16_t at[MAX_ID];         /* the position of IANA element id, -1: absent */
	int16_t at_rev[MAX_REV_ID]; /* of reverse element id (enterprise 29305) */
};

/* One decoded record: the values of its fields in template order. */
struct dec_record {
	const struct template *t;
	const uint8_t *val[MAX_FIELDS];
};

struct decoder {
	struct template t[MAX_TEMPLATES]; /* the session's templates, kept across messages */
	struct dec_record *recs;          /* the current message's data records */
	unsigned n_recs;
};

static uint64_t be_uint(const uint8_t *p, uint16_t len)
{
	uint64_t v = 0;

	FUZZ_CHECK(len >= 1 && len <= 8);
	for (uint16_t i = 0; i < len; i++)
		v = v << 8 | p[i];
	return v;
}

static struct template *template_slot(struct decoder *d, uint16_t tid)
{
	struct template *free_slot = NULL;

	for (unsigned i = 0; i < MAX_TEMPLATES; i++) {
		if (d->t[i].tid == tid)
			return &d->t[i];
		if (d->t[i].tid == 0 && free_slot == NULL)
			free_slot = &d->t[i];
	}
	FUZZ_CHECK(free_slot != NULL);
	return free_slot;
}

/* A template or options template set's body (options: with a scope field count). */
static void decode_templates(struct decoder *d, const uint8_t *p, size_t len, int options)
{
	size_t off = 0, head = options ? 6 : 4;

	/* weir does not pad sets: the records fill the set exactly */
	while (off < len) {
		struct template *t;
		uint16_t tid, n, scope = 0;

		FUZZ_CHECK(len - off >= head);
		tid = (uint16_t)be_uint(p + off, 2);
		n = (uint16_t)be_uint(p + off + 2, 2);
		if (options)
			scope = (uint16_t)be_uint(p + off + 4, 2);
		off += head;
		FUZZ_CHECK(tid >= 256);
		FUZZ_CHECK(n > 0 && n <= MAX_FIELDS); /* no withdrawals are sent */
		FUZZ_CHECK(!options || (scope >= 1 && scope <= n));
		t = template_slot(d, tid);
		t->tid = tid;
		t->n = n;
		t->scope = scope;
		memset(t->at, 0xff, sizeof(t->at));
		memset(t->at_rev, 0xff, sizeof(t->at_rev));
		for (uint16_t i = 0; i < n; i++) {
			uint16_t id;

			FUZZ_CHECK(len - off >= 4);
			id = (uint16_t)be_uint(p + off, 2);
			t->f[i].len = (uint16_t)be_uint(p + off + 2, 2);
			FUZZ_CHECK(t->f[i].len != 0 && t->f[i].len != 65535); /* fixed lengths */
			off += 4;
			t->f[i].id = id & 0x7FFF;
			t->f[i].pen = 0;
			if (id & 0x8000) {
				FUZZ_CHECK(len - off >= 4);
				t->f[i].pen = (uint32_t)be_uint(p + off, 4);
				off += 4;
			}
			/* each element at most once in a template */
			if (t->f[i].pen == 0) {
				FUZZ_CHECK(t->f[i].id < MAX_ID && t->at[t->f[i].id] < 0);
				t->at[t->f[i].id] = (int16_t)i;
			} else {
				FUZZ_CHECK(t->f[i].pen == PEN_REVERSE);
				FUZZ_CHECK(t->f[i].id < MAX_REV_ID && t->at_rev[t->f[i].id] < 0);
				t->at_rev[t->f[i].id] = (int16_t)i;
			}
		}
	}
}

static void decode_data(struct decoder *d, uint16_t tid, const uint8_t *p, size_t len)
{
	const struct template *t = NULL;
	size_t rec_len = 0, off = 0;

	for (unsigned i = 0; i < MAX_TEMPLATES; i++)
		if (d->t[i].tid == tid)
			t = &d->t[i];
	FUZZ_CHECK(t != NULL); /* a data set needs its template first */
	for (unsigned i = 0; i < t->n; i++)
		rec_len += t->f[i].len;
	FUZZ_CHECK(len > 0 && len % rec_len == 0); /* records, no padding, not empty */
	for (; off < len; off += rec_len) {
		struct dec_record *r;
		size_t foff = off;

		FUZZ_CHECK(d->n_recs < MAX_RECORDS + 64);
		r = &d->recs[d->n_recs++];
		r->t = t;
		for (unsigned i = 0; i < t->n; i++) {
			r->val[i] = p + foff;
			foff += t->f[i].len;
		}
	}
}

/* Decodes one message into d->recs and checks its header. */
static void decode_message(struct decoder *d, const uint8_t *msg, size_t len, uint32_t time_s,
                           uint32_t seq, uint32_t odid)
{
	size_t off = 16;

	d->n_recs = 0;
	FUZZ_CHECK(len >= 16 && len <= 65535);
	FUZZ_CHECK(be_uint(msg, 2) == 10);
	FUZZ_CHECK(be_uint(msg + 2, 2) == len);
	FUZZ_CHECK(be_uint(msg + 4, 4) == time_s);
	FUZZ_CHECK(be_uint(msg + 8, 4) == seq);
	FUZZ_CHECK(be_uint(msg + 12, 4) == odid);
	while (off < len) {
		uint16_t id, slen;

		FUZZ_CHECK(len - off >= 4);
		id = (uint16_t)be_uint(msg + off, 2);
		slen = (uint16_t)be_uint(msg + off + 2, 2);
		FUZZ_CHECK(slen >= 4 && slen <= len - off);
		if (id == 2 || id == 3)
			decode_templates(d, msg + off + 4, slen - 4u, id == 3);
		else if (id >= 256)
			decode_data(d, id, msg + off + 4, slen - 4u);
		else
			FUZZ_CHECK(0 && "reserved set id");
		off += slen;
	}
}

/* The value of field (pen, id) in r, its length in *ret_len; NULL when absent. */
static const uint8_t *field(const struct dec_record *r, uint32_t pen, uint16_t id,
                            uint16_t *ret_len)
{
	int i = pen == 0 ? r->t->at[id] : r->t->at_rev[id];

	if (i < 0)
		return NULL;
	*ret_len = r->t->f[i].len;
	return r->val[i];
}

static void expect_uint(const struct dec_record *r, uint32_t pen, uint16_t id, uint64_t want)
{
	uint16_t len = 0;
	const uint8_t *v = field(r, pen, id, &len);

	FUZZ_CHECK(v != NULL);
	FUZZ_CHECK(be_uint(v, len) == want);
}

static void expect_bytes(const struct dec_record *r, uint16_t id, const uint8_t *want,
                         uint16_t want_len)
{
	uint16_t len = 0;
	const uint8_t *v = field(r, 0, id, &len);

	FUZZ_CHECK(v != NULL && len == want_len);
	FUZZ_CHECK(memcmp(v, want, len) == 0);
}

/* A dateTimeNanoseconds field (RFC 7011 6.1.10: NTP format, seconds since 1900 and a binary
 * fraction) read back to nanoseconds must give ns. */
static void expect_ntp(const struct dec_record *r, uint16_t id, uint64_t ns)
{
	uint16_t len = 0;
	const uint8_t *v = field(r, 0, id, &len);
	uint64_t x, frac;

	FUZZ_CHECK(v != NULL && len == 8);
	x = be_uint(v, 8);
	frac = x & 0xFFFFFFFFu;
	FUZZ_CHECK(x >> 32 == (uint32_t)(ns / 1000000000u + NTP_OFFSET_S)); /* era wraps */
	FUZZ_CHECK((frac * 1000000000u + 0x80000000u) >> 32 == ns % 1000000000u);
}

/* ---------------------------------------------------------------------------------------- */
/* What the input asks for                                                                    */

struct setup {
	int biflow, ns;
	int templates_every, stats_first, stats_every;
	struct ipfix_sampling sampling;
	struct ipfix_stats_report stats;
	size_t cap;
	uint32_t time_s, seq0, odid;
	struct flowcache_record *recs;
	unsigned n;
};

static void read_setup(struct fuzz_in *in, struct setup *s)
{
	uint8_t flags = fuzz_u8(in);

	s->biflow = flags & 1;
	s->ns = (flags >> 1) & 1;
	s->templates_every = (flags >> 2) & 1;
	s->stats_first = (flags >> 3) & 1;
	s->stats_every = (flags >> 4) & 1;
	s->sampling.n_selectors = fuzz_u8(in) % (IPFIX_MAX_SELECTORS + 1);
	s->sampling.odid = fuzz_u32(in);
	for (uint32_t i = 0; i < s->sampling.n_selectors; i++) {
		struct ipfix_selector *sel = &s->sampling.sel[i];
		uint64_t bits;

		sel->algorithm = fuzz_u16(in);
		sel->interval = fuzz_u32(in);
		sel->space = fuzz_u32(in);
		sel->size = fuzz_u32(in);
		sel->population = fuzz_u32(in);
		bits = fuzz_u64(in);
		memcpy(&sel->probability, &bits, 8);
		sel->hash_max = fuzz_u64(in);
		sel->hash_init = fuzz_u64(in);
	}
	s->stats = (struct ipfix_stats_report){
	    .odid = fuzz_u32(in),
	    .exporting_process_id = fuzz_u32(in),
	    .exported_messages = fuzz_u64(in),
	    .exported_records = fuzz_u64(in),
	    .exported_octets = fuzz_u64(in),
	    .ignored_packets = fuzz_u64(in),
	    .ignored_octets = fuzz_u64(in),
	    .ignored_first_ns = fuzz_u64(in),
	    .ignored_last_ns = fuzz_u64(in),
	    .not_sent_flows = fuzz_u64(in),
	    .not_sent_packets = fuzz_u64(in),
	    .not_sent_octets = fuzz_u64(in),
	    .not_sent_first_ns = fuzz_u64(in),
	    .not_sent_last_ns = fuzz_u64(in),
	};
	s->cap = IPFIX_HEADER_LEN + ipfix_template_set_len(s->sampling.n_selectors, s->biflow) +
	         ipfix_stats_len() + 4 + ipfix_record_max_len();
	s->cap += fuzz_u16(in); /* may pass 65535: the builder must stop there */
	s->time_s = fuzz_u32(in);
	s->seq0 = fuzz_u32(in);
	s->odid = fuzz_u32(in);

	for (s->n = 0; s->n < MAX_RECORDS && in->n > 0; s->n++) {
		struct flowcache_record *r = &s->recs[s->n];
		uint8_t b = fuzz_u8(in);
		unsigned alen;

		memset(r, 0, sizeof(*r));

		/* what a flow cache makes: IPv4 in the first 4 address bytes, the rest 0; an
		 * MPLS entry of 24 bits; VLAN ids of 12; reverse counters only in biflows */
		r->key.ip_version = b & 1 ? 6 : 4;
		r->key.vlan_depth = (b >> 1) & 7;
		alen = r->key.ip_version == 6 ? 16 : 4;
		for (unsigned i = 0; i < alen; i++)
			r->key.src[i] = fuzz_u8(in);
		for (unsigned i = 0; i < alen; i++)
			r->key.dst[i] = fuzz_u8(in);
		r->key.sport = fuzz_u16(in);
		r->key.dport = fuzz_u16(in);
		r->key.proto = fuzz_u8(in);
		for (unsigned i = 0; i < CAPTURE_VLAN_MAX && i < r->key.vlan_depth; i++)
			r->key.vlan[i] = fuzz_u16(in) & 0x0FFF;
		r->first_ns = fuzz_u64(in);
		r->last_ns = fuzz_u64(in);
		r->packets = fuzz_u64(in);
		r->octets = fuzz_u64(in);
		r->tcp_flags = fuzz_u16(in);
		r->tos = fuzz_u8(in);
		r->end_reason = fuzz_u8(in);
		r->port = fuzz_u16(in);
		r->ttl_min = fuzz_u8(in);
		r->ttl_max = fuzz_u8(in);
		r->icmp = fuzz_u16(in);
		r->mpls_top = fuzz_u32(in) & 0xFFFFFF;
		if (s->biflow) {
			r->rev_tcp_flags = fuzz_u16(in);
			r->rev_packets = fuzz_u64(in);
			r->rev_octets = fuzz_u64(in);
		}
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Checks                                                                                     */

/* A flow record as decoded against the record encoded. */
static void check_flow(const struct setup *s, const struct dec_record *d,
                       const struct flowcache_record *r)
{
	int v6 = r->key.ip_version == 6, sampled = s->sampling.n_selectors > 0;
	unsigned depth = r->key.vlan_depth, fields;

	if (s->ns) {
		expect_ntp(d, 156, r->first_ns); /* flowStartNanoseconds */
		expect_ntp(d, 157, r->last_ns);  /* flowEndNanoseconds */
	} else {
		expect_uint(d, 0, 152, r->first_ns / 1000000u); /* flowStartMilliseconds */
		expect_uint(d, 0, 153, r->last_ns / 1000000u);  /* flowEndMilliseconds */
	}
	expect_uint(d, 0, 1, r->octets);  /* octetDeltaCount */
	expect_uint(d, 0, 2, r->packets); /* packetDeltaCount */
	if (v6) {
		expect_bytes(d, 27, r->key.src, 16); /* sourceIPv6Address */
		expect_bytes(d, 28, r->key.dst, 16); /* destinationIPv6Address */
		expect_uint(d, 0, 139, r->icmp);     /* icmpTypeCodeIPv6 */
	} else {
		expect_bytes(d, 8, r->key.src, 4);  /* sourceIPv4Address */
		expect_bytes(d, 12, r->key.dst, 4); /* destinationIPv4Address */
		expect_uint(d, 0, 32, r->icmp);     /* icmpTypeCodeIPv4 */
	}
	expect_uint(d, 0, 7, r->key.sport);           /* sourceTransportPort */
	expect_uint(d, 0, 11, r->key.dport);          /* destinationTransportPort */
	expect_uint(d, 0, 4, r->key.proto);           /* protocolIdentifier */
	expect_uint(d, 0, 5, r->tos);                 /* ipClassOfService */
	expect_uint(d, 0, 6, r->tcp_flags);           /* tcpControlBits */
	expect_uint(d, 0, 136, r->end_reason);        /* flowEndReason */
	expect_uint(d, 0, 10, (uint64_t)r->port + 1); /* ingressInterface: inputs from 1 */
	expect_uint(d, 0, 52, r->ttl_min);            /* minimumTTL */
	expect_uint(d, 0, 53, r->ttl_max);            /* maximumTTL */
	expect_uint(d, 0, 70, r->mpls_top);           /* mplsTopLabelStackSection */
	fields = 17;
	if (depth >= 1) {
		expect_uint(d, 0, 58, r->key.vlan[0]); /* vlanId */
		fields++;
	}
	if (depth >= 2) {
		expect_uint(d, 0, 245, r->key.vlan[1]); /* dot1qCustomerVlanId */
		fields++;
	}
	if (sampled) {
		expect_uint(d, 0, 302, (uint64_t)r->port + 1); /* selectorId: one per input */
		fields++;
	}
	if (s->biflow) {
		expect_uint(d, PEN_REVERSE, 1, r->rev_octets);    /* reverseOctetDeltaCount */
		expect_uint(d, PEN_REVERSE, 2, r->rev_packets);   /* reversePacketDeltaCount */
		expect_uint(d, PEN_REVERSE, 6, r->rev_tcp_flags); /* reverseTcpControlBits */
		fields += 3;
	}
	/* and nothing else */
	FUZZ_CHECK(d->t->n == fields);
}

/* Which options record d is, by its scope and first fields; its checks. Returns 1 for an
 * options record, 0 for a flow record. */
static int check_options(const struct setup *s, const struct dec_record *d, unsigned *sel_seen,
                         unsigned *sampler_seen, unsigned *stats_seen)
{
	const struct ipfix_stats_report *st = &s->stats;
	const struct field_spec *f = d->t->f;

	if (d->t->scope == 0)
		return 0;
	FUZZ_CHECK(d->t->scope == 1 && f[0].pen == 0);
	if (f[0].id == 302) { /* the selector report (RFC 5476) */
		const struct ipfix_selector *sel;
		uint64_t bits;
		unsigned k = ++*sel_seen;

		FUZZ_CHECK(k <= s->sampling.n_selectors && d->t->n == 10);
		sel = &s->sampling.sel[k - 1];
		memcpy(&bits, &sel->probability, 8);
		expect_uint(d, 0, 302, k);
		expect_uint(d, 0, 304, sel->algorithm);  /* selectorAlgorithm */
		expect_uint(d, 0, 305, sel->interval);   /* samplingPacketInterval */
		expect_uint(d, 0, 306, sel->space);      /* samplingPacketSpace */
		expect_uint(d, 0, 309, sel->size);       /* samplingSize */
		expect_uint(d, 0, 310, sel->population); /* samplingPopulation */
		expect_uint(d, 0, 311, bits);            /* samplingProbability: binary64 */
		expect_uint(d, 0, 330, sel->hash_max ? 0xFFFFFFFFu : 0); /* hashOutputRangeMax */
		expect_uint(d, 0, 332, sel->hash_max);                   /* hashSelectedRangeMax */
		expect_uint(d, 0, 334, sel->hash_init);                  /* hashInitialiserValue */
		return 1;
	}
	if (f[0].id == 149 && d->t->n >= 2 && f[1].id == 302) { /* the sampler records */
		const struct ipfix_selector *sel;
		unsigned k = ++*sampler_seen;
		uint16_t len = 0;

		FUZZ_CHECK(k <= s->sampling.n_selectors && d->t->n == 5);
		sel = &s->sampling.sel[k - 1];
		expect_uint(d, 0, 149, s->sampling.odid);
		expect_uint(d, 0, 302, k);
		expect_uint(d, 0, 304, sel->algorithm);
		if (sel->algorithm == 1) { /* count-based: as configured */
			expect_uint(d, 0, 305, sel->interval);
			expect_uint(d, 0, 306, sel->space);
		} else if (sel->algorithm == 3) { /* n-out-of-N: n taken, N - n passed over */
			expect_uint(d, 0, 305, sel->size);
			expect_uint(d, 0, 306, (uint32_t)(sel->population - sel->size));
		} else { /* a rate: one taken, some passed over */
			expect_uint(d, 0, 305, 1);
			FUZZ_CHECK(field(d, 0, 306, &len) != NULL);
		}
		return 1;
	}
	if (f[0].id == 149 && d->t->n == 4 && f[1].id == 41) { /* Metering Process Statistics */
		expect_uint(d, 0, 149, st->odid);
		expect_uint(d, 0, 41, st->exported_messages);
		expect_uint(d, 0, 42, st->exported_records);
		expect_uint(d, 0, 40, st->exported_octets);
		stats_seen[0]++;
		return 1;
	}
	if (f[0].id == 149 && d->t->n == 5 && f[1].id == 164) { /* ... Reliability Statistics */
		expect_uint(d, 0, 149, st->odid);
		expect_uint(d, 0, 164, st->ignored_packets);
		expect_uint(d, 0, 165, st->ignored_octets);
		expect_uint(d, 0, 152, st->ignored_first_ns / 1000000u);
		expect_uint(d, 0, 153, st->ignored_last_ns / 1000000u);
		stats_seen[1]++;
		return 1;
	}
	if (f[0].id == 144 && d->t->n == 6) { /* Exporting Process Reliability Statistics */
		expect_uint(d, 0, 144, st->exporting_process_id);
		expect_uint(d, 0, 166, st->not_sent_flows);
		expect_uint(d, 0, 167, st->not_sent_packets);
		expect_uint(d, 0, 168, st->not_sent_octets);
		expect_uint(d, 0, 152, st->not_sent_first_ns / 1000000u);
		expect_uint(d, 0, 153, st->not_sent_last_ns / 1000000u);
		stats_seen[2]++;
		return 1;
	}
	FUZZ_CHECK(0 && "an options record of no known kind");
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* large: static, and set up afresh for each input */
	static struct flowcache_record recs[MAX_RECORDS];
	static struct dec_record dec_recs[MAX_RECORDS + 64];
	static struct decoder dec;
	struct decoder *d = &dec;
	struct fuzz_in in = {data, size};
	struct setup s = {.recs = recs};
	unsigned next = 0, msgs = 0;
	uint32_t seq;
	uint8_t *buf;

	memset(d->t, 0, sizeof(d->t)); /* a new transport session: no templates yet */
	d->recs = dec_recs;
	read_setup(&in, &s);
	seq = s.seq0;
	buf = malloc(s.cap); /* exactly the size given to the builder */
	FUZZ_CHECK(buf != NULL);
	while (msgs == 0 || next < s.n) {
		struct ipfix_msg m;
		unsigned first = next, sel_seen = 0, sampler_seen = 0, stats_seen[3] = {0, 0, 0};
		unsigned flows = 0, options = 0;
		int templates = msgs == 0 || s.templates_every;
		int stats = (msgs == 0 && s.stats_first) || s.stats_every;
		uint64_t packets = 0, octets = 0;
		size_t len;

		ipfix_msg_begin(&m, buf, s.cap, s.sampling.n_selectors ? &s.sampling : NULL,
		                (s.biflow ? IPFIX_MSG_BIFLOW : 0) | (s.ns ? IPFIX_MSG_NS : 0));
		/* the buffer holds the templates, the statistics and one record by its size */
		if (templates)
			FUZZ_CHECK(ipfix_msg_add_templates(&m) == 0);
		if (stats)
			FUZZ_CHECK(ipfix_msg_add_stats(&m, &s.stats) == 0);
		while (next < s.n) {
			size_t before = m.len;
			int rc = ipfix_msg_add_record(&m, &s.recs[next]);

			if (rc == -ENOSPC) {
				FUZZ_CHECK(m.len == before); /* unchanged */
				break;
			}
			FUZZ_CHECK(rc == 0 && m.len <= 65535 && m.len <= s.cap);
			packets += s.recs[next].packets + s.recs[next].rev_packets;
			octets += s.recs[next].octets + s.recs[next].rev_octets;
			next++;
		}
		FUZZ_CHECK(next > first || next == s.n); /* every message takes a record */
		FUZZ_CHECK(m.records == next - first);
		FUZZ_CHECK(m.packets == packets && m.octets == octets);
		len = ipfix_msg_finish(&m, s.time_s, seq, s.odid);
		FUZZ_CHECK(len == m.len);

		decode_message(d, buf, len, s.time_s, seq, s.odid);
		for (unsigned i = 0; i < d->n_recs; i++) {
			if (check_options(&s, &d->recs[i], &sel_seen, &sampler_seen, stats_seen)) {
				options++;
				continue;
			}
			FUZZ_CHECK(first + flows < next);
			check_flow(&s, &d->recs[i], &s.recs[first + flows]);
			flows++;
		}
		FUZZ_CHECK(flows == next - first);
		FUZZ_CHECK(sel_seen == (templates ? s.sampling.n_selectors : 0));
		FUZZ_CHECK(sampler_seen == sel_seen);
		for (unsigned k = 0; k < 3; k++)
			FUZZ_CHECK(stats_seen[k] == (unsigned)stats);
		FUZZ_CHECK(m.option_records == options);
		seq += m.records + m.option_records;
		msgs++;
	}
	free(buf);
	return 0;
}
