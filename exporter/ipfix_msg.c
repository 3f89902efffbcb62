/*
 * IPFIX message builder (RFC 7011): message header, one template set carrying the six
 * templates in use, and data sets whose id is the template id. Pure: it writes into the
 * caller's buffer and never does I/O.
 *
 * The six templates differ only in the address family and in how many VLAN tags they carry,
 * so one table of elements describes them all: each entry gives the IANA element and length
 * for IPv4 and for IPv6 and the VLAN depth from which it is present, and whether it belongs
 * only to the templates of sampled records or of biflows. The same table drives the template
 * records, the length of a data record and the encoding of its fields, so they cannot drift
 * apart. Sets are not padded.
 *
 * Template ids: 256 + 6 * sampled + 3 * IPv6 + VLAN depth for uniflows (256..267), the same
 * from IPFIX_TID_BIFLOW for biflows (270..281); 268 is the selector report.
 */
#include "ipfix.h"
#include "ipfix_internal.h"

#include <errno.h>
#include <string.h>

#include "wr.h"

enum ipfix_field {
	IPFIX_F_START_MS,
	IPFIX_F_END_MS,
	IPFIX_F_OCTETS,
	IPFIX_F_PACKETS,
	IPFIX_F_SRC_ADDR,
	IPFIX_F_DST_ADDR,
	IPFIX_F_SRC_PORT,
	IPFIX_F_DST_PORT,
	IPFIX_F_PROTO,
	IPFIX_F_TOS,
	IPFIX_F_TCP_FLAGS,
	IPFIX_F_END_REASON,
	IPFIX_F_VLAN_OUTER,
	IPFIX_F_VLAN_INNER,
	IPFIX_F_SELECTOR,
	IPFIX_F_REV_OCTETS,
	IPFIX_F_REV_PACKETS,
	IPFIX_F_REV_TCP_FLAGS,
};

#define IPFIX_IN_SAMPLED  1      /* only in the templates of sampled records */
#define IPFIX_IN_BIFLOW   2      /* only in biflow templates: a reverse element (RFC 5103) */
#define IPFIX_PEN_REVERSE 29305u /* the enterprise number of RFC 5103 reverse elements */

struct ipfix_elem {
	uint8_t field;     /* enum ipfix_field: where the value comes from */
	uint8_t min_depth; /* present in templates for this many VLAN tags or more */
	uint16_t id4;      /* IANA element id in the IPv4 templates */
	uint16_t len4;     /* its length there */
	uint16_t id6;      /* IANA element id in the IPv6 templates */
	uint16_t len6;     /* its length there */
	uint8_t only;      /* 0 or IPFIX_IN_*: the templates it is limited to */
};

/* Template order is table order. */
static const struct ipfix_elem ipfix_elems[] = {
    {IPFIX_F_START_MS, 0, 152, 8, 152, 8, 0},   /* flowStartMilliseconds */
    {IPFIX_F_END_MS, 0, 153, 8, 153, 8, 0},     /* flowEndMilliseconds */
    {IPFIX_F_OCTETS, 0, 1, 8, 1, 8, 0},         /* octetDeltaCount */
    {IPFIX_F_PACKETS, 0, 2, 8, 2, 8, 0},        /* packetDeltaCount */
    {IPFIX_F_SRC_ADDR, 0, 8, 4, 27, 16, 0},     /* sourceIPv4Address / sourceIPv6Address */
    {IPFIX_F_DST_ADDR, 0, 12, 4, 28, 16, 0},    /* destinationIPv4Address / ...IPv6Address */
    {IPFIX_F_SRC_PORT, 0, 7, 2, 7, 2, 0},       /* sourceTransportPort */
    {IPFIX_F_DST_PORT, 0, 11, 2, 11, 2, 0},     /* destinationTransportPort */
    {IPFIX_F_PROTO, 0, 4, 1, 4, 1, 0},          /* protocolIdentifier */
    {IPFIX_F_TOS, 0, 5, 1, 5, 1, 0},            /* ipClassOfService */
    {IPFIX_F_TCP_FLAGS, 0, 6, 2, 6, 2, 0},      /* tcpControlBits */
    {IPFIX_F_END_REASON, 0, 136, 1, 136, 1, 0}, /* flowEndReason */
    {IPFIX_F_VLAN_OUTER, 1, 58, 2, 58, 2, 0},   /* vlanId */
    {IPFIX_F_VLAN_INNER, 2, 245, 2, 245, 2, 0}, /* dot1qCustomerVlanId */
    {IPFIX_F_SELECTOR, 0, 302, 8, 302, 8, IPFIX_IN_SAMPLED}, /* selectorId (RFC 5477) */
    /* Reverse elements: the forward element's id under enterprise number 29305. */
    {IPFIX_F_REV_OCTETS, 0, 1, 8, 1, 8, IPFIX_IN_BIFLOW},    /* reverseOctetDeltaCount */
    {IPFIX_F_REV_PACKETS, 0, 2, 8, 2, 8, IPFIX_IN_BIFLOW},   /* reversePacketDeltaCount */
    {IPFIX_F_REV_TCP_FLAGS, 0, 6, 2, 6, 2, IPFIX_IN_BIFLOW}, /* reverseTcpControlBits */
};

