/*
 * drivers/dpdk internals shared with the unit tests.
 */
#ifndef DRV_DPDK_INTERNAL_H
#define DRV_DPDK_INTERNAL_H

#include <stdint.h>

/* The symmetric Toeplitz key: 0x6d5a repeated. Its 16-bit period makes the hash of (a, b) equal
 * that of (b, a) for addresses and ports alike. */
#define DRV_DPDK_RSS_KEY_BYTE0 0x6d
#define DRV_DPDK_RSS_KEY_BYTE1 0x5a

/* Fills key[0..len) with the symmetric key. */
void drv_dpdk_rss_key_fill(uint8_t *key, unsigned len);

/* 1 when Toeplitz with `key` hashes a few IPv4 and IPv6 tuples (addresses alone and with
 * ports) exactly as their reverses, 0 otherwise (also when len is below the 40 bytes an IPv6
 * tuple with ports needs). */
int drv_dpdk_rss_key_symmetric(const uint8_t *key, unsigned len);

#endif /* DRV_DPDK_INTERNAL_H */
