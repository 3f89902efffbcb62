/*
 * Unit tests of the parser and the fragment table, on packets built byte by byte.
 */
#include <errno.h>
#include <stdlib.h>

#include "capture.h"
#include "t.h"

/* A packet under construction. */
struct pb {
	uint8_t b[2048];
	uint32_t n;
};

static void put(struct pb *p, const void *d, uint32_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void put16(struct pb *p, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put(p, b, 2);
}

static void put32(struct pb *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p, (uint16_t)v);
}

static void eth(struct pb *p, uint16_t etype)
{
	static const uint8_t macs[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

	put(p, macs, 12);
	put16(p, etype);
}

/* IPv4 header, 20 bytes, addresses 10.0.0.1 -> 10.0.0.2 unless changed by the caller. */
static void ipv4(struct pb *p, uint8_t proto, uint16_t tot_len, uint16_t id, uint16_t frag)
{
	put16(p, 0x4500 | 0x10); /* version 4, IHL 5, TOS 0x10 */
	put16(p, tot_len);
	put16(p, id);
	put16(p, frag);
	put16(p, (uint16_t)(64 << 8 | proto));
	put16(p, 0);
	put32(p, 0x0A000001);
	put32(p, 0x0A000002);
}

static void ipv6(struct pb *p, uint8_t nh, uint16_t plen)
{
	put32(p, 0x60000000 | 0x2A << 20); /* traffic class 0x2A */
	put16(p, plen);
	put16(p, (uint16_t)(nh << 8 | 64));
	put32(p, 0x20010DB8);
	put32(p, 0);
	put32(p, 0);
	put32(p, 1);
	put32(p, 0x20010DB8);
	put32(p, 0);
	put32(p, 0);
	put32(p, 2);
}

static void tcp(struct pb *p, uint16_t sport, uint16_t dport, uint16_t flags)
{
	put16(p, sport);
	put16(p, dport);
	put32(p, 1);
	put32(p, 0);
	put16(p, (uint16_t)(5 << 12 | (flags & 0x1FF)));
	put16(p, 1024);
	put32(p, 0);
}

static void udp(struct pb *p, uint16_t sport, uint16_t dport, uint16_t len)
{
	put16(p, sport);
	put16(p, dport);
	put16(p, len);
	put16(p, 0);
}

static enum capture_verdict parse_lt(const struct pb *p, uint16_t linktype,
                                     struct capture_frag_table *ft, struct capture_meta *m)
{
	struct capture_pkt pkt = {
	    .data = p->b, .caplen = p->n, .wirelen = p->n, .ts_ns = 1000, .linktype = linktype};

	return capture_parse(&pkt, ft, m);
}

static enum capture_verdict parse_eth(const struct pb *p, struct capture_meta *m)
{
	return parse_lt(p, CAPTURE_LINK_ETHERNET, NULL, m);
}

static void test_ipv4_tcp(void)
{
	struct pb p = {0};
	struct capture_meta m;

	eth(&p, 0x0800);
	ipv4(&p, 6, 40, 1, 0);
	tcp(&p, 1234, 80, 0x102); /* NS + SYN */
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.ip_version, 4);
	CHECK_EQ(m.key.proto, 6);
	CHECK_EQ(m.key.sport, 1234);
	CHECK_EQ(m.key.dport, 80);
	CHECK_EQ(m.tcp_flags, 0x102);
	CHECK_EQ(m.tos, 0x10);
	CHECK_EQ(m.ttl, 64);
	CHECK_EQ(m.icmp, 0);
	CHECK_EQ(m.mpls_top, 0);
	CHECK_EQ(m.l3_octets, 40);
	CHECK_EQ(m.key.src[0], 10);
	CHECK_EQ(m.key.dst[3], 2);
	CHECK_EQ(m.key.src[4], 0); /* the rest of an IPv4 key stays zero */
	CHECK_EQ(m.key.vlan_depth, 0);
	CHECK_EQ(m.ts_ns, 1000);
	/* the IPv4 fast path's hash is the hash of the key, as every other path computes it */
	CHECK_EQ(m.hash, capture_flow_hash(&m.key));

	/* ICMP: type and code beside the key, whose ports stay 0; the general path's TTL */
	p.n = 0;
	eth(&p, 0x0800);
	ipv4(&p, 1, 28, 1, 0);
	put16(&p, 0x0B01); /* time exceeded, fragment reassembly */
	put16(&p, 0);
	put32(&p, 0);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.icmp, 0x0B01);
	CHECK_EQ(m.key.sport, 0);
	CHECK_EQ(m.key.dport, 0);
	CHECK_EQ(m.ttl, 64);
	/* ICMPv6 echo request, and the hop limit */
	p.n = 0;
	eth(&p, 0x86DD);
	ipv6(&p, 58, 8);
	put16(&p, 0x8000);
	put16(&p, 0);
	put32(&p, 0);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.icmp, 0x8000);
	CHECK_EQ(m.ttl, 64);
	/* an ICMP header cut short: no type, still a flow */
	p.n = 0;
	eth(&p, 0x0800);
	ipv4(&p, 1, 21, 1, 0);
	put(&p, "\x03", 1);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.icmp, 0);
}

