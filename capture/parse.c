/*
 * The packet parser: link layer -> VLAN/MPLS/PPPoE -> outer IPv4/IPv6 -> L4 ports and flags.
 *
 * Every read is checked against the captured length first, so any byte sequence is safe. The
 * flow key follows the outermost IP header: tunnels (GRE, IP-in-IP, VXLAN, ...) are accounted
 * as the outer flow, IPv6 extension headers (hop-by-hop, routing, fragment, destination
 * options) are walked to find the upper-layer protocol, and AH/ESP count as that protocol.
 * Octets are the IP length as written in the header (RFC 7012 octetDeltaCount), not the
 * captured length; a zero length (TSO captures, jumbograms without the option) falls back to
 * the length on the wire. A header that cannot be walked to the end leaves ports at 0 and the
 * protocol at the last next-header value read, which is what independent decoders report too.
 */
#include "capture.h"
#include "capture_internal.h"

#include <string.h>

#include "wr.h"

#define ETH_P_IPV4   0x0800
#define ETH_P_IPV6   0x86DD
#define ETH_P_8021Q  0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ1  0x9100 /* pre-standard QinQ tag types still seen on the wire */
#define ETH_P_QINQ2  0x9200
#define ETH_P_QINQ3  0x9300
#define ETH_P_MPLS   0x8847
#define ETH_P_MPLSM  0x8848
#define ETH_P_PPPOES 0x8864

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ICMP_    1
#define IPPROTO_TCP_     6
#define IPPROTO_UDP_     17
#define IPPROTO_DCCP_    33
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAG_    44
#define IPPROTO_ICMPV6_  58
#define IPPROTO_DSTOPTS_ 60
#define IPPROTO_SCTP_    132
#define IPPROTO_UDPLITE_ 136

#define MPLS_MAX_LABELS   16  /* deeper stacks are treated as malformed */
#define IPV6_MAX_EXT_HDRS 256 /* bounds the work per packet; real chains are short */

static const char *const verdict_names[CAPTURE_VERDICT_MAX] = {
    [CAPTURE_OK] = "ok",
    [CAPTURE_NON_IP] = "non_ip",
    [CAPTURE_UNSUPPORTED_LINK] = "unsupported_link",
    [CAPTURE_L2_TRUNCATED] = "l2_truncated",
    [CAPTURE_IP_TRUNCATED] = "ip_truncated",
    [CAPTURE_IP_BAD_VERSION] = "ip_bad_version",
    [CAPTURE_IP_BAD_HEADER_LEN] = "ip_bad_header_len",
};

const char *capture_verdict_name(enum capture_verdict v)
{
	return (unsigned)v < CAPTURE_VERDICT_MAX ? verdict_names[v] : "unknown";
}

int capture_verdict_is_malformed(enum capture_verdict v)
{
	return v >= CAPTURE_L2_TRUNCATED && v < CAPTURE_VERDICT_MAX;
}

/* Ports of protocols that carry them in their first four bytes. */
static int proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_ || proto == IPPROTO_SCTP_ ||
	       proto == IPPROTO_DCCP_ || proto == IPPROTO_UDPLITE_;
}

/* Reads ports and TCP flags from the L4 header at p[off..end). */
static void parse_l4(const uint8_t *p, uint32_t off, uint32_t end, struct capture_meta *m)
{
	uint8_t proto = m->key.proto;

	if (proto == IPPROTO_ICMP_ || proto == IPPROTO_ICMPV6_) {
		/* Not part of the key (ICMP flows keep ports 0): the record reports the type and
		 * code of its first packet. */
		if (off + 2 <= end)
			m->icmp = wr_be16(p + off);
		return;
	}
	if (!proto_has_ports(proto))
		return;
	if (off + 4 > end) {
		m->flags |= CAPTURE_F_L4_TRUNCATED;
		return;
	}
	m->key.sport = wr_be16(p + off);
	m->key.dport = wr_be16(p + off + 2);
	if (proto == IPPROTO_TCP_) {
		if (off + 14 > end) {
			m->flags |= CAPTURE_F_L4_TRUNCATED;
			return;
		}
		m->tcp_flags = (uint16_t)((p[off + 12] & 0x01) << 8 | p[off + 13]);
	}
}

