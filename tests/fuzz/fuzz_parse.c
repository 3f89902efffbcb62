/*
 * Fuzz target: the packet parser (capture_parse), on every link type it decodes.
 *
 * Input: the first byte picks the link type (its value modulo 9: NULL, Ethernet, raw IP,
 * OpenBSD loopback, Linux cooked v1, IPv4, IPv6, Linux cooked v2, or a type the parser does
 * not decode) and the rest is one frame. With bit 7 of the first byte set, the rest is
 * several frames instead, each "link byte, 16-bit captured length, 16-bit extra wire length,
 * bytes", parsed in order through one fragment table, so that fragments can meet.
 *
 * Beyond not crashing, every verdict must hold what capture.h promises of it (a key of IP
 * version 4 or 6, zero bytes where the key has no data, the hash of the key, direction
 * symmetric), and the same network-layer bytes must parse alike behind every link header that
 * can carry them: an Ethernet frame, the same payload behind Linux cooked v1 and v2 headers
 * and, for IP, behind BSD and OpenBSD loopback headers; a raw IP packet behind an Ethernet
 * header. That compares the Ethernet fast path with the general path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "fuzz.h"
#include "wr.h"

static const uint16_t links[] = {
    CAPTURE_LINK_NULL, CAPTURE_LINK_ETHERNET, CAPTURE_LINK_RAW,
    CAPTURE_LINK_LOOP, CAPTURE_LINK_SLL,      CAPTURE_LINK_IPV4,
    CAPTURE_LINK_IPV6, CAPTURE_LINK_SLL2,     160 /* not decoded */
};

static int has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 33 || proto == 132 || proto == 136;
}

/* What capture.h promises of a verdict and, for CAPTURE_OK, of the metadata. */
static void check_meta(const struct capture_pkt *pkt, enum capture_verdict v,
                       const struct capture_meta *m)
{
	struct capture_flow_key rev;
	static const uint8_t zero[16];

	FUZZ_CHECK((unsigned)v < CAPTURE_VERDICT_MAX);
	FUZZ_CHECK(strcmp(capture_verdict_name(v), "unknown") != 0);
	if (v != CAPTURE_OK)
		return;
	FUZZ_CHECK(m->ts_ns == pkt->ts_ns && m->port == pkt->port);
	FUZZ_CHECK(m->key.ip_version == 4 || m->key.ip_version == 6);
	if (m->key.ip_version == 4) {
		FUZZ_CHECK(memcmp(m->key.src + 4, zero, 12) == 0);
		FUZZ_CHECK(memcmp(m->key.dst + 4, zero, 12) == 0);
	} else {
		FUZZ_CHECK(m->ip_id == 0);
	}
	FUZZ_CHECK(m->key.pad == 0 && m->pad == 0);
	for (unsigned i = 0; i < CAPTURE_VLAN_MAX; i++) {
		FUZZ_CHECK(m->key.vlan[i] <= 0x0FFF);
		if (i >= m->key.vlan_depth)
			FUZZ_CHECK(m->key.vlan[i] == 0);
	}
	FUZZ_CHECK(m->tcp_flags <= 0x1FF);
	if (m->key.proto != 6)
		FUZZ_CHECK(m->tcp_flags == 0);
	if (m->key.proto != 1 && m->key.proto != 58)
		FUZZ_CHECK(m->icmp == 0);
	if (!(m->flags & CAPTURE_F_FRAGMENT) && !has_ports(m->key.proto))
		FUZZ_CHECK(m->key.sport == 0 && m->key.dport == 0);
	if (m->flags & CAPTURE_F_NONFIRST_FRAG)
		FUZZ_CHECK(m->flags & CAPTURE_F_FRAGMENT);
	FUZZ_CHECK(m->mpls_top < (1u << 24));

	FUZZ_CHECK(m->hash == capture_flow_hash(&m->key));
	rev = m->key;
	memcpy(rev.src, m->key.dst, 16);
	memcpy(rev.dst, m->key.src, 16);
	rev.sport = m->key.dport;
	rev.dport = m->key.sport;
	FUZZ_CHECK(capture_flow_hash(&rev) == m->hash);
}

/* Parses payload behind a link header of hlen bytes (hdr), without a fragment table, into
 * *ret; the frame is built in a buffer of exactly its size. */
static enum capture_verdict parse_behind(uint16_t linktype, const uint8_t *hdr, uint32_t hlen,
                                         const uint8_t *payload, uint32_t plen, uint32_t wirelen,
                                         struct capture_meta *ret)
{
	uint8_t *frame = malloc(hlen + plen + 1);
	struct capture_pkt pkt = {
	    .caplen = hlen + plen, .wirelen = wirelen, .ts_ns = 1, .linktype = linktype};
	enum capture_verdict v;

	FUZZ_CHECK(frame != NULL);
	if (hlen)
		memcpy(frame, hdr, hlen);
	if (plen)
		memcpy(frame + hlen, payload, plen);
	pkt.data = frame;
	v = capture_parse(&pkt, NULL, ret);
	check_meta(&pkt, v, ret);
	free(frame);
	return v;
}

static void same(enum capture_verdict va, const struct capture_meta *a, enum capture_verdict vb,
                 const struct capture_meta *b)
{
	FUZZ_CHECK(va == vb);
	if (va == CAPTURE_OK)
		FUZZ_CHECK(memcmp(a, b, sizeof(*a)) == 0);
}

/* The network-layer bytes of pkt behind every other link header that carries them must parse
 * as pkt does. */