#define IPFIX_DEPTHS 3 /* templates per address family: 0, 1 or 2 VLAN tags */

static int tid_biflow(uint16_t tid)
{
	return tid >= IPFIX_TID_BIFLOW;
}

/* Position of tid within its group of 12 (uniflow or biflow). */
static unsigned tid_offset(uint16_t tid)
{
	return (unsigned)(tid - (tid_biflow(tid) ? IPFIX_TID_BIFLOW : IPFIX_TID_FIRST));
}

static int tid_is_v6(uint16_t tid)
{
	return tid_offset(tid) % IPFIX_TEMPLATE_COUNT / IPFIX_DEPTHS;
}

static int tid_sampled(uint16_t tid)
{
	return tid_offset(tid) / IPFIX_TEMPLATE_COUNT;
}

static int msg_sampled(const struct ipfix_msg *m)
{
	return m->sampling != NULL && m->sampling->n_selectors > 0;
}

/* The first of the six data templates a message uses. */
static uint16_t first_tid(int sampled, int biflow)
{
	return (uint16_t)((biflow ? IPFIX_TID_BIFLOW : IPFIX_TID_FIRST) +
	                  sampled * IPFIX_TEMPLATE_COUNT);
}

static unsigned tid_depth(uint16_t tid)
{
	return tid_offset(tid) % IPFIX_DEPTHS;
}

static int elem_in(const struct ipfix_elem *e, uint16_t tid)
{
	return e->min_depth <= tid_depth(tid) &&
	       (!(e->only & IPFIX_IN_SAMPLED) || tid_sampled(tid)) &&
	       (!(e->only & IPFIX_IN_BIFLOW) || tid_biflow(tid));
}

/* Bytes of the element's field specifier: 8 with an enterprise number. */
static size_t elem_spec_len(const struct ipfix_elem *e)
{
	return (e->only & IPFIX_IN_BIFLOW) ? 8 : 4;
}

static uint16_t elem_id(const struct ipfix_elem *e, uint16_t tid)
{
	return tid_is_v6(tid) ? e->id6 : e->id4;
}

static uint16_t elem_len(const struct ipfix_elem *e, uint16_t tid)
{
	return tid_is_v6(tid) ? e->len6 : e->len4;
}

static unsigned tmpl_field_count(uint16_t tid)
{
	unsigned n = 0;

	for (size_t i = 0; i < WR_ARRAY_SIZE(ipfix_elems); i++)
		n += (unsigned)elem_in(&ipfix_elems[i], tid);
	return n;
}

static size_t tmpl_record_len(uint16_t tid)
{
	size_t len = 0;

	for (size_t i = 0; i < WR_ARRAY_SIZE(ipfix_elems); i++)
		if (elem_in(&ipfix_elems[i], tid))
			len += elem_len(&ipfix_elems[i], tid);
	return len;
}

