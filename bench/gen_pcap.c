/*
 * gen_pcap: writes the synthetic source (drivers/gen, "gen:SPEC") to a pcap file, so that
 * programs other than weir can read exactly the packets weir reads (bench/compare.py).
 *
 *   gen_pcap SPEC FILE
 *
 * Every frame of the driver becomes one pcap record (Ethernet, microsecond timestamps from the
 * packet time): the record's length is the frame's wire length, its captured length
 * min(wire length, 128), and the bytes after the generated headers are zeros. At the end it
 * prints one line of ground truth:
 *
 *   packets N flows F bytes B
 *
 * F, the distinct flows written, is counted here from the frames alone, not by weir's flow
 * cache: drv_gen.h documents that flow i has source address 10.0.0.0 + i, source port
 * 1024 + i % 60000 and destination port 443 + i / 60000, so each frame's id is read back from
 * its source address (checked against its ports) and marked in a bitmap. Only IPv4 specs are
 * accepted, since an IPv6 flow carries its id in a different address.
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "drv_gen.h"
#include "wr.h"

#define SNAP     128 /* bytes kept per record */
#define BURST    256
#define ETH_HDR  14
#define ID_BASE  0x0A000000u /* 10.0.0.0: flow 0's source address */
#define ETH_IPV4 0x0800

/* A bitmap of flow ids that grows to the largest id seen. */
struct idset {
	uint64_t *words;
	size_t nwords;
	uint64_t distinct;
};