static void test_octets_follow_header(void)
{
	struct pb p = {0};
	struct capture_meta m;
	struct capture_pkt pkt;

	/* Truncated capture: octets from the header, not the snap length. */
	eth(&p, 0x0800);
	ipv4(&p, 17, 1500, 1, 0);
	udp(&p, 53, 53, 1480);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.l3_octets, 1500);
	CHECK_EQ(m.key.sport, 53);

	/* Total length 0 (TSO capture): the length on the wire. */
	p.n = 0;
	eth(&p, 0x0800);
	ipv4(&p, 6, 0, 1, 0);
	tcp(&p, 1, 2, 0x10);
	pkt = (struct capture_pkt){
	    .data = p.b, .caplen = p.n, .wirelen = 80014, .linktype = CAPTURE_LINK_ETHERNET};
	CHECK_EQ(capture_parse(&pkt, NULL, &m), CAPTURE_OK);
	CHECK_EQ(m.l3_octets, 80000);
	CHECK(m.flags & CAPTURE_F_LENGTH_FROM_WIRE);
}

static void test_vlan_stacks(void)
{
	struct pb p = {0};
	struct capture_meta m;
	uint16_t tags[] = {0x88A8, 0x8100, 0x8100, 0x8100, 0x8100};
	unsigned i;

	/* 802.1ad S-tag + C-tag */
	eth(&p, 0x88A8);
	put16(&p, 0x2000 | 1525); /* PCP bits must be masked off */
	put16(&p, 0x8100);
	put16(&p, 30);
	put16(&p, 0x0800);
	ipv4(&p, 1, 28, 1, 0);
	put32(&p, 0x08000000);
	put32(&p, 0);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.vlan_depth, 2);
	CHECK_EQ(m.key.vlan[0], 1525);
	CHECK_EQ(m.key.vlan[1], 30);
	CHECK_EQ(m.key.proto, 1);
	CHECK_EQ(m.key.sport, 0);

	/* Five tags: all parsed, four kept in the key. */
	p.n = 0;
	eth(&p, tags[0]);
	for (i = 0; i < 5; i++) {
		put16(&p, (uint16_t)(100 + i));
		put16(&p, i + 1 < 5 ? tags[i + 1] : 0x0800);
	}
	ipv4(&p, 17, 28, 1, 0);
	udp(&p, 1, 2, 8);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.vlan_depth, 5);
	CHECK_EQ(m.key.vlan[3], 103);
	CHECK_EQ(m.key.sport, 1);
}