/* Looks for the Jumbo Payload option (RFC 2675) in a hop-by-hop header of hlen bytes. */
static uint32_t ipv6_jumbo_len(const uint8_t *h, uint32_t hlen)
{
	uint32_t i = 2;

	while (i < hlen) {
		uint8_t type = h[i];

		if (type == 0) { /* Pad1 */
			i++;
			continue;
		}
		if (i + 2 > hlen || i + 2 + h[i + 1] > hlen)
			break;
		if (type == 0xC2 && h[i + 1] == 4)
			return wr_be32(h + i + 2);
		i += 2 + h[i + 1];
	}
	return 0;
}

static enum capture_verdict parse_ipv4(const struct capture_pkt *pkt, uint32_t off,
                                       struct capture_frag_table *frags, struct capture_meta *m)
{
	const uint8_t *p = pkt->data;
	uint32_t len = pkt->caplen;
	uint32_t ihl, tot_len, end, frag;

	if (off + 20 > len)
		return CAPTURE_IP_TRUNCATED;
	if (p[off] >> 4 != 4)
		return CAPTURE_IP_BAD_VERSION;
	ihl = (uint32_t)(p[off] & 0x0F) * 4;
	if (ihl < 20)
		return CAPTURE_IP_BAD_HEADER_LEN;

	m->key.ip_version = 4;
	m->ip_id = wr_be16(p + off + 4);
	m->tos = p[off + 1];
	m->ttl = p[off + 8];
	m->key.proto = p[off + 9];
	memcpy(m->key.src, p + off + 12, 4);
	memcpy(m->key.dst, p + off + 16, 4);

	tot_len = wr_be16(p + off + 2);
	if (tot_len == 0) {
		/* TSO/BIG TCP capture taken on the sending host: the length is the frame's. */
		m->l3_octets = pkt->wirelen > off ? pkt->wirelen - off : 0;
		m->flags |= CAPTURE_F_LENGTH_FROM_WIRE;
		end = len;
	} else {
		m->l3_octets = tot_len;
		end = off + tot_len < len ? off + tot_len : len;
	}

	frag = wr_be16(p + off + 6);
	if (frag & 0x3FFF) { /* MF set or offset non-zero */
		struct capture_frag_key fk;

		m->flags |= CAPTURE_F_FRAGMENT;
		capture_frag_key_init(&fk, &m->key, m->key.proto, wr_be16(p + off + 4));
		if (frag & 0x1FFF) {
			m->flags |= CAPTURE_F_NONFIRST_FRAG;
			capture_frag_lookup(frags, &fk, m);
			return CAPTURE_OK;
		}
		if (off + ihl <= end)
			parse_l4(p, off + ihl, end, m);
		else if (proto_has_ports(m->key.proto))
			m->flags |= CAPTURE_F_L4_TRUNCATED;
		capture_frag_insert(frags, &fk, m);
		return CAPTURE_OK;
	}
	if (off + ihl > end) {
		if (proto_has_ports(m->key.proto))
			m->flags |= CAPTURE_F_L4_TRUNCATED;
		return CAPTURE_OK;
	}
	parse_l4(p, off + ihl, end, m);
	return CAPTURE_OK;
}

static int ipv6_is_walked_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_DSTOPTS_ ||
	       nh == IPPROTO_FRAG_;
}

static enum capture_verdict parse_ipv6(const struct capture_pkt *pkt, uint32_t off,
                                       struct capture_frag_table *frags, struct capture_meta *m)
{
	const uint8_t *p = pkt->data;
	uint32_t len = pkt->caplen;
	uint32_t plen, end, cur, i, hlen;
	struct capture_frag_key fk;
	int first_frag = 0, cut = 0;
	uint8_t nh;

	if (off + 40 > len)
		return CAPTURE_IP_TRUNCATED;
	if (p[off] >> 4 != 6)
		return CAPTURE_IP_BAD_VERSION;

