/*
 * The benchmarks' packet: a 64-byte Ethernet frame (FCS not included in the 60 bytes of
 * headers and padding written) carrying IPv4/UDP, as parse and flow cache see it at line rate.
 */
#ifndef BENCH_FRAME_H
#define BENCH_FRAME_H

#include <stdint.h>
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

#endif /* BENCH_FRAME_H */