static void test_mpls_pppoe(void)
{
	struct pb p = {0};
	struct capture_meta m;

	eth(&p, 0x8847);
	put32(&p, 16 << 12 | 0 << 8 | 64); /* label 16 */
	put32(&p, 17 << 12 | 1 << 8 | 64); /* label 17, bottom of stack */
	ipv4(&p, 6, 40, 1, 0);
	tcp(&p, 5001, 4614, 0x18);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.sport, 5001);
	CHECK_EQ(m.mpls_top, 16 << 4); /* the top entry: label 16, TC 0, S 0 */

	/* MPLS pseudowire (control word 0x0...) is not IP */
	p.n = 0;
	eth(&p, 0x8847);
	put32(&p, 17 << 12 | 1 << 8 | 64);
	put32(&p, 0);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_NON_IP);

	/* Label stack running off the end */
	p.n = 0;
	eth(&p, 0x8847);
	put32(&p, 16 << 12 | 64);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_L2_TRUNCATED);

	/* VLAN + PPPoE session + IPv4 */
	p.n = 0;
	eth(&p, 0x8100);
	put16(&p, 42);
	put16(&p, 0x8864);
	put16(&p, 0x1100); /* ver/type, code */
	put16(&p, 0x0001); /* session */
	put16(&p, 42);     /* length */
	put16(&p, 0x0021); /* PPP: IPv4 */
	ipv4(&p, 17, 28, 1, 0);
	udp(&p, 67, 68, 8);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.vlan[0], 42);
	CHECK_EQ(m.key.dport, 68);

	/* PPPoE LCP is not IP */
	p.n = 0;
	eth(&p, 0x8864);
	put32(&p, 0x11000001);
	put16(&p, 10);
	put16(&p, 0xC021);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_NON_IP);
}

static void test_ipv6_ext_headers(void)
{
	struct pb p = {0};
	struct capture_meta m;

	/* hop-by-hop -> routing -> destination options -> UDP */
	eth(&p, 0x86DD);
	ipv6(&p, 0, 8 + 24 + 8 + 8);
	put16(&p, 43 << 8 | 0);
	put16(&p, 0x0104); /* PadN */
	put32(&p, 0);
	put16(&p, 60 << 8 | 2); /* routing, 24 bytes */
	put16(&p, 0);
	put32(&p, 0);
	put32(&p, 0);
	put32(&p, 0);
	put32(&p, 0);
	put32(&p, 0);
	put16(&p, 17 << 8 | 0); /* destination options, 8 bytes */
	put16(&p, 0x0104);
	put32(&p, 0);
	udp(&p, 4000, 53, 8);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.ip_version, 6);
	CHECK_EQ(m.key.proto, 17);
	CHECK_EQ(m.key.sport, 4000);
	CHECK_EQ(m.l3_octets, 40 + 48);
	CHECK_EQ(m.tos, 0x2A);
	CHECK_EQ(m.key.src[15], 1);
	CHECK_EQ(m.key.dst[15], 2);

	/* A chain cut inside the routing header: the protocol is the last next-header read
	 * (the routing header's own, which is there) and there are no ports. */
	p.n = 14 + 40 + 8 + 10;
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 60);
	CHECK_EQ(m.key.sport, 0);
	/* Cut right after the hop-by-hop header: the routing header is not there at all. */
	p.n = 14 + 40 + 8;
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 43);

	/* Payload length 0 without a Jumbo option: an empty payload, nothing to walk. */
	p.n = 0;
	eth(&p, 0x86DD);
	ipv6(&p, 44, 0);
	put32(&p, 0x11000000);
	put32(&p, 0);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 44);
	CHECK_EQ(m.l3_octets, 40);

	/* AH and ESP are the upper-layer protocol (no ports). */
	p.n = 0;
	eth(&p, 0x86DD);
	ipv6(&p, 51, 24);
	put32(&p, 0x3B040000);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 51);

	/* Jumbogram: payload length 0 and a Jumbo Payload option. */
	p.n = 0;
	eth(&p, 0x86DD);
	ipv6(&p, 0, 0);
	put16(&p, 58 << 8 | 0);
	put16(&p, 0xC204);
	put32(&p, 65550);
	put32(&p, 0x80000000);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 58);
	CHECK_EQ(m.l3_octets, 65590);
	/* A jumbo length near 2^32 saturates instead of wrapping. */
	p.b[14 + 40 + 4] = 0xFF;
	p.b[14 + 40 + 5] = 0xFF;
	p.b[14 + 40 + 6] = 0xFF;
	p.b[14 + 40 + 7] = 0xF0;
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.l3_octets, UINT32_MAX);
}