	m->key.ip_version = 6;
	m->tos = (uint8_t)(wr_be16(p + off) >> 4);
	m->ttl = p[off + 7];
	memcpy(m->key.src, p + off + 8, 16);
	memcpy(m->key.dst, p + off + 24, 16);
	plen = wr_be16(p + off + 4);
	nh = p[off + 6];
	m->l3_octets = plen + 40;
	end = off + 40 + plen < len ? off + 40 + plen : len;
	if (plen == 0 && nh == IPPROTO_HOPOPTS_ && off + 42 <= len &&
	    off + 40 + ((uint32_t)p[off + 41] + 1) * 8 <= len) {
		/* Payload length 0: a jumbogram if hop-by-hop carries a Jumbo Payload option
		 * (RFC 2675); otherwise the payload is empty, as the header says. */
		uint32_t jumbo = ipv6_jumbo_len(p + off + 40, ((uint32_t)p[off + 41] + 1) * 8);

		if (jumbo != 0) {
			m->l3_octets = jumbo <= UINT32_MAX - 40 ? jumbo + 40 : UINT32_MAX;
			end = jumbo < len - off - 40 ? off + 40 + jumbo : len;
		}
	}

	cur = off + 40;
	for (i = 0; i < IPV6_MAX_EXT_HDRS && ipv6_is_walked_ext(nh); i++) {
		if (cur >= end) {
			cut = 1;
			break;
		}
		if (nh == IPPROTO_FRAG_) {
			uint16_t fo;

			if (cur + 8 > end) {
				nh = p[cur]; /* the next-header byte is there, the rest is not */
				cut = 1;
				break;
			}
			fo = wr_be16(p + cur + 2);
			m->flags |= CAPTURE_F_FRAGMENT;
			capture_frag_key_init(&fk, &m->key, p[cur], wr_be32(p + cur + 4));
			if (fo & 0xFFF8) {
				m->key.proto = p[cur];
				m->flags |= CAPTURE_F_NONFIRST_FRAG;
				capture_frag_lookup(frags, &fk, m);
				return CAPTURE_OK;
			}
			first_frag = fo & 1;
			hlen = 8;
		} else {
			hlen = cur + 2 <= end ? ((uint32_t)p[cur + 1] + 1) * 8 : UINT32_MAX;
			if (hlen > end - cur) {
				nh = p[cur];
				cut = 1;
				break;
			}
		}
		nh = p[cur];
		cur += hlen;
	}
	/* A chain that could not be walked to its end reports the last next-header read, even
	 * one read from a header cut short, and no ports. */
	m->key.proto = nh;
	if (cut || ipv6_is_walked_ext(nh)) {
		if (proto_has_ports(nh))
			m->flags |= CAPTURE_F_L4_TRUNCATED;
	} else {
		parse_l4(p, cur, end, m);
	}
	if (first_frag)
		capture_frag_insert(frags, &fk, m);
	return CAPTURE_OK;
}

/* Dispatches on the IP version nibble (raw IP links, MPLS payloads). */
static enum capture_verdict parse_ip_by_nibble(const struct capture_pkt *pkt, uint32_t off,
                                               struct capture_frag_table *frags,
                                               struct capture_meta *m)
{
	if (off >= pkt->caplen)
		return CAPTURE_IP_TRUNCATED;
	switch (pkt->data[off] >> 4) {
	case 4:
		return parse_ipv4(pkt, off, frags, m);
	case 6:
		return parse_ipv6(pkt, off, frags, m);
	default:
		return CAPTURE_IP_BAD_VERSION;
	}
}

/* BSD loopback address family, in either byte order: IPv4 is 2 everywhere, IPv6 differs. */
static uint16_t null_family_to_ethertype(uint32_t af)
{
	if (af & 0xFFFF0000u)
		af = __builtin_bswap32(af);
	switch (af) {
	case 2:
		return ETH_P_IPV4;
	case 10: /* Linux */
	case 24: /* NetBSD, OpenBSD */
	case 28: /* FreeBSD */
	case 30: /* Darwin */
		return ETH_P_IPV6;
	default:
		return 0;
	}
}

/* Walks an ethertype chain (VLAN tags, MPLS, PPPoE) starting at off to the IP header. */
static enum capture_verdict parse_ethertype(const struct capture_pkt *pkt, uint16_t etype,
                                            uint32_t off, struct capture_frag_table *frags,
                                            struct capture_meta *m)
{
	const uint8_t *p = pkt->data;
	uint32_t len = pkt->caplen;
	unsigned labels;