/* The selector report: options template 268, scope selectorId, then the fields below. */
static const struct {
	uint16_t id, len;
} selector_fields[] = {
    {302, 8}, /* selectorId (scope) */
    {304, 2}, /* selectorAlgorithm */
    {305, 4}, /* samplingPacketInterval */
    {306, 4}, /* samplingPacketSpace */
    {309, 4}, /* samplingSize */
    {310, 4}, /* samplingPopulation */
    {311, 8}, /* samplingProbability (float64) */
    {330, 8}, /* hashOutputRangeMax */
    {332, 8}, /* hashSelectedRangeMax */
    {334, 8}, /* hashInitialiserValue */
};

static size_t selector_record_len(void)
{
	size_t len = 0;

	for (size_t i = 0; i < WR_ARRAY_SIZE(selector_fields); i++)
		len += selector_fields[i].len;
	return len;
}

static size_t data_templates_len(int sampled, int biflow)
{
	uint16_t first = first_tid(sampled, biflow);
	size_t len = IPFIX_SET_HEADER_LEN;

	for (uint16_t tid = first; tid < first + IPFIX_TEMPLATE_COUNT; tid++) {
		len += 4;
		for (size_t i = 0; i < WR_ARRAY_SIZE(ipfix_elems); i++)
			if (elem_in(&ipfix_elems[i], tid))
				len += elem_spec_len(&ipfix_elems[i]);
	}
	return len;
}

/* Bytes of the selector report for n selectors: options template set and options data set. */
static size_t selector_report_len(uint32_t n)
{
	return IPFIX_SET_HEADER_LEN + 6 + 4 * WR_ARRAY_SIZE(selector_fields) +
	       IPFIX_SET_HEADER_LEN + (size_t)n * selector_record_len();
}

size_t ipfix_template_set_len(uint32_t n_selectors, int biflow)
{
	return n_selectors ? data_templates_len(1, biflow) + selector_report_len(n_selectors)
	                   : data_templates_len(0, biflow);
}

size_t ipfix_record_max_len(void)
{
	size_t max = 0;

	for (int biflow = 0; biflow < 2; biflow++) {
		uint16_t first = first_tid(0, biflow);

		for (uint16_t tid = first; tid < first + 2 * IPFIX_TEMPLATE_COUNT; tid++) {
			size_t len = tmpl_record_len(tid);

			if (len > max)
				max = len;
		}
	}
	return max;
}

uint16_t ipfix_template_id(const struct flowcache_record *rec)
{
	unsigned depth = rec->key.vlan_depth < 2 ? rec->key.vlan_depth : 2;

	return (uint16_t)(IPFIX_TID_FIRST + IPFIX_DEPTHS * (rec->key.ip_version == 6) + depth);
}

void ipfix_msg_begin(struct ipfix_msg *m, uint8_t *buf, size_t cap,
                     const struct ipfix_sampling *sampling, unsigned flags)
{
	m->sampling = sampling;
	m->biflow = (flags & IPFIX_MSG_BIFLOW) != 0;
	m->option_records = 0;
	m->buf = buf;
	/* The message length field is 16 bits. */
	m->cap = cap < UINT16_MAX ? cap : UINT16_MAX;
	m->len = IPFIX_HEADER_LEN;
	m->set_start = 0;
	m->set_id = 0;
	m->records = 0;
}

static void put_uint(uint8_t *p, uint64_t v, uint16_t len);

