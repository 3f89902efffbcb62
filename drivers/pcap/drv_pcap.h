/*
 * drivers/pcap: capture from files and ordinary interfaces.
 *
 * "pcap:SPEC" opens SPEC as a capture file when a file of that name exists (or SPEC is "-" for
 * standard input) and as a live interface otherwise.
 *  - Files are read by weir's own reader: pcap (micro- and nanosecond, either byte order,
 *    version 2.4 only; the link-type field is masked to its low 16 bits), pcapng (any number
 *    of sections and interfaces, each with its own link type and timestamp resolution, either
 *    byte order; only packet blocks are delivered) and ERF (DAG records; META records and
 *    padding skipped). The format is detected from the content. Records are handed out in
 *    place from a large read buffer: one read() per megabyte, no copy per packet.
 *  - Interfaces are captured with libpcap in immediate mode with a large ring buffer and an
 *    optional BPF filter; kernel drop counters come from pcap_stats(). Without libpcap at build
 *    time only files are supported.
 */
#ifndef DRV_PCAP_H
#define DRV_PCAP_H

#include "capture.h"

extern const struct capture_driver_ops drv_pcap_ops;

#endif /* DRV_PCAP_H */
