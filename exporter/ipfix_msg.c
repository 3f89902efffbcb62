/*
 * IPFIX message builder (RFC 7011): message header, one template set carrying the six
 * templates in use, an options template set per options template (statistics, selector
 * report, sampler), and data sets
 * whose id is the template id. Pure: it writes into the caller's buffer and never does I/O.
 *
 * The six templates differ only in the address family and in how many VLAN tags they carry,
 * so one table of elements describes them all: each entry gives the IANA element and length
 * for IPv4 and for IPv6 and the VLAN depth from which it is present, and whether it belongs
 * only to the templates of sampled records or of biflows. The same table drives the template
 * records, the length of a data record and the encoding of its fields, so they cannot drift
 * apart. Sets are not padded.
 *
 * Template ids: 256 + 6 * sampled + 3 * IPv6 + VLAN depth for uniflows (256..267), the same
 * from IPFIX_TID_BIFLOW for biflows (270..281); 268 is the selector report, 282..284 the
 * statistics (RFC 7011 section 4), 285 the sampler records.
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
	IPFIX_F_INGRESS,
	IPFIX_F_TTL_MIN,
	IPFIX_F_TTL_MAX,
	IPFIX_F_ICMP,
	IPFIX_F_MPLS,
	IPFIX_F_VLAN_OUTER,
	IPFIX_F_VLAN_INNER,
	IPFIX_F_SELECTOR,
	IPFIX_F_REV_OCTETS,
	IPFIX_F_REV_PACKETS,
	IPFIX_F_REV_TCP_FLAGS,
};

#define IPFIX_ID_START_NS 156 /* flowStartNanoseconds, in place of flowStartMilliseconds */
#define IPFIX_ID_END_NS   157 /* flowEndNanoseconds */
#define NTP_UNIX_OFFSET   2208988800ULL /* seconds from 1900 (NTP era 0) to 1970 */

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
    {IPFIX_F_INGRESS, 0, 10, 4, 10, 4, 0},      /* ingressInterface */
    {IPFIX_F_TTL_MIN, 0, 52, 1, 52, 1, 0},      /* minimumTTL */
    {IPFIX_F_TTL_MAX, 0, 53, 1, 53, 1, 0},      /* maximumTTL */
    {IPFIX_F_ICMP, 0, 32, 2, 139, 2, 0},        /* icmpTypeCodeIPv4 / icmpTypeCodeIPv6 */
    {IPFIX_F_MPLS, 0, 70, 3, 70, 3, 0},         /* mplsTopLabelStackSection */
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