static void check_links(const struct capture_pkt *pkt)
{
	struct capture_meta m0, m1;
	enum capture_verdict v0, v1;
	uint8_t hdr[20] = {0};
	const uint8_t *payload;
	uint32_t plen, wire;
	uint16_t etype;

	if (pkt->linktype == CAPTURE_LINK_ETHERNET && pkt->caplen >= 14) {
		etype = wr_be16(pkt->data + 12);
		payload = pkt->data + 14;
		plen = pkt->caplen - 14;
		wire = pkt->wirelen - 14;
		v0 = parse_behind(CAPTURE_LINK_ETHERNET, pkt->data, 14, payload, plen, wire + 14,
		                  &m0);
		wr_put_be16(hdr + 14, etype); /* Linux cooked v1: protocol at 14 */
		v1 = parse_behind(CAPTURE_LINK_SLL, hdr, 16, payload, plen, wire + 16, &m1);
		same(v0, &m0, v1, &m1);
		memset(hdr, 0, sizeof(hdr));
		wr_put_be16(hdr, etype); /* Linux cooked v2: protocol at 0 */
		v1 = parse_behind(CAPTURE_LINK_SLL2, hdr, 20, payload, plen, wire + 20, &m1);
		same(v0, &m0, v1, &m1);
		if (etype == 0x0800 || etype == 0x86DD) {
			uint32_t af = etype == 0x0800 ? 2 : 10;

			memset(hdr, 0, sizeof(hdr));
			hdr[0] = (uint8_t)af; /* host (little-endian) order */
			v1 = parse_behind(CAPTURE_LINK_NULL, hdr, 4, payload, plen, wire + 4, &m1);
			same(v0, &m0, v1, &m1);
			memset(hdr, 0, sizeof(hdr));
			hdr[3] = etype == 0x0800 ? 2 : 24; /* OpenBSD: big-endian */
			v1 = parse_behind(CAPTURE_LINK_LOOP, hdr, 4, payload, plen, wire + 4, &m1);
			same(v0, &m0, v1, &m1);
		}
	} else if ((pkt->linktype == CAPTURE_LINK_RAW || pkt->linktype == CAPTURE_LINK_IPV4 ||
	            pkt->linktype == CAPTURE_LINK_IPV6) &&
	           pkt->caplen > 0 && (pkt->data[0] >> 4 == 4 || pkt->data[0] >> 4 == 6)) {
		v0 =
		    parse_behind(pkt->linktype, NULL, 0, pkt->data, pkt->caplen, pkt->wirelen, &m0);
		memset(hdr, 0, sizeof(hdr));
		wr_put_be16(hdr + 12, pkt->data[0] >> 4 == 4 ? 0x0800 : 0x86DD);
		v1 = parse_behind(CAPTURE_LINK_ETHERNET, hdr, 14, pkt->data, pkt->caplen,
		                  pkt->wirelen + 14, &m1);
		same(v0, &m0, v1, &m1);
	}
}

static void parse_one(struct capture_frag_table *frags, const struct capture_pkt *pkt)
{
	struct capture_meta m;
	enum capture_verdict v = capture_parse(pkt, frags, &m);

	check_meta(pkt, v, &m);
	if (pkt->linktype != 160)
		FUZZ_CHECK(v != CAPTURE_UNSUPPORTED_LINK);
	check_links(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capture_frag_table *frags;
	struct fuzz_in in;
	uint64_t ts = 1000000000;
	uint8_t sel;

	if (size == 0 || size > UINT32_MAX / 2)
		return 0;
	sel = data[0];
	frags = capture_frag_create(64, 30 * WR_NS_PER_S);
	FUZZ_CHECK(frags != NULL);
	in = (struct fuzz_in){data + 1, size - 1};
	if (!(sel & 0x80)) {
		/* one frame of the whole rest, in a buffer of its own size */
		uint8_t *frame = malloc(in.n + 1);
		struct capture_pkt pkt = {.data = frame,
		                          .caplen = (uint32_t)in.n,
		                          .wirelen = (uint32_t)in.n,
		                          .ts_ns = ts,
		                          .linktype = links[sel % WR_ARRAY_SIZE(links)],
		                          .port = 3};

		FUZZ_CHECK(frame != NULL);
		if (in.n)
			memcpy(frame, in.p, in.n);
		parse_one(frags, &pkt);
		free(frame);
	} else {
		while (in.n > 0) {
			uint8_t link = fuzz_u8(&in);
			uint32_t caplen = fuzz_u16(&in), extra = fuzz_u16(&in);
			uint8_t *frame;
			struct capture_pkt pkt;

			if (caplen > in.n)
				caplen = (uint32_t)in.n;
			frame = malloc(caplen + 1);
			FUZZ_CHECK(frame != NULL);
			if (caplen)
				memcpy(frame, in.p, caplen);
			in.p += caplen;
			in.n -= caplen;
			ts +=
			    (uint64_t)(link >> 4) * 250 * WR_NS_PER_MS; /* time moves on a little */
			pkt = (struct capture_pkt){.data = frame,
			                           .caplen = caplen,
			                           .wirelen = caplen + extra,
			                           .ts_ns = ts,
			                           .linktype =
			                               links[(link & 0x0F) % WR_ARRAY_SIZE(links)],
			                           .port = link >> 4};
			parse_one(frags, &pkt);
			free(frame);
		}
	}
	{
		struct capture_frag_stats st;

		capture_frag_stats(frags, &st);
		FUZZ_CHECK(st.matched + st.unmatched <= size);
	}
	capture_frag_free(frags);
	return 0;
}