/* Writes the selector report at p: options template set, then one record per selector. */
static void put_selector_report(uint8_t *p, const struct ipfix_sampling *s)
{
	size_t tmpl_len = IPFIX_SET_HEADER_LEN + 6 + 4 * WR_ARRAY_SIZE(selector_fields);
	size_t i;
	uint32_t sel;

	wr_put_be16(p, IPFIX_SET_OPTIONS);
	wr_put_be16(p + 2, (uint16_t)tmpl_len);
	wr_put_be16(p + 4, IPFIX_TID_SELECTOR);
	wr_put_be16(p + 6, (uint16_t)WR_ARRAY_SIZE(selector_fields));
	wr_put_be16(p + 8, 1); /* scope field count: selectorId */
	p += 10;
	for (i = 0; i < WR_ARRAY_SIZE(selector_fields); i++, p += 4) {
		wr_put_be16(p, selector_fields[i].id);
		wr_put_be16(p + 2, selector_fields[i].len);
	}
	wr_put_be16(p, IPFIX_TID_SELECTOR);
	wr_put_be16(p + 2,
	            (uint16_t)(IPFIX_SET_HEADER_LEN + s->n_selectors * selector_record_len()));
	p += IPFIX_SET_HEADER_LEN;
	for (sel = 1; sel <= s->n_selectors; sel++) {
		const struct ipfix_selector *d = &s->sel[sel - 1];
		uint64_t prob;

		memcpy(&prob, &d->probability, 8); /* IEEE 754 binary64, sent big-endian */
		put_uint(p, sel, 8);
		put_uint(p + 8, d->algorithm, 2);
		put_uint(p + 10, d->interval, 4);
		put_uint(p + 14, d->space, 4);
		put_uint(p + 18, d->size, 4);
		put_uint(p + 22, d->population, 4);
		put_uint(p + 26, prob, 8);
		put_uint(p + 34, d->hash_max ? UINT32_MAX : 0, 8);
		put_uint(p + 42, d->hash_max, 8);
		put_uint(p + 50, d->hash_init, 8);
		p += selector_record_len();
	}
}

int ipfix_msg_add_templates(struct ipfix_msg *m)
{
	int sampled = msg_sampled(m);
	uint16_t first = first_tid(sampled, m->biflow);
	size_t set_len = data_templates_len(sampled, m->biflow);
	size_t total = ipfix_template_set_len(sampled ? m->sampling->n_selectors : 0, m->biflow);
	uint8_t *p;

	if (m->len + total > m->cap)
		return -ENOSPC;
	p = m->buf + m->len;
	wr_put_be16(p, IPFIX_SET_TEMPLATE);
	wr_put_be16(p + 2, (uint16_t)set_len);
	p += IPFIX_SET_HEADER_LEN;
	for (uint16_t tid = first; tid < first + IPFIX_TEMPLATE_COUNT; tid++) {
		wr_put_be16(p, tid);
		wr_put_be16(p + 2, (uint16_t)tmpl_field_count(tid));
		p += 4;
		for (size_t i = 0; i < WR_ARRAY_SIZE(ipfix_elems); i++) {
			const struct ipfix_elem *e = &ipfix_elems[i];

			if (!elem_in(e, tid))
				continue;
			if (e->only & IPFIX_IN_BIFLOW) {
				/* enterprise bit, then the enterprise number */
				wr_put_be16(p, (uint16_t)(0x8000u | elem_id(e, tid)));
				wr_put_be16(p + 2, elem_len(e, tid));
				wr_put_be32(p + 4, IPFIX_PEN_REVERSE);
			} else {
				/* IANA elements: the enterprise bit stays clear. */
				wr_put_be16(p, elem_id(e, tid));
				wr_put_be16(p + 2, elem_len(e, tid));
			}
			p += elem_spec_len(e);
		}
	}
	if (sampled) {
		put_selector_report(p, m->sampling);
		m->option_records += m->sampling->n_selectors;
	}
	m->len += total;
	/* A data record after the template set needs a set of its own. */
	m->set_start = 0;
	return 0;
}

static void put_uint(uint8_t *p, uint64_t v, uint16_t len)
{
	switch (len) {
	case 1:
		p[0] = (uint8_t)v;
		break;
	case 2:
		wr_put_be16(p, (uint16_t)v);
		break;
	case 4:
		wr_put_be32(p, (uint32_t)v);
		break;
	default:
		wr_put_be64(p, v);
		break;
	}
}