static uint16_t elem_id(const struct ipfix_elem *e, uint16_t tid, int ns)
{
	if (ns && e->field == IPFIX_F_START_MS)
		return IPFIX_ID_START_NS;
	if (ns && e->field == IPFIX_F_END_MS)
		return IPFIX_ID_END_NS;
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

/* Options templates: scope field first (one scope field each), then the others. */
struct opt_field {
	uint16_t id, len;
};

struct opt_template {
	uint16_t tid;
	const struct opt_field *f;
	unsigned n;
};

static const struct opt_field selector_fields[] = {
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

/* The same selectors in the layout NetFlow v9 collectors read (nfdump 1.7 among them): the
 * observation domain as scope, selectorId an ordinary field, and each selector's mean rate
 * as packets taken (interval) and passed over (space). nfdump 1.7 reads only the first
 * options template of a set and the first record of a data set, so this template has a set
 * of its own and so has each record. */
static const struct opt_field sampler_fields[] = {
    {149, 4}, /* observationDomainId (scope) */
    {302, 8}, /* selectorId */
    {304, 2}, /* selectorAlgorithm */
    {305, 4}, /* samplingPacketInterval */
    {306, 4}, /* samplingPacketSpace */
};

/* RFC 7011 4.1: Metering Process Statistics */
static const struct opt_field mstats_fields[] = {
    {149, 4}, /* observationDomainId (scope) */
    {41, 8},  /* exportedMessageTotalCount */
    {42, 8},  /* exportedFlowRecordTotalCount */
    {40, 8},  /* exportedOctetTotalCount */
};

/* RFC 7011 4.2: Metering Process Reliability Statistics */
static const struct opt_field mrel_fields[] = {
    {149, 4}, /* observationDomainId (scope) */
    {164, 8}, /* ignoredPacketTotalCount */
    {165, 8}, /* ignoredOctetTotalCount */
    {152, 8}, /* flowStartMilliseconds: time the first packet was ignored */
    {153, 8}, /* flowEndMilliseconds: time the last packet was ignored */
};

/* RFC 7011 4.3: Exporting Process Reliability Statistics */
static const struct opt_field erel_fields[] = {
    {144, 4}, /* exportingProcessId (scope) */
    {166, 8}, /* notSentFlowTotalCount */
    {167, 8}, /* notSentPacketTotalCount */
    {168, 8}, /* notSentOctetTotalCount */
    {152, 8}, /* flowStartMilliseconds: time the first flow was not sent */
    {153, 8}, /* flowEndMilliseconds: time the last flow was not sent */
};

static const struct opt_template selector_tmpl = {IPFIX_TID_SELECTOR, selector_fields,
                                                  WR_ARRAY_SIZE(selector_fields)};
static const struct opt_template sampler_tmpl = {IPFIX_TID_SAMPLER, sampler_fields,
                                                 WR_ARRAY_SIZE(sampler_fields)};
static const struct opt_template stats_tmpls[] = {
    {IPFIX_TID_MSTATS, mstats_fields, WR_ARRAY_SIZE(mstats_fields)},
    {IPFIX_TID_MREL, mrel_fields, WR_ARRAY_SIZE(mrel_fields)},
    {IPFIX_TID_EREL, erel_fields, WR_ARRAY_SIZE(erel_fields)},
};

static size_t opt_tmpl_len(const struct opt_template *t)
{
	return 6 + 4 * (size_t)t->n;
}

static size_t opt_record_len(const struct opt_template *t)
{
	size_t len = 0;

	for (unsigned i = 0; i < t->n; i++)
		len += t->f[i].len;
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

/* Bytes of the options templates (statistics, and the two selector layouts when sampled),
 * each in a set of its own: nfdump 1.7 reads only the first template of an options template
 * set, and pmacct 1.7 misreads the ones after the first. */
static size_t options_templates_len(int sampled)
{
	size_t len = 0;

	if (sampled)
		len += 2 * IPFIX_SET_HEADER_LEN + opt_tmpl_len(&selector_tmpl) +
		       opt_tmpl_len(&sampler_tmpl);
	for (size_t i = 0; i < WR_ARRAY_SIZE(stats_tmpls); i++)
		len += IPFIX_SET_HEADER_LEN + opt_tmpl_len(&stats_tmpls[i]);
	return len;
}

size_t ipfix_template_set_len(uint32_t n_selectors, int biflow)
{
	size_t len =
	    data_templates_len(n_selectors > 0, biflow) + options_templates_len(n_selectors > 0);

	if (n_selectors)
		len += IPFIX_SET_HEADER_LEN + (size_t)n_selectors * opt_record_len(&selector_tmpl) +
		       (size_t)n_selectors * (IPFIX_SET_HEADER_LEN + opt_record_len(&sampler_tmpl));
	return len;
}

size_t ipfix_stats_len(void)
{
	size_t len = 0;

	for (size_t i = 0; i < WR_ARRAY_SIZE(stats_tmpls); i++)
		len += IPFIX_SET_HEADER_LEN + opt_record_len(&stats_tmpls[i]);
	return len;
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
	m->ns = (flags & IPFIX_MSG_NS) != 0;
	m->option_records = 0;
	m->buf = buf;
	/* The message length field is 16 bits. */
	m->cap = cap < UINT16_MAX ? cap : UINT16_MAX;
	m->len = IPFIX_HEADER_LEN;
	m->set_start = 0;
	m->set_id = 0;
	m->records = 0;
	m->packets = 0;
	m->octets = 0;
}

static void put_uint(uint8_t *p, uint64_t v, uint16_t len);

/* An options template in an options template set of its own. */
static uint8_t *put_opt_template(uint8_t *p, const struct opt_template *t)
{
	wr_put_be16(p, IPFIX_SET_OPTIONS);
	wr_put_be16(p + 2, (uint16_t)(IPFIX_SET_HEADER_LEN + opt_tmpl_len(t)));
	p += IPFIX_SET_HEADER_LEN;
	wr_put_be16(p, t->tid);
	wr_put_be16(p + 2, (uint16_t)t->n);
	wr_put_be16(p + 4, 1); /* scope field count */
	p += 6;
	for (unsigned i = 0; i < t->n; i++, p += 4) {
		wr_put_be16(p, t->f[i].id);
		wr_put_be16(p + 2, t->f[i].len);
	}
	return p;
}

/* One options record: v[i] is the value of field i. */
static uint8_t *put_opt_record(uint8_t *p, const struct opt_template *t, const uint64_t *v)
{
	for (unsigned i = 0; i < t->n; i++) {
		put_uint(p, v[i], t->f[i].len);
		p += t->f[i].len;
	}
	return p;
}

/* The selector report's records: one per selector. */
static uint8_t *put_selector_records(uint8_t *p, const struct ipfix_sampling *s)
{
	size_t set_len = IPFIX_SET_HEADER_LEN + s->n_selectors * opt_record_len(&selector_tmpl);

	wr_put_be16(p, IPFIX_TID_SELECTOR);
	wr_put_be16(p + 2, (uint16_t)set_len);
	p += IPFIX_SET_HEADER_LEN;
	for (uint32_t sel = 1; sel <= s->n_selectors; sel++) {
		const struct ipfix_selector *d = &s->sel[sel - 1];
		uint64_t v[WR_ARRAY_SIZE(selector_fields)] = {sel,
		                                              d->algorithm,
		                                              d->interval,
		                                              d->space,
		                                              d->size,
		                                              d->population,
		                                              0, /* the probability's bits, below */
		                                              d->hash_max ? UINT32_MAX : 0,
		                                              d->hash_max,
		                                              d->hash_init};

		memcpy(&v[6], &d->probability, 8); /* IEEE 754 binary64, sent big-endian */
		p = put_opt_record(p, &selector_tmpl, v);
	}
	return p;
}

/* A selector's mean rate as packets taken and passed over: exact for count-based and
 * n-out-of-N selection, one in round(1/p) for probabilities and hash ranges. */
static void selector_rate(const struct ipfix_selector *d, uint32_t *interval, uint32_t *space)
{
	double k;

	switch (d->algorithm) {
	case 1: /* systematic count-based */
		*interval = d->interval;
		*space = d->space;
		return;
	case 3: /* random n-out-of-N */
		*interval = d->size;
		*space = d->population - d->size;
		return;
	case 4: /* uniform probabilistic */
		k = d->probability > 0 ? 1.0 / d->probability : 1.0;
		break;
	default: /* hash-based: the selected share of the hash range */
		k = 4294967296.0 / ((double)d->hash_max + 1.0);
		break;
	}
	*interval = 1;
	*space = k < 1.5 ? 0 : k >= (double)UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)(k + 0.5) - 1;
}

/* The same selectors in the NetFlow v9 collectors' layout: a data set per record. */
static uint8_t *put_sampler_records(uint8_t *p, const struct ipfix_sampling *s)
{
	for (uint32_t sel = 1; sel <= s->n_selectors; sel++) {
		const struct ipfix_selector *d = &s->sel[sel - 1];
		uint32_t interval, space;

		selector_rate(d, &interval, &space);
		uint64_t v[WR_ARRAY_SIZE(sampler_fields)] = {s->odid, sel, d->algorithm, interval,
		                                             space};

		wr_put_be16(p, IPFIX_TID_SAMPLER);
		wr_put_be16(p + 2,
		            (uint16_t)(IPFIX_SET_HEADER_LEN + opt_record_len(&sampler_tmpl)));
		p = put_opt_record(p + IPFIX_SET_HEADER_LEN, &sampler_tmpl, v);
	}
	return p;
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
				wr_put_be16(p, (uint16_t)(0x8000u | elem_id(e, tid, m->ns)));
				wr_put_be16(p + 2, elem_len(e, tid));
				wr_put_be32(p + 4, IPFIX_PEN_REVERSE);
			} else {
				/* IANA elements: the enterprise bit stays clear. */
				wr_put_be16(p, elem_id(e, tid, m->ns));
				wr_put_be16(p + 2, elem_len(e, tid));
			}
			p += elem_spec_len(e);
		}
	}
	for (size_t i = 0; i < WR_ARRAY_SIZE(stats_tmpls); i++)
		p = put_opt_template(p, &stats_tmpls[i]);
	if (sampled) {
		p = put_opt_template(p, &selector_tmpl);
		p = put_opt_template(p, &sampler_tmpl);
		p = put_selector_records(p, m->sampling);
		put_sampler_records(p, m->sampling);
		m->option_records += 2 * m->sampling->n_selectors;
	}
	m->len += total;
	/* A data record after the template set needs a set of its own. */
	m->set_start = 0;
	return 0;
}