static void test_fragments(void)
{
	struct capture_frag_table *ft = capture_frag_create(64, 30ULL * 1000000000);
	struct capture_frag_stats fs;
	struct pb first = {0}, second = {0}, stray = {0}, f6a = {0}, f6b = {0};
	struct capture_meta m;

	CHECK(ft != NULL);
	eth(&first, 0x0800);
	ipv4(&first, 17, 1500, 0x1234, 0x2000); /* MF, offset 0 */
	udp(&first, 6363, 6364, 3000);
	eth(&second, 0x0800);
	ipv4(&second, 17, 1500, 0x1234, 185); /* offset 185*8 */
	eth(&stray, 0x0800);
	ipv4(&stray, 17, 600, 0x9999, 185);

	CHECK_EQ(parse_lt(&first, CAPTURE_LINK_ETHERNET, ft, &m), CAPTURE_OK);
	CHECK(m.flags & CAPTURE_F_FRAGMENT);
	CHECK(!(m.flags & CAPTURE_F_NONFIRST_FRAG));
	CHECK_EQ(m.key.sport, 6363);
	CHECK_EQ(parse_lt(&second, CAPTURE_LINK_ETHERNET, ft, &m), CAPTURE_OK);
	CHECK(m.flags & CAPTURE_F_NONFIRST_FRAG);
	CHECK_EQ(m.key.sport, 6363);
	CHECK_EQ(m.key.dport, 6364);
	CHECK_EQ(parse_lt(&stray, CAPTURE_LINK_ETHERNET, ft, &m), CAPTURE_OK);
	CHECK_EQ(m.key.sport, 0);
	CHECK(m.flags & CAPTURE_F_FRAG_UNMATCHED);

	/* IPv6 fragment header: first then second fragment. */
	eth(&f6a, 0x86DD);
	ipv6(&f6a, 44, 8 + 8 + 16);
	put16(&f6a, 17 << 8);
	put16(&f6a, 0x0001); /* offset 0, M */
	put32(&f6a, 0xABCD);
	udp(&f6a, 1111, 2222, 100);
	eth(&f6b, 0x86DD);
	ipv6(&f6b, 44, 8 + 16);
	put16(&f6b, 17 << 8);
	put16(&f6b, 3 << 3);
	put32(&f6b, 0xABCD);
	CHECK_EQ(parse_lt(&f6a, CAPTURE_LINK_ETHERNET, ft, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 17);
	CHECK_EQ(m.key.sport, 1111);
	CHECK_EQ(parse_lt(&f6b, CAPTURE_LINK_ETHERNET, ft, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 17);
	CHECK_EQ(m.key.dport, 2222);

	/* IPv6 first fragment with Destination Options behind the fragment header: later
	 * fragments name 60 in their fragment header but belong to the UDP flow. */
	f6a.n = 0;
	eth(&f6a, 0x86DD);
	ipv6(&f6a, 44, 8 + 8 + 8 + 8);
	put16(&f6a, 60 << 8);
	put16(&f6a, 0x0001);
	put32(&f6a, 0x5555);
	put16(&f6a, 17 << 8); /* destination options, 8 bytes */
	put16(&f6a, 0x0104);
	put32(&f6a, 0);
	udp(&f6a, 4000, 53, 100);
	f6b.n = 0;
	eth(&f6b, 0x86DD);
	ipv6(&f6b, 44, 8 + 16);
	put16(&f6b, 60 << 8);
	put16(&f6b, 3 << 3);
	put32(&f6b, 0x5555);
	CHECK_EQ(parse_lt(&f6a, CAPTURE_LINK_ETHERNET, ft, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 17);
	CHECK_EQ(m.key.sport, 4000);
	CHECK_EQ(parse_lt(&f6b, CAPTURE_LINK_ETHERNET, ft, &m), CAPTURE_OK);
	CHECK_EQ(m.key.proto, 17);
	CHECK_EQ(m.key.sport, 4000);
	CHECK_EQ(m.key.dport, 53);

	capture_frag_stats(ft, &fs);
	CHECK_EQ(fs.first_seen, 3);
	CHECK_EQ(fs.matched, 3);
	CHECK_EQ(fs.unmatched, 1);
	capture_frag_free(ft);
	capture_frag_free(NULL);
}

static void test_link_types(void)
{
	struct pb p = {0};
	struct capture_meta m;
	uint32_t af;

	/* Raw IP */
	ipv4(&p, 6, 40, 1, 0);
	tcp(&p, 1, 2, 0x02);
	CHECK_EQ(parse_lt(&p, CAPTURE_LINK_RAW, NULL, &m), CAPTURE_OK);
	CHECK_EQ(m.key.sport, 1);

	/* BSD loopback, both byte orders of AF_INET, and FreeBSD's AF_INET6 (28) */
	p.n = 0;
	af = 2;
	put(&p, &af, 4);
	ipv4(&p, 6, 40, 1, 0);
	tcp(&p, 3, 4, 0x02);
	CHECK_EQ(parse_lt(&p, CAPTURE_LINK_NULL, NULL, &m), CAPTURE_OK);
	CHECK_EQ(m.key.dport, 4);
	p.b[0] = 0;
	p.b[3] = 2;
	CHECK_EQ(parse_lt(&p, CAPTURE_LINK_NULL, NULL, &m), CAPTURE_OK);
	CHECK_EQ(parse_lt(&p, CAPTURE_LINK_LOOP, NULL, &m), CAPTURE_OK);
	p.n = 0;
	af = 28;
	put(&p, &af, 4);
	ipv6(&p, 59, 0);
	CHECK_EQ(parse_lt(&p, CAPTURE_LINK_NULL, NULL, &m), CAPTURE_OK);
	CHECK_EQ(m.key.ip_version, 6);
	p.b[0] = 7; /* unknown family */
	CHECK_EQ(parse_lt(&p, CAPTURE_LINK_NULL, NULL, &m), CAPTURE_NON_IP);

	/* Linux cooked v1 and v2 */
	p.n = 0;
	put32(&p, 0x00000001);
	put32(&p, 0x00060000);
	put32(&p, 0);
	put16(&p, 0);
	put16(&p, 0x0800);
	ipv4(&p, 17, 28, 1, 0);
	udp(&p, 5, 6, 8);
	CHECK_EQ(parse_lt(&p, CAPTURE_LINK_SLL, NULL, &m), CAPTURE_OK);
	CHECK_EQ(m.key.sport, 5);
	p.n = 0;
	put16(&p, 0x86DD);
	put16(&p, 0);
	put32(&p, 2);
	put32(&p, 0x00010006);
	put32(&p, 0);
	put32(&p, 0);
	ipv6(&p, 6, 20);
	tcp(&p, 7, 8, 0x11);
	CHECK_EQ(parse_lt(&p, CAPTURE_LINK_SLL2, NULL, &m), CAPTURE_OK);
	CHECK_EQ(m.key.dport, 8);
	CHECK_EQ(m.tcp_flags, 0x11);

	CHECK_EQ(parse_lt(&p, 160, NULL, &m), CAPTURE_UNSUPPORTED_LINK);
}

static void test_malformed(void)
{
	struct pb p = {0};
	struct capture_meta m;

	eth(&p, 0x0806); /* ARP */
	put32(&p, 0);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_NON_IP);

	p.n = 0;
	eth(&p, 0x0800);
	ipv4(&p, 6, 40, 1, 0);
	p.n -= 1; /* IPv4 header one byte short */
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_IP_TRUNCATED);

	p.n = 0;
	eth(&p, 0x86DD);
	ipv4(&p, 6, 40, 1, 0); /* version 4 behind an IPv6 ethertype */
	put32(&p, 0);
	put32(&p, 0);
	put32(&p, 0);
	put32(&p, 0);
	put32(&p, 0);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_IP_BAD_VERSION);

	p.n = 0;
	eth(&p, 0x0800);
	ipv4(&p, 6, 40, 1, 0);
	p.b[14] = 0x44; /* IHL 4 */
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_IP_BAD_HEADER_LEN);

	p.n = 10;
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_L2_TRUNCATED);

	/* L4 cut short: the flow is kept, ports 0 */
	p.n = 0;
	eth(&p, 0x0800);
	ipv4(&p, 6, 40, 1, 0);
	put16(&p, 80);
	CHECK_EQ(parse_eth(&p, &m), CAPTURE_OK);
	CHECK_EQ(m.key.sport, 0);
	CHECK(m.flags & CAPTURE_F_L4_TRUNCATED);

	CHECK_STR(capture_verdict_name(CAPTURE_IP_TRUNCATED), "ip_truncated");
	CHECK(capture_verdict_is_malformed(CAPTURE_L2_TRUNCATED));
	CHECK(!capture_verdict_is_malformed(CAPTURE_NON_IP));
	CHECK(!capture_verdict_is_malformed(CAPTURE_OK));
}

