/*
 * drivers/pcap private interface: the two halves behind drv_pcap_ops.
 *
 * drv_pcap.c decides whether "pcap:SPEC" names a capture file or an interface and forwards
 * every op to one of these. Both halves follow the capture_driver_ops contract (capture.h):
 * open returns 0 or -errno with a message in err, rx_burst returns a count, -ENODATA at the
 * end or after stop, or another -errno with the message in last_error. Packets handed out by
 * rx_burst stay valid until the next rx_burst call on the same handle. stop may be called from
 * another thread; everything else is called from the thread that owns the handle.
 */
#ifndef DRV_PCAP_INTERNAL_H
#define DRV_PCAP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"

/* ---------------------------------------------------------------------------------------- */
/* Capture files (pcapfile.c): pcap, pcapng and ERF read with weir's own reader.             */

struct drv_pcap_file;

/* Opens `path` ("-" is standard input), reads enough to recognise the format and checks the
 * file header. Only params->port is used; params may be NULL. */
int drv_pcap_file_open(const char *path, const struct capture_open_params *params,
                       struct drv_pcap_file **ret_file, char *err, size_t errlen);
int drv_pcap_file_rx_burst(struct drv_pcap_file *f, struct capture_pkt *pkts, unsigned max);
void drv_pcap_file_stats(const struct drv_pcap_file *f, struct capture_stats *ret);
const char *drv_pcap_file_last_error(const struct drv_pcap_file *f);
void drv_pcap_file_stop(struct drv_pcap_file *f);
/* Bytes read of a regular file's size; -1 for standard input or a pipe (any thread). */
int drv_pcap_file_progress(const struct drv_pcap_file *f, uint64_t *done, uint64_t *total);
void drv_pcap_file_close(struct drv_pcap_file *f); /* NULL is a no-op */

/* ---------------------------------------------------------------------------------------- */
/* Live interfaces (pcap_live.c, built only with libpcap).                                   */

struct drv_pcap_live;

/* Opens and activates interface `ifname` (snaplen, buffer size and filter from params, which
 * may be NULL for the defaults) so that a missing interface, missing permission or a bad
 * filter is reported here rather than at start. Packets are buffered by the kernel from then
 * on. */
int drv_pcap_live_open(const char *ifname, const struct capture_open_params *params,
                       struct drv_pcap_live **ret_live, char *err, size_t errlen);
/* Returns the packets of one pcap_dispatch() call (waits up to 100 ms; 0 on timeout). */
int drv_pcap_live_rx_burst(struct drv_pcap_live *l, struct capture_pkt *pkts, unsigned max);
void drv_pcap_live_stats(struct drv_pcap_live *l, struct capture_stats *ret);
const char *drv_pcap_live_last_error(const struct drv_pcap_live *l);
void drv_pcap_live_stop(struct drv_pcap_live *l);  /* also interrupts a waiting rx_burst */
void drv_pcap_live_close(struct drv_pcap_live *l); /* NULL is a no-op */

#endif /* DRV_PCAP_INTERNAL_H */