static uint64_t ns_to_ms(uint64_t ns)
{
	return ns / WR_NS_PER_MS;
}

int ipfix_msg_add_stats(struct ipfix_msg *m, const struct ipfix_stats_report *r)
{
	const uint64_t v[][6] = {
	    {r->odid, r->exported_messages, r->exported_records, r->exported_octets},
	    {r->odid, r->ignored_packets, r->ignored_octets, ns_to_ms(r->ignored_first_ns),
	     ns_to_ms(r->ignored_last_ns)},
	    {r->exporting_process_id, r->not_sent_flows, r->not_sent_packets, r->not_sent_octets,
	     ns_to_ms(r->not_sent_first_ns), ns_to_ms(r->not_sent_last_ns)},
	};
	uint8_t *p;

	if (m->len + ipfix_stats_len() > m->cap)
		return -ENOSPC;
	p = m->buf + m->len;
	for (size_t i = 0; i < WR_ARRAY_SIZE(stats_tmpls); i++) {
		wr_put_be16(p, stats_tmpls[i].tid);
		wr_put_be16(p + 2,
		            (uint16_t)(IPFIX_SET_HEADER_LEN + opt_record_len(&stats_tmpls[i])));
		p = put_opt_record(p + IPFIX_SET_HEADER_LEN, &stats_tmpls[i], v[i]);
	}
	m->len += ipfix_stats_len();
	m->option_records += WR_ARRAY_SIZE(stats_tmpls);
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

/* flowStart/EndNanoseconds: dateTimeNanoseconds, the NTP timestamp format (RFC 7011 6.1.10):
 * seconds since 1900 in the upper 32 bits, the fraction of a second in units of 2^-32 s. */
static uint64_t ntp_time(uint64_t unix_ns)
{
	uint64_t frac = ((unix_ns % WR_NS_PER_S) << 32) / WR_NS_PER_S;

	return (unix_ns / WR_NS_PER_S + NTP_UNIX_OFFSET) << 32 | frac;
}

static void encode_record(uint8_t *p, const struct flowcache_record *rec, uint16_t tid, int ns)
{
	for (size_t i = 0; i < WR_ARRAY_SIZE(ipfix_elems); i++) {
		const struct ipfix_elem *e = &ipfix_elems[i];
		uint16_t len = elem_len(e, tid);
		uint64_t v = 0;

		if (!elem_in(e, tid))
			continue;
		switch ((enum ipfix_field)e->field) {
		case IPFIX_F_START_MS:
			v = ns ? ntp_time(rec->first_ns) : ns_to_ms(rec->first_ns);
			break;
		case IPFIX_F_END_MS:
			v = ns ? ntp_time(rec->last_ns) : ns_to_ms(rec->last_ns);
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
		case IPFIX_F_INGRESS:
			v = (uint64_t)rec->port + 1; /* inputs are numbered from 1 */
			break;
		case IPFIX_F_TTL_MIN:
			v = rec->ttl_min;
			break;
		case IPFIX_F_TTL_MAX:
			v = rec->ttl_max;
			break;
		case IPFIX_F_ICMP:
			v = rec->icmp;
			break;
		case IPFIX_F_MPLS:
			p[0] = (uint8_t)(rec->mpls_top >> 16);
			p[1] = (uint8_t)(rec->mpls_top >> 8);
			p[2] = (uint8_t)rec->mpls_top;
			p += len;
			continue;
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
	encode_record(m->buf + m->len, rec, tid, m->ns);
	m->len += rec_len;
	m->packets += rec->packets + rec->rev_packets;
	m->octets += rec->octets + rec->rev_octets;
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
