#!/usr/bin/env python3
"""Same flows from every capture path.

For every capture in TRACES/MANIFEST.csv, the reference is weir reading the file with its own
pcap reader and one worker. Each other path must give the same flow table, summed per key
(vlan_stack, src, dst, proto, sport, dport), decoded by libfixbuf's ipfixDump:

  pcap-workers  the same file, 3 workers fed by the software steering hash;
  trace         libtrace reading the file in place (pcapfile: or erf:), 2 workers;
  trace-erf     the file converted to ERF with libtrace's traceconvert, read by libtrace;
  dpdk          DPDK's net_pcap device on the file (--no-huge --in-memory --no-pci), 1 worker;
  dpdk-queues   net_pcap with two RX queues that both replay the file, 2 workers: every flow
                exactly twice (whatever the interleaving of the queues).

Where a path cannot carry a file, weir must refuse it with a message that names the problem
(libtrace 3 has no pcapng reader; net_pcap reads no ERF and one link type per device). Every run's
packet accounting is checked too.
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest as wt  # noqa: E402

REFUSED = {"libpcap__pcap-invalid-version-1.pcap"}  # refused by every reader (corpus test)
EAL = ["--", "--no-huge", "--in-memory", "--no-pci", "-l", "0", "-m", "256",
       "--log-level=lib.eal:error"]
PATHS = ("pcap-workers", "trace", "trace-erf", "dpdk", "dpdk-queues")
# What Debian's libtrace 3.0.22 cannot read, and a word weir's refusal must contain.
LIBTRACE_REFUSES = {
    "libtrace__provenance.erf": "META",  # ERF META records with extension headers
    "tcpdump__ipv6_jumbogram_1.pcap": "caplen",  # records over 64 KiB
    "tcpdump__bigtcp-ipv4.pcap": "caplen",
}
# What traceconvert cannot turn into ERF (it writes nothing, or aborts).
NO_ERF = {
    "tcpdump__empty.pcap": "no packets, so no file",
    "tcpdump__udp-length-heapoverflow.pcap": "aborts on a link-type field with upper bits set",
    "suricata__decode-sll2-02.pcap": "no ERF type for Linux cooked v2",
    "arkime__http2-nghttp2.pcap": "no ERF type for its link type",
    "tcpdump__unsupported-link-type-160.pcap": "no ERF type for link type 160",
    "tcpdump__ipv6_jumbogram_1.pcap": "libtrace reads no records over 64 KiB",
    "tcpdump__bigtcp-ipv4.pcap": "libtrace reads no records over 64 KiB",
}


def table(weir, inputs, extra, tmp, what):
    """Runs weir; returns its flow table summed per key, after the accounting checks."""
    d = tempfile.mkdtemp(dir=tmp)
    records, summary, _ = wt.weir_to_ipfix_file(weir, inputs, extra=extra, tmpdir=d)
    wt.check_conservation(summary, what)
    if len(records) != summary["records_exported"]:
        wt.fail("%s: ipfixDump decoded %d records, weir exported %d" %
                (what, len(records), summary["records_exported"]))
    return wt.sum_records(records), summary


def refused(weir, inputs, extra, words, what):
    """weir must refuse the input before it starts, naming the problem."""
    args = []
    for i in inputs:
        args += ["-i", i]
    p = wt.run_weir(weir, args + ["-o", "ipfix:file:/dev/null"] + extra, check=False)
    if p.returncode == 0:
        wt.fail("%s: weir accepted an input it cannot read" % what)
    for w in words:
        if w not in p.stderr:
            wt.fail("%s: the refusal does not say %r: %s" % (what, w, p.stderr.strip()))


def same(got, want, what, times=1):
    if times != 1:
        want = {k: [v[0] * times, v[1] * times] for k, v in want.items()}
    diffs = wt.diff_tables(got, want)
    if diffs:
        wt.fail("%s: flow table differs from the reference:\n    %s" % (what, "\n    ".join(diffs)))


def check_file(weir, traces, row, tmp, paths):
    name, fmt, link = row["file"], row["format"], row["link_type"]
    path = os.path.join(traces, name)
    ref, _ = table(weir, ["pcap:" + path], [], tmp, "reference")
    done = []
    if "pcap-workers" in paths:
        got, s = table(weir, ["pcap:" + path], ["--workers", "3"], tmp, "pcap, 3 workers")
        if not s["inputs"][0]["steering"] or len(s["inputs"][0]["workers"]) != 3:
            wt.fail("pcap, 3 workers: not read through software steering to 3 workers")
        # With dozens of conversations, a hash that spreads them leaves no worker idle.
        if len(ref) >= 40 and min(s["inputs"][0]["workers"]) == 0:
            wt.fail("pcap, 3 workers: a worker got no packets: %s" % s["inputs"][0]["workers"])
        same(got, ref, "pcap, 3 workers")
        done.append("pcap x3")
    if "trace" in paths:
        uri = ("erf:" if fmt == "erf" else "pcapfile:") + path
        if fmt.startswith("pcapng"):
            refused(weir, ["trace:" + uri], [], [name], "libtrace on pcapng")
            done.append("libtrace refuses pcapng")
        elif name in LIBTRACE_REFUSES:
            refused(weir, ["trace:" + uri], [], [LIBTRACE_REFUSES[name]], "libtrace")
            done.append("libtrace refuses it (%s)" % LIBTRACE_REFUSES[name])
        else:
            got, _ = table(weir, ["trace:" + uri], ["--workers", "2"], tmp, "libtrace")
            same(got, ref, "libtrace " + uri.split(":")[0])
            done.append("libtrace x2")
    if "trace-erf" in paths and fmt.startswith("pcap") and not fmt.startswith("pcapng"):
        erf = os.path.join(tmp, "conv.erf")
        p = subprocess.run(["traceconvert", "pcapfile:" + path, "erf:" + erf],
                           capture_output=True, text=True, timeout=120)
        converted = p.returncode == 0 and os.path.exists(erf) and os.path.getsize(erf) > 0
        if name in NO_ERF:
            if converted:
                wt.fail("traceconvert now converts this file: take it out of NO_ERF")
            done.append("no ERF: " + NO_ERF[name])
        elif not converted:
            wt.fail("traceconvert failed (exit %d): %s" % (p.returncode, p.stderr.strip()))
        else:
            got, _ = table(weir, ["trace:erf:" + erf], [], tmp, "libtrace, converted ERF")
            same(got, ref, "libtrace on the traceconvert ERF")
            done.append("ERF")
    if "dpdk" in paths or "dpdk-queues" in paths:
        dev = "dpdk:net_pcap0,rx_pcap=" + path
        if fmt == "erf" or "+" in link:
            # libpcap, under net_pcap, reads no ERF; a device has one link type
            refused(weir, [dev], EAL, ["net_pcap0"], "DPDK on an ERF or mixed-link file")
            done.append("DPDK refuses it")
        else:
            if "dpdk" in paths:
                got, _ = table(weir, [dev], EAL, tmp, "DPDK net_pcap")
                same(got, ref, "DPDK net_pcap")
            if "dpdk-queues" in paths:
                got, s = table(weir, [dev + ",rx_pcap=" + path], ["--workers", "2"] + EAL,
                               tmp, "DPDK net_pcap, 2 queues")
                if s["inputs"][0]["queues"] != 2:
                    wt.fail("DPDK net_pcap with two rx_pcap files has %d queues" %
                            s["inputs"][0]["queues"])
                same(got, ref, "DPDK net_pcap, 2 queues, 2 workers", times=2)
            done.append("DPDK")
    return "%d flows: %s" % (len(ref), ", ".join(done))


def check_two_ports(weir, traces, tmp):
    """Two DPDK ports in one run (one EAL, two net_pcap devices, 2 workers each): the flows of
    both files, each port's packets counted on its own input."""
    files = ("ndpi__1kxun.pcap", "ndpi__teams.pcap")
    want, read = {}, []
    for f in files:
        ref, rs = table(weir, ["pcap:" + os.path.join(traces, f)], [], tmp, "reference " + f)
        read.append(rs["packets_read"])
        for k, (p, b) in ref.items():
            a = want.setdefault(k, [0, 0])
            a[0] += p
            a[1] += b
    inputs = ["dpdk:net_pcap%d,rx_pcap=%s" % (i, os.path.join(traces, f))
              for i, f in enumerate(files)]
    got, s = table(weir, inputs, ["--workers", "2"] + EAL, tmp, "two DPDK ports")
    same(got, want, "two DPDK ports")
    for i, n in enumerate(read):
        if s["inputs"][i]["packets"] != n:
            wt.fail("port %d read %d packets, the file has %d" % (i, s["inputs"][i]["packets"], n))
    return "two DPDK ports in one run: %d flows exact" % len(want)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weir", required=True)
    ap.add_argument("--traces", required=True)
    ap.add_argument("--only", help="check one file")
    ap.add_argument("--paths", default=",".join(PATHS), help="comma-separated subset of " +
                    ", ".join(PATHS))
    a = ap.parse_args()
    paths = set(a.paths.split(","))
    if not paths <= set(PATHS):
        print("unknown path in --paths: %s" % ", ".join(sorted(paths - set(PATHS))))
        return 2
    counts = wt.for_each_trace(
        a.traces, lambda row, tmp: check_file(a.weir, a.traces, row, tmp, paths), only=a.only,
        skip=REFUSED, prefix="weir-paths-")
    if counts is None:
        return 1
    passed, failed = counts
    if "dpdk" in paths and not a.only:
        with tempfile.TemporaryDirectory(prefix="weir-paths-") as tmp:
            try:
                print("ok   %s" % check_two_ports(a.weir, a.traces, tmp))
            except AssertionError as e:
                failed += 1
                print("FAIL two DPDK ports: %s" % e)
    print("paths: %d files give the same flows on every path, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