static int idset_add(struct idset *s, uint64_t id)
{
	size_t w = (size_t)(id / 64);
	uint64_t bit = 1ULL << (id % 64);

	if (w >= s->nwords) {
		size_t n = s->nwords ? s->nwords : 1024;
		uint64_t *grown;

		while (n <= w)
			n *= 2;
		grown = realloc(s->words, n * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		memset(grown + s->nwords, 0, (n - s->nwords) * sizeof(*grown));
		s->words = grown;
		s->nwords = n;
	}
	if (!(s->words[w] & bit)) {
		s->words[w] |= bit;
		s->distinct++;
	}
	return 0;
}

/* The value of `key` in a SPEC (the text after "key=", up to the next comma), or NULL. */
static const char *spec_value(const char *spec, const char *key)
{
	size_t klen = strlen(key);
	const char *p = spec;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=')
			return p + klen + 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return NULL;
}

/* True when a SPEC value is the number zero (the driver rejects what is not a number). */
static int spec_zero(const char *val)
{
	char *end;

	return val && strtod(val, &end) == 0 && end != val && (*end == ',' || *end == '\0');
}

/* The flow id of one generated frame, from its source address; -1 (with a message) when the
 * frame is not the Ethernet/IPv4/UDP layout drv_gen.h documents. */
static int64_t frame_flow_id(const struct capture_pkt *pkt, uint64_t n)
{
	const uint8_t *ip = pkt->data + ETH_HDR;
	uint32_t src;
	uint64_t id;

	if (pkt->caplen < ETH_HDR + 20 + 8 || wr_be16(pkt->data + 12) != ETH_IPV4 ||
	    ip[0] != 0x45 || ip[9] != 17) {
		fprintf(stderr,
		        "gen_pcap: packet %" PRIu64 " is not an Ethernet/IPv4/UDP frame with a "
		        "20-byte IP header (%u bytes captured): its flow id cannot be decoded\n",
		        n, pkt->caplen);
		return -1;
	}
	src = wr_be32(ip + 12);
	if (src < ID_BASE) {
		fprintf(stderr,
		        "gen_pcap: packet %" PRIu64 " has source address %u.%u.%u.%u, "
		        "below 10.0.0.0: not a generated flow\n",
		        n, ip[12], ip[13], ip[14], ip[15]);
		return -1;
	}
	id = src - ID_BASE;
	/* the ports are derived from the id too: a frame whose id wrapped past the end of the
	 * address space, or a changed layout, shows up here */
	if (wr_be16(ip + 20) != (uint16_t)(1024 + id % 60000) ||
	    wr_be16(ip + 22) != (uint16_t)(443 + id / 60000)) {
		fprintf(stderr,
		        "gen_pcap: packet %" PRIu64 ": ports %u -> %u do not match flow id %" PRIu64
		        " of source address %u.%u.%u.%u (the driver's layout changed, or the id "
		        "went past the IPv4 address space)\n",
		        n, wr_be16(ip + 20), wr_be16(ip + 22), id, ip[12], ip[13], ip[14], ip[15]);
		return -1;
	}
	return (int64_t)id;
}

/* Appends one frame to the dump: captured length min(wire length, SNAP), zeros after the
 * generated headers. */
static void dump_frame(pcap_dumper_t *d, const struct capture_pkt *pkt)
{
	uint8_t rec[SNAP];
	struct pcap_pkthdr h;
	uint32_t keep;

	h.len = pkt->wirelen;
	h.caplen = pkt->wirelen < SNAP ? pkt->wirelen : SNAP;
	keep = pkt->caplen < h.caplen ? pkt->caplen : h.caplen;
	h.ts.tv_sec = (time_t)(pkt->ts_ns / WR_NS_PER_S);
	h.ts.tv_usec = (suseconds_t)(pkt->ts_ns % WR_NS_PER_S / WR_NS_PER_US);
	memcpy(rec, pkt->data, keep);
	memset(rec + keep, 0, h.caplen - keep);
	pcap_dump((u_char *)d, &h, rec);
}

/* Reads the whole source into the dump and the id set. Returns 0 or -1 (message printed). */
static int copy_frames(void *src, pcap_dumper_t *d, struct idset *ids, uint64_t *ret_packets,
                       uint64_t *ret_bytes)
{
	struct capture_pkt pkts[BURST];
	uint64_t packets = 0, bytes = 0;
	int got, i;

	while ((got = drv_gen_ops.rx_burst(src, pkts, BURST)) > 0) {
		for (i = 0; i < got; i++, packets++) {
			int64_t id = frame_flow_id(&pkts[i], packets);

			if (id < 0)
				return -1;
			if (idset_add(ids, (uint64_t)id) < 0) {
				fprintf(stderr,
				        "gen_pcap: out of memory for a bitmap of %" PRId64
				        " flow ids\n",
				        id + 1);
				return -1;
			}
			dump_frame(d, &pkts[i]);
			bytes += pkts[i].wirelen;
		}
	}
	if (got != -ENODATA) {
		fprintf(stderr, "gen_pcap: synthetic source failed: %s\n",
		        got < 0 ? strerror(-got) : "no packets and no end of input");
		return -1;
	}
	*ret_packets = packets;
	*ret_bytes = bytes;
	return 0;
}

static int generate(const char *spec, const char *path)
{
	char err[CAPTURE_ERR_LEN] = "";
	struct capture_open_params params = {0};
	struct idset ids = {0};
	uint64_t packets = 0, bytes = 0;
	pcap_t *dead = NULL;
	pcap_dumper_t *d = NULL;
	void *src = NULL;
	int rc = -1, e;

	e = drv_gen_ops.open(spec, &params, &src, err, sizeof(err));
	if (e < 0) {
		fprintf(stderr, "gen_pcap: bad SPEC '%s': %s\n", spec, err[0] ? err : strerror(-e));
		return -1;
	}
	/* live=1 paces the packets by the wall clock and drops those a slow reader misses: not a
	 * trace to write down */
	if (drv_gen_ops.caps(src) & CAPTURE_CAP_LIVE) {
		fprintf(stderr,
		        "gen_pcap: a live source (live=1) is paced by the wall clock and "
		        "drops what its reader misses: write the offline source (live=0)\n");
		goto out;
	}
	e = drv_gen_ops.start(src);
	if (e < 0) {
		fprintf(stderr, "gen_pcap: cannot start the synthetic source: %s\n", strerror(-e));
		goto out;
	}
	dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (dead == NULL) {
		fprintf(stderr, "gen_pcap: pcap_open_dead failed\n");
		goto out;
	}
	d = pcap_dump_open(dead, path);
	if (d == NULL) {
		fprintf(stderr, "gen_pcap: %s\n", pcap_geterr(dead));
		goto out;
	}
	if (copy_frames(src, d, &ids, &packets, &bytes) < 0)
		goto out;
	if (pcap_dump_flush(d) != 0 || ferror(pcap_dump_file(d))) {
		fprintf(stderr, "gen_pcap: writing %s failed: %s\n", path, strerror(errno));
		goto out;
	}
	printf("packets %" PRIu64 " flows %" PRIu64 " bytes %" PRIu64 "\n", packets, ids.distinct,
	       bytes);
	rc = 0;
out:
	if (d)
		pcap_dump_close(d);
	if (dead)
		pcap_close(dead);
	drv_gen_ops.close(src);
	free(ids.words);
	return rc;
}

int main(int argc, char **argv)
{
	const char *v6;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_pcap SPEC FILE   (SPEC as for weir's gen:SPEC input, "
		                "e.g. flows=100000,packets=4000000,size=64)\n");
		return 2;
	}
	/* IPv6 flows carry their id in an IPv6 address, which this counter does not decode */
	v6 = spec_value(argv[1], "v6");
	if (v6 && strtod(v6, NULL) > 0) {
		fprintf(stderr, "gen_pcap: v6 flows are not supported: the distinct-flow count "
		                "decodes each frame's flow id from its IPv4 source address\n");
		return 2;
	}
	if (spec_zero(spec_value(argv[1], "packets"))) {
		fprintf(stderr,
		        "gen_pcap: packets=0 means an endless source: give a packet count\n");
		return 2;
	}
	return generate(argv[1], argv[2]) < 0 ? 1 : 0;
}