	for (;;) {
		switch (etype) {
		case ETH_P_IPV4:
			return parse_ipv4(pkt, off, frags, m);
		case ETH_P_IPV6:
			return parse_ipv6(pkt, off, frags, m);
		case ETH_P_8021Q:
		case ETH_P_8021AD:
		case ETH_P_QINQ1:
		case ETH_P_QINQ2:
		case ETH_P_QINQ3:
			if (off + 4 > len)
				return CAPTURE_L2_TRUNCATED;
			if (m->key.vlan_depth < CAPTURE_VLAN_MAX)
				m->key.vlan[m->key.vlan_depth] = wr_be16(p + off) & 0x0FFF;
			if (m->key.vlan_depth < UINT8_MAX)
				m->key.vlan_depth++;
			etype = wr_be16(p + off + 2);
			off += 4;
			continue;
		case ETH_P_MPLS:
		case ETH_P_MPLSM:
			for (labels = 0;; labels++) {
				if (labels == MPLS_MAX_LABELS || off + 4 > len)
					return CAPTURE_L2_TRUNCATED;
				if (labels == 0)
					m->mpls_top = wr_be32(p + off) >> 8;
				off += 4;
				if (p[off - 2] & 0x01) /* bottom of stack */
					break;
			}
			if (off >= len)
				return CAPTURE_L2_TRUNCATED;
			/* No payload type in MPLS: IP is recognised by its version nibble; anything
			 * else (pseudowires, control words) is not IP. */
			if (p[off] >> 4 != 4 && p[off] >> 4 != 6)
				return CAPTURE_NON_IP;
			return parse_ip_by_nibble(pkt, off, frags, m);
		case ETH_P_PPPOES:
			if (off + 8 > len)
				return CAPTURE_L2_TRUNCATED;
			switch (wr_be16(p + off + 6)) {
			case PPP_IPV4:
				return parse_ipv4(pkt, off + 8, frags, m);
			case PPP_IPV6:
				return parse_ipv6(pkt, off + 8, frags, m);
			default:
				return CAPTURE_NON_IP;
			}
		default:
			return CAPTURE_NON_IP;
		}
	}
}

/* A multiply-xorshift finaliser for the upper 32 bits (the hash): the endpoints are already
 * mixed, so one round spreads every input bit over them. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xD6E8FEB86659FD93ULL;
	x ^= x >> 32;
	return x;
}

/* One endpoint, its address as two 64-bit halves (IPv4: the address, then 0): both halves and
 * the port through a multiply each, then an xorshift, so that the sum of two endpoints is not
 * linear in them (with a plain product, (a, b) and (a + 1, b - 1) would collide). */
static inline uint64_t endpoint_hash(uint64_t lo, uint64_t hi, uint16_t port)
{
	uint64_t x =
	    (lo ^ (uint64_t)port << 48) * 0x9E3779B97F4A7C15ULL ^ hi * 0xC2B2AE3D27D4EB4FULL;

	return x ^ x >> 29;
}

/* The flow hash from the key's parts (vlan: the 4 tags as one 64-bit word). Inlined into the
 * IPv4 fast path, where the upper address halves and the VLAN word are constant 0. */
static inline uint32_t flow_hash(uint64_t src_lo, uint64_t src_hi, uint16_t sport, uint64_t dst_lo,
                                 uint64_t dst_hi, uint16_t dport, uint64_t vlan, uint8_t proto,
                                 uint8_t vlan_depth)
{
	/* The endpoints are combined with +, which commutes, so A->B and B->A hash alike. */
	uint64_t h = endpoint_hash(src_lo, src_hi, sport) + endpoint_hash(dst_lo, dst_hi, dport);

	h ^= (vlan ^ (uint64_t)proto << 56 ^ (uint64_t)vlan_depth << 48) * 0x165667B19E3779F9ULL;
	return (uint32_t)(mix64(h) >> 32);
}

uint32_t capture_flow_hash(const struct capture_flow_key *k)
{
	uint64_t a[4], v;

	memcpy(a, k->src, 16);
	memcpy(a + 2, k->dst, 16);
	memcpy(&v, k->vlan, sizeof(v));
	return flow_hash(a[0], a[1], k->sport, a[2], a[3], k->dport, v, k->proto, k->vlan_depth);
}