/* Every prefix of every test packet, and random bytes, parse without reading out of bounds
 * (run under ASan) and always give a verdict. */
static void test_every_prefix_is_safe(void)
{
	struct capture_frag_table *ft = capture_frag_create(64, 1000000000ULL);
	struct pb p = {0};
	struct capture_meta m;
	uint8_t *heap;
	uint32_t len, i;
	int lt, ok = 1;
	static const uint16_t lts[] = {0, 1, 101, 108, 113, 228, 229, 276};

	eth(&p, 0x8100);
	put16(&p, 7);
	put16(&p, 0x86DD);
	ipv6(&p, 0, 8 + 8 + 20);
	put16(&p, 44 << 8);
	put16(&p, 0x0104);
	put32(&p, 0);
	put16(&p, 6 << 8);
	put16(&p, 1);
	put32(&p, 77);
	tcp(&p, 1, 2, 0x12);
	srand(7);
	for (lt = 0; lt < (int)(sizeof(lts) / sizeof(lts[0])); lt++) {
		for (len = 0; len <= p.n; len++) {
			struct capture_pkt pkt = {
			    .caplen = len, .wirelen = p.n, .linktype = lts[lt]};

			/* An exact-size heap copy so ASan sees any overread. */
			heap = malloc(len ? len : 1);
			memcpy(heap, p.b, len);
			pkt.data = heap;
			if ((unsigned)capture_parse(&pkt, ft, &m) >= CAPTURE_VERDICT_MAX)
				ok = 0;
			for (i = 0; i < len; i++)
				heap[i] = (uint8_t)rand();
			if ((unsigned)capture_parse(&pkt, ft, &m) >= CAPTURE_VERDICT_MAX)
				ok = 0;
			free(heap);
		}
	}
	CHECK(ok);
	capture_frag_free(ft);
}

