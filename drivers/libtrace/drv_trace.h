/*
 * drivers/libtrace: capture from anything libtrace can read.
 *
 * "trace:URI" hands URI to libtrace unchanged: erf:FILE, pcapfile:FILE, pcap:FILE (through
 * libpcap), rawerf:FILE, tsh:FILE, legacy*:FILE for files (libtrace also opens gzip, bzip2,
 * lzo and lzma compressed files, and guesses the format of a URI without "FORMAT:"), and
 * dag:/dev/dag0, int:IFACE (AF_PACKET), ring:IFACE (AF_PACKET with PACKET_MMAP),
 * pcapint:IFACE (libpcap), bpf:IFACE, dpdk:..., rt:HOST:PORT for live sources, as far as the
 * installed libtrace was built with them.
 *
 * Contract of the ops (see struct capture_driver_ops in capture.h for the common part):
 *  - open() creates and starts the trace, so that a missing file or device, a permission
 *    problem, an unknown format or a bad filter is reported there; err holds libtrace's
 *    message (the caller adds the input's name). Live formats get promiscuous mode and,
 *    when set, params->snaplen (at most 65535 for int: and ring:) and params->filter (a BPF
 *    expression); files are read whole and unfiltered, as the pcap driver does. pcapint:
 *    refuses a filter (libtrace 3 would block in its start until a packet matched). A pcap
 *    file whose version is not 2.x is refused, as weir's own reader refuses it. Returns 0,
 *    or -ENOENT, -ENODEV, -EPERM, -EINVAL (unknown format, bad filter), -ENOTSUP, -EISDIR,
 *    -EIO.
 *  - caps() is CAPTURE_CAP_LIVE for the live formats above (by URI scheme) and
 *    CAPTURE_CAP_OFFLINE for everything else.
 *  - rx_burst() returns at most 64 packets per call. Their bytes stay valid until the next
 *    rx_burst() on the handle. A live source waits at most about 100 ms for the first packet
 *    and returns 0 when none came; a file returns -ENODATA at its end (a file cut in the
 *    middle of a record ends there too, with stats.truncated_file set), and -EBADMSG, -EIO,
 *    ... on records libtrace cannot read, every call from then on, with the message in
 *    last_error(). Packets carry the link layer (after any capture header), the original
 *    length the capture recorded (see drv_trace.c for libtrace's FCS convention), time in
 *    nanoseconds and their LINKTYPE number: pcap-based packets pass their file's or
 *    interface's on, other formats map libtrace's link type, CAPTURE_LINK_UNKNOWN where
 *    weir has no number for it (such packets are counted, not dropped).
 *  - stats(): packets and bytes handed out, dropped as libtrace reports it (kernel drops on
 *    live captures, the ERF loss counters in a file); if_dropped stays 0 (libtrace 3 has no
 *    such counter). Packets a filter rejects are not drops.
 *  - stop() may be called from any thread; rx_burst() returns -ENODATA from then on, within
 *    about 100 ms if it is waiting on a live source. A file read from a pipe ("erf:-") blocks
 *    inside libtrace until data comes.
 *  - close() frees everything; NULL is a no-op.
 */
#ifndef DRV_TRACE_H
#define DRV_TRACE_H

#include "capture.h"

extern const struct capture_driver_ops drv_trace_ops;

#endif /* DRV_TRACE_H */
