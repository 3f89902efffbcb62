/*
 * drivers/dpdk: capture from DPDK poll-mode ports, physical or virtual.
 *
 * "dpdk:DEVARGS" names one Ethernet port:
 *   0000:01:00.0                       a PCI device, found by name among the probed ports
 *   net_pcap0,rx_pcap=FILE[,rx_pcap=FILE2...]   a pcap file per RX queue; finite
 *   net_pcap0,rx_pcap=FILE,infinite_rx=1        the file replayed forever; live
 *   net_null0, net_ring0, net_af_packet0,iface=veth0,qpairs=2, ...   other virtual devices
 * A virtual device is attached with rte_dev_probe() unless the EAL arguments created it
 * already (--vdev). The first open in a process initialises the EAL with
 * params->eal_argv (the probe's arguments after "--"), or with "--in-memory -l CPU" when
 * there are none; the EAL log level is "warning" unless an argument sets one.
 *
 * The port gets params->queues RX queues (net_pcap: one per file or interface), a packet pool
 * of params->mbufs buffers (0: sized for the rings and the bursts in flight), promiscuous mode
 * and params->mtu when non-zero. Frames longer than one buffer arrive as chains: a packet's
 * caplen is the length of its first segment and wirelen the whole frame. Packets are handed
 * out in place (zero copy) and given back at the next burst on the same queue.
 *
 * With several queues on a physical device that hashes on IP, RSS is set up with a symmetric
 * Toeplitz key and checked at open; only then does caps() report CAPTURE_CAP_SYMMETRIC_RSS.
 * Virtual devices never do (net_null accepts an RSS configuration but hashes nothing), so the
 * probe steers their packets in software.
 *
 * Timestamps: net_pcap's packet times (the file's, to the microsecond); the device clock
 * mapped to wall time where the device timestamps packets and can be read; otherwise the TSC
 * at the burst, mapped to wall time and re-anchored once a second.
 *
 * A net_pcap device reading files (no infinite_rx) is finite: its packets are counted at open
 * with weir's own pcap reader and a queue ends with -ENODATA once it delivered its file. Note
 * that net_pcap reports the captured length of a packet as its wire length.
 */
#ifndef DRV_DPDK_H
#define DRV_DPDK_H

#include "capture.h"

extern const struct capture_driver_ops drv_dpdk_ops;

/* Shuts the EAL down (rte_eal_cleanup) at the end of the program, once every handle is
 * closed; a no-op when no DPDK input was opened or a handle is still open. No DPDK input can
 * be opened afterwards. */
void drv_dpdk_cleanup(void);

#endif /* DRV_DPDK_H */
