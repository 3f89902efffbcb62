/*
 * The benchmarks' packet: a 64-byte Ethernet frame (FCS not included in the 60 bytes of
 * headers and padding written) carrying IPv4/UDP, as parse and flow cache see it at line rate.
 */
#ifndef BENCH_FRAME_H
#define BENCH_FRAME_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wr.h"

#define BENCH_FRAME 64

/* Writes one frame at p (BENCH_FRAME bytes): src -> dst, UDP sport -> dport, TTL 64. */
static inline void bench_frame_udp4(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport,
                                    uint16_t dport)
{
	memset(p, 0, BENCH_FRAME);
	p[12] = 0x08;
	p[14] = 0x45;
	wr_put_be16(p + 16, BENCH_FRAME - 14 - 4);
	p[22] = 64;
	p[23] = 17;
	wr_put_be32(p + 26, src);
	wr_put_be32(p + 30, dst);
	wr_put_be16(p + 34, sport);
	wr_put_be16(p + 36, dport);
	wr_put_be16(p + 38, BENCH_FRAME - 14 - 4 - 20);
}

/* Makes a frame of bench_frame_udp4() a TCP ACK between the same ports (its 20-byte TCP
 * header fits the same 46 bytes of IP packet). */
static inline void bench_frame_to_tcp(uint8_t *p)
{
	p[23] = 6;
	p[46] = 0x50; /* data offset: 5 words */
	p[47] = 0x10; /* ACK */
}

/* Writes n frames of len bytes (back to back at frames) as a pcap file (microseconds), the
 * first at t0_s and each ns_per_pkt after the one before; exits on an error. */
static inline void bench_write_pcap(const char *path, const uint8_t *frames, uint32_t n,
                                    uint32_t len, uint64_t t0_s, uint64_t ns_per_pkt)
{
	FILE *f = fopen(path, "wb");
	uint32_t hdr[6] = {0xA1B2C3D4, 0x00040002, 0, 0, 65535, 1}, rec[4], i;
	int bad = f == NULL || fwrite(hdr, 4, 6, f) != 6;

	for (i = 0; !bad && i < n; i++) {
		uint64_t t_us = (uint64_t)i * ns_per_pkt / 1000;

		rec[0] = (uint32_t)(t0_s + t_us / 1000000);
		rec[1] = (uint32_t)(t_us % 1000000);
		rec[2] = rec[3] = len;
		bad =
		    fwrite(rec, 4, 4, f) != 4 || fwrite(frames + (size_t)i * len, 1, len, f) != len;
	}
	if (f != NULL && fclose(f) != 0)
		bad = 1;
	if (bad) {
		perror(path);
		exit(1);
	}
}

#endif /* BENCH_FRAME_H */