/*
 * The common case in one straight run: untagged Ethernet, IPv4 without options, not a
 * fragment, a non-zero length, and a TCP or UDP header wholly inside it. Returns 1 with m
 * filled exactly as the general path would fill it, or 0 to take the general path.
 */
static inline int parse_fast_ipv4(const struct capture_pkt *pkt, struct capture_meta *m)
{
	const uint8_t *p = pkt->data, *ip = p + 14;
	uint32_t tot_len, end;
	uint64_t src, dst;
	uint8_t proto;

	if (pkt->linktype != CAPTURE_LINK_ETHERNET || pkt->caplen < 14 + 20 + 14 ||
	    wr_be16(p + 12) != ETH_P_IPV4 || ip[0] != 0x45 || (wr_be16(ip + 6) & 0x3FFF) != 0)
		return 0;
	tot_len = wr_be16(ip + 2);
	proto = ip[9];
	end = 14 + tot_len < pkt->caplen ? 14 + tot_len : pkt->caplen;
	if (proto == IPPROTO_TCP_) {
		if (34 + 14 > end)
			return 0;
		m->tcp_flags = (uint16_t)((ip[20 + 12] & 0x01) << 8 | ip[20 + 13]);
	} else if (proto != IPPROTO_UDP_ || 34 + 4 > end) {
		return 0;
	}
	m->key.ip_version = 4;
	m->key.proto = proto;
	m->ip_id = wr_be16(ip + 4);
	m->tos = ip[1];
	m->ttl = ip[8];
	memcpy(m->key.src, ip + 12, 4);
	memcpy(m->key.dst, ip + 16, 4);
	m->l3_octets = tot_len;
	m->key.sport = wr_be16(ip + 20);
	m->key.dport = wr_be16(ip + 22);
	/* capture_flow_hash() of this key, with what is known to be 0 left out by the compiler */
	memcpy(&src, m->key.src, 8); /* as capture_flow_hash() reads them */
	memcpy(&dst, m->key.dst, 8);
	m->hash = flow_hash(src, 0, m->key.sport, dst, 0, m->key.dport, 0, proto, 0);
	return 1;
}

enum capture_verdict capture_parse(const struct capture_pkt *pkt, struct capture_frag_table *frags,
                                   struct capture_meta *m)
{
	const uint8_t *p = pkt->data;
	uint32_t len = pkt->caplen;
	enum capture_verdict v;
	uint16_t etype;

	memset(m, 0, sizeof(*m));
	m->ts_ns = pkt->ts_ns;
	m->port = pkt->port;

	if (WR_LIKELY(parse_fast_ipv4(pkt, m)))
		return CAPTURE_OK;
	switch (pkt->linktype) {
	case CAPTURE_LINK_ETHERNET:
		if (len < 14)
			return CAPTURE_L2_TRUNCATED;
		v = parse_ethertype(pkt, wr_be16(p + 12), 14, frags, m);
		break;
	case CAPTURE_LINK_SLL:
		if (len < 16)
			return CAPTURE_L2_TRUNCATED;
		v = parse_ethertype(pkt, wr_be16(p + 14), 16, frags, m);
		break;
	case CAPTURE_LINK_SLL2:
		if (len < 20)
			return CAPTURE_L2_TRUNCATED;
		v = parse_ethertype(pkt, wr_be16(p), 20, frags, m);
		break;
	case CAPTURE_LINK_RAW:
	case CAPTURE_LINK_IPV4:
	case CAPTURE_LINK_IPV6:
		v = parse_ip_by_nibble(pkt, 0, frags, m);
		break;
	case CAPTURE_LINK_NULL:
	case CAPTURE_LINK_LOOP:
		if (len < 4)
			return CAPTURE_L2_TRUNCATED;
		etype = null_family_to_ethertype(pkt->linktype == CAPTURE_LINK_LOOP ? wr_be32(p)
		                                                                    : wr_le32(p));
		v = etype ? parse_ethertype(pkt, etype, 4, frags, m) : CAPTURE_NON_IP;
		break;
	default:
		return CAPTURE_UNSUPPORTED_LINK;
	}
	if (v == CAPTURE_OK)
		m->hash = capture_flow_hash(&m->key);
	return v;
}