static void test_hash_symmetric(void)
{
	struct capture_flow_key a = {0}, b = {0};

	a.src[0] = 10;
	a.dst[0] = 192;
	a.sport = 1000;
	a.dport = 80;
	a.proto = 6;
	a.ip_version = 4;
	b = a;
	memcpy(b.src, a.dst, 16);
	memcpy(b.dst, a.src, 16);
	b.sport = a.dport;
	b.dport = a.sport;
	CHECK_EQ(capture_flow_hash(&a), capture_flow_hash(&b));
	b.vlan_depth = 1;
	b.vlan[0] = 5;
	CHECK(capture_flow_hash(&a) != capture_flow_hash(&b));
	b = a;
	b.sport = 1001;
	CHECK(capture_flow_hash(&a) != capture_flow_hash(&b));
}

/* A stream of distinct packets: 1000 flows, varying IP id and length. */
static void sample_meta(struct capture_meta *m, uint32_t i)
{
	memset(m, 0, sizeof(*m));
	m->key.ip_version = 4;
	m->key.proto = 17;
	m->key.src[0] = 10;
	m->key.src[2] = (uint8_t)(i % 1000 >> 8);
	m->key.src[3] = (uint8_t)(i % 1000);
	m->key.dst[0] = 192;
	m->key.sport = (uint16_t)(1000 + i % 1000);
	m->key.dport = 53;
	m->ip_id = (uint16_t)(i * 7919);
	m->l3_octets = 60 + i % 1400;
	m->hash = capture_flow_hash(&m->key); /* as the parser sets it */
}

static struct capture_sampler make_sampler(const char *spec)
{
	struct capture_sampler_params p;
	struct capture_sampler s;
	char err[128];

	CHECK_EQ(capture_sampler_parse(spec, &p, err, sizeof(err)), 0);
	capture_sampler_init(&s, &p);
	return s;
}

