#!/usr/bin/env python3
"""Live capture of replayed traces: every packet counted.

The test makes two network namespaces joined by a veth pair (IPv6 off, no addresses, so the
kernel sends nothing of its own), starts weir capturing on one end, replays shared traces into
the other with tcpreplay, stops weir with SIGTERM and compares the exported flows, summed per
key and decoded by ipfixDump, with weir reading the same trace from the file. Every packet
must be accounted for: packets received = packets in flows + named counters, and none lost in
the kernel.

Capture paths (one per run): pcap (libpcap live, 2 workers fed by software steering),
trace (libtrace int:), dpdk (DPDK's net_af_packet device, 2 workers). DPDK 22.11's
net_af_packet joins its socket to a fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel
reassembles IP fragments before the probe sees them: its replay leaves out the trace with
fragments (libtrace__vlan.pcap), where the flows would differ by design. So does libtrace
3's int: format: Linux takes VLAN tags out of the frame before packet sockets see it, and
libpcap and net_af_packet put them back from the packet's metadata, but libtrace 3 does not,
so its flows would lose their VLAN ids.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest as wt  # noqa: E402

TRACES = ("ndpi__reddit.pcap", "ndpi__teams.pcap", "libtrace__vlan.pcap")
UNTAGGED = TRACES[:2]  # no IP fragments, no VLAN tags
PPS = 4000  # well below what a veth and one capture thread carry on a shared machine
PPS_TRACE = 1000  # libtrace 3's int: reads a packet per system call into the default socket buffer
EAL = ["--", "--no-huge", "--in-memory", "--no-pci", "-l", "0", "-m", "256",
       "--log-level=lib.eal:error"]


def capture_args(path, iface):
    """weir's input options for capture path `path` on interface iface."""
    if path == "pcap":
        return ["-i", "pcap:" + iface, "--workers", "2"]
    if path == "trace":
        return ["-i", "trace:int:" + iface]
    if path == "dpdk":
        return ["-i", "dpdk:net_af_packet0,iface=" + iface, "--workers", "2"] + EAL
    raise ValueError(path)


def run(weir, traces_dir, path, tmp):
    traces = TRACES if path == "pcap" else UNTAGGED
    out, js = os.path.join(tmp, "live.ipfix"), os.path.join(tmp, "live.json")
    with wt.veth_pair(mtu=9000, ipv6=False) as (ns_tx, tx, ns_rx, rx):
        args = capture_args(path, rx)
        eal = args[args.index("--"):] if "--" in args else []
        args = args[:len(args) - len(eal)]
        probe = subprocess.Popen(["ip", "netns", "exec", ns_rx, weir] + args +
                                 ["-o", "ipfix:file:" + out, "--summary-json", js, "-q"] + eal,
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)  # the capture is open
        if probe.poll() is not None:
            wt.fail("weir exited at start: %s" % probe.stderr.read())
        for t in traces:
            wt.sh("ip", "netns", "exec", ns_tx, "tcpreplay", "-q", "--pps",
                  str(PPS_TRACE if path == "trace" else PPS), "-i", tx,
                  os.path.join(traces_dir, t))
        time.sleep(1.0)  # the last packets are read
        wt.stop_weir(probe, signal.SIGTERM, 60, "SIGTERM")
    summary = wt.load_summary(js, path)
    if summary["dropped"] or summary["packets_ring_full"]:
        wt.fail("%s: %d packets dropped by the kernel or NIC, %d at a full worker queue" %
                (path, summary["dropped"], summary["packets_ring_full"]))
    got = wt.sum_records(wt.decode_ipfixdump(out))
    want = {}
    for t in traces:
        recs, _, _ = wt.weir_to_ipfix_file(weir, ["pcap:" + os.path.join(traces_dir, t)],
                                           tmpdir=tempfile.mkdtemp(dir=tmp))
        for k, (p, b) in wt.sum_records(recs).items():
            a = want.setdefault(k, [0, 0])
            a[0] += p
            a[1] += b
    diffs = wt.diff_tables(got, want)
    if diffs:
        wt.fail("%s: live flows differ from the files' flows:\n  %s" % (path, "\n  ".join(diffs)))
    return "%d packets replayed on a veth pair, %d flows exactly as read from the files" % (
        summary["packets_read"], len(want))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weir", required=True)
    ap.add_argument("--traces", required=True)
    ap.add_argument("path", choices=("pcap", "trace", "dpdk"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="weir-replay-") as tmp:
        try:
            print("ok   replay %s: %s" % (a.path, run(a.weir, a.traces, a.path, tmp)))
            return 0
        except AssertionError as e:
            print("FAIL replay %s: %s" % (a.path, e))
            return 1


if __name__ == "__main__":
    sys.exit(main())