static void encode_record(uint8_t *p, const struct flowcache_record *rec, uint16_t tid)
{
	for (size_t i = 0; i < WR_ARRAY_SIZE(ipfix_elems); i++) {
		const struct ipfix_elem *e = &ipfix_elems[i];
		uint16_t len = elem_len(e, tid);
		uint64_t v = 0;

		if (!elem_in(e, tid))
			continue;
		switch ((enum ipfix_field)e->field) {
		case IPFIX_F_START_MS:
			v = rec->first_ns / WR_NS_PER_MS;
			break;
		case IPFIX_F_END_MS:
			v = rec->last_ns / WR_NS_PER_MS;
			break;
		case IPFIX_F_OCTETS:
			v = rec->octets;
			break;
		case IPFIX_F_PACKETS:
			v = rec->packets;
			break;
		case IPFIX_F_SRC_ADDR:
			/* Already network byte order; IPv4 sits in the first 4 bytes. */
			memcpy(p, rec->key.src, len);
			p += len;
			continue;
		case IPFIX_F_DST_ADDR:
			memcpy(p, rec->key.dst, len);
			p += len;
			continue;
		case IPFIX_F_SRC_PORT:
			v = rec->key.sport;
			break;
		case IPFIX_F_DST_PORT:
			v = rec->key.dport;
			break;
		case IPFIX_F_PROTO:
			v = rec->key.proto;
			break;
		case IPFIX_F_TOS:
			v = rec->tos;
			break;
		case IPFIX_F_TCP_FLAGS:
			v = rec->tcp_flags;
			break;
		case IPFIX_F_END_REASON:
			v = rec->end_reason;
			break;
		case IPFIX_F_VLAN_OUTER:
			v = rec->key.vlan[0];
			break;
		case IPFIX_F_VLAN_INNER:
			v = rec->key.vlan[1];
			break;
		case IPFIX_F_SELECTOR:
			v = (uint64_t)rec->port + 1; /* one selector per input */
			break;
		case IPFIX_F_REV_OCTETS:
			v = rec->rev_octets;
			break;
		case IPFIX_F_REV_PACKETS:
			v = rec->rev_packets;
			break;
		case IPFIX_F_REV_TCP_FLAGS:
			v = rec->rev_tcp_flags;
			break;
		}
		put_uint(p, v, len);
		p += len;
	}
}

int ipfix_msg_add_record(struct ipfix_msg *m, const struct flowcache_record *rec)
{
	uint16_t tid = (uint16_t)(ipfix_template_id(rec) - IPFIX_TID_FIRST +
	                          first_tid(msg_sampled(m), m->biflow));
	size_t rec_len = tmpl_record_len(tid);
	int same_set = m->set_start != 0 && m->set_id == tid;
	size_t need = rec_len + (same_set ? 0 : IPFIX_SET_HEADER_LEN);

	if (m->len + need > m->cap)
		return -ENOSPC;
	if (!same_set) {
		m->set_start = m->len;
		m->set_id = tid;
		wr_put_be16(m->buf + m->len, tid);
		m->len += IPFIX_SET_HEADER_LEN;
	}
	encode_record(m->buf + m->len, rec, tid);
	m->len += rec_len;
	/* Kept current after every record so the buffer is always a well-formed prefix. */
	wr_put_be16(m->buf + m->set_start + 2, (uint16_t)(m->len - m->set_start));
	m->records++;
	return 0;
}

size_t ipfix_msg_finish(struct ipfix_msg *m, uint32_t export_time_s, uint32_t seq, uint32_t odid)
{
	wr_put_be16(m->buf, IPFIX_VERSION);
	wr_put_be16(m->buf + 2, (uint16_t)m->len);
	wr_put_be32(m->buf + 4, export_time_s);
	wr_put_be32(m->buf + 8, seq);
	wr_put_be32(m->buf + 12, odid);
	m->set_start = 0;
	return m->len;
}