/* |x - n p| within 5 binomial standard deviations, compared squared (no libm) */
static int within_binomial(uint64_t x, uint64_t n, double p)
{
	double dev = (double)x - (double)n * p;

	return dev * dev < 25.0 * (double)n * p * (1 - p);
}

static void test_sampling(void)
{
	struct capture_sampler_params p;
	struct capture_sampler cnt = make_sampler("count:10"), rnd = make_sampler("random:10");
	struct capture_sampler prob = make_sampler("prob:0.1"), h1 = make_sampler("hash:10");
	struct capture_sampler h2 = make_sampler("hash:10"), h3 = make_sampler("hash:10,seed=7");
	struct capture_sampler fl = make_sampler("flow:10");
	struct capture_meta m, r;
	uint32_t i, n = 100000, in_window = 0, offsets_seen = 0, same = 1, differ = 0;
	uint32_t flow_sel[1000] = {0}, flow_all = 1;
	char err[128];

	for (i = 0; i < n; i++) {
		int a, b;

		sample_meta(&m, i);
		if (capture_sampler_select(&cnt, &m) != (i % 10 == 0))
			same = 0;
		if (capture_sampler_select(&rnd, &m)) {
			in_window++;
			offsets_seen |= 1u << (i % 10);
		}
		if (i % 10 == 9) { /* exactly one random pick in every window of 10 */
			if (in_window != 1)
				same = 0;
			in_window = 0;
		}
		capture_sampler_select(&prob, &m);
		a = capture_sampler_select(&h1, &m);
		b = capture_sampler_select(&h2, &m);
		if (a != b)
			same = 0;
		differ += a != capture_sampler_select(&h3, &m);
		if (capture_sampler_select(&fl, &m))
			flow_sel[i % 1000]++;
	}
	CHECK(same);
	CHECK_EQ(cnt.observed, n);
	CHECK_EQ(cnt.selected, n / 10);
	CHECK_EQ(rnd.selected, n / 10);
	CHECK(offsets_seen == 0x3FF); /* the random position moves around the window */
	CHECK(within_binomial(prob.selected, n, 0.1));
	CHECK(within_binomial(h1.selected, n, 1.0 / 10));
	CHECK(differ > 0); /* another seed selects other packets */
	/* flow sampling: each flow all or nothing; about one flow in ten */
	for (i = 0, n = 0; i < 1000; i++) {
		if (flow_sel[i] != 0 && flow_sel[i] != 100)
			flow_all = 0;
		n += flow_sel[i] != 0;
	}
	CHECK(flow_all);
	CHECK(within_binomial(n, 1000, 0.1));
	/* ... and both directions of a conversation go together */
	for (i = 0; i < 1000; i++) {
		sample_meta(&m, i);
		r = m;
		memcpy(r.key.src, m.key.dst, 16);
		memcpy(r.key.dst, m.key.src, 16);
		r.key.sport = m.key.dport;
		r.key.dport = m.key.sport;
		if (capture_sampler_select(&fl, &m) != capture_sampler_select(&fl, &r))
			flow_all = 0;
	}
	CHECK(flow_all);

	CHECK_EQ(capture_sampler_parse("count:0", &p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "count:0") != NULL);
	CHECK_EQ(capture_sampler_parse("bogus:5", &p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bogus") != NULL);
	CHECK_EQ(capture_sampler_parse("prob:1.5", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(capture_sampler_parse("count:10,seed=x", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(capture_sampler_parse("count", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(capture_sampler_parse("hash:64,seed=42", &p, err, sizeof(err)), 0);
	CHECK_EQ(p.interval, 64);
	CHECK_EQ(p.seed, 42);
	CHECK_EQ(p.algo, CAPTURE_SAMPLE_HASH);
}

int main(void)
{
	T_RUN(test_ipv4_tcp);
	T_RUN(test_octets_follow_header);
	T_RUN(test_vlan_stacks);
	T_RUN(test_mpls_pppoe);
	T_RUN(test_ipv6_ext_headers);
	T_RUN(test_fragments);
	T_RUN(test_link_types);
	T_RUN(test_malformed);
	T_RUN(test_every_prefix_is_safe);
	T_RUN(test_hash_symmetric);
	T_RUN(test_sampling);
	return t_done();
}
