/*
 * drivers/gen: a synthetic packet source for benchmarks and tests.
 *
 * "gen:SPEC" builds Ethernet/IPv4 or IPv6/UDP frames in memory, with no file and no device, so
 * the rest of the pipeline can be measured and tested on traffic of a known shape. SPEC is a
 * comma-separated list of key=value (all optional):
 *   flows=N          distinct flows in the active set (default 1000)
 *   packets=N        packets to deliver, then the input ends (default 1000000; 0 = until
 *                    stopped)
 *   size=64|imix     frame sizes: all 64 bytes, or the simple IMIX 7:4:1 of 64/594/1518
 *   popularity=uniform|zipf   how packets spread over the flows (Zipf exponent 1)
 *   v6=F             fraction of flows that are IPv6, 0..1 (default 0)
 *   rate=PPS         packets per second of packet time (default 10000000)
 *   newflows=R       churn: R flows per second leave the active set and R new ones join
 *                    (default 0: the same flows throughout)
 *   seed=N           random seed (default 1); the same SPEC always gives the same packets
 *   start=SEC        time of the first packet, seconds since the epoch (default 1700000000)
 *   live=0|1         1: offer the packets at `rate` per second of wall-clock time, through a
 *                    receive ring that loses what arrives while it is full (counted as
 *                    dropped); packets are stamped with the wall clock when read, and `start`
 *                    is unused (default 0: packet time is synthetic, nothing is lost)
 *   ring=N           live: receive ring size in packets (default 4096)
 * Flow i has source address 10.0.0.0 + i (or 2001:db8::i), destination 192.168.0.1 (or
 * 2001:db8:1::1), source port 1024 + i % 60000 and destination port 443 + i / 60000, so
 * every flow id gives a distinct key.
 */
#ifndef DRV_GEN_H
#define DRV_GEN_H

#include "capture.h"

extern const struct capture_driver_ops drv_gen_ops;

#endif /* DRV_GEN_H */
