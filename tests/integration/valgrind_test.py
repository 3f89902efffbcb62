#!/usr/bin/env python3
"""weir under valgrind's memcheck on the pcap path.

weir reads captures of different link types and formats with its own file reader (pcap: an
Ethernet trace with VLAN tags and IPv4 fragments and two worker threads, Linux cooked capture,
raw IP, BSD loopback; pcapng: a big-endian file of three interfaces of two link types, with
--biflow) and exports IPFIX to a file, each run under

  valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite

without suppressions (glibc, libpcap and the DPDK libraries weir links need none here). Every
run must end with exit status 0 and no valgrind error: no invalid read or write, no use of
uninitialised memory, no definite leak at exit. Each run's summary must balance
(weirtest.load_summary) and count the packets of the manifest, and its IPFIX file must decode
with ipfixDump to the records weir exported, holding the packets counted in flows
(weirtest.check_ipfix_file).
One more run gives a file weir refuses (pcap version 1): exit 1 with a message naming the
file, and no valgrind error on that way out either.

Valgrind cannot run an ASan binary: meson registers this test in builds without sanitizers.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest as wt  # noqa: E402

# (capture, extra weir options): different link types, both pcap and pcapng.
RUNS = [
    ("libtrace__vlan.pcap", ["--workers", "2"]),  # Ethernet, 802.1Q, non-IP, fragments
    ("libtrace__sll.pcap", []),  # Linux cooked capture v1, IPv4 and IPv6
    ("ndpi__dingtalk.pcap", []),  # raw IP
    ("arkime__http2-nghttp2.pcap", []),  # BSD loopback
    ("libtrace__complex.pcapng", ["--biflow"]),  # pcapng, Ethernet + BSD loopback
]
REFUSED = "libpcap__pcap-invalid-version-1.pcap"  # weir stops before reading it
HANG_S = 600  # valgrind is slow, but not this slow


def check_run(weir, traces, manifest, name, extra, tmp):
    out = os.path.join(tmp, "out.ipfix")
    js = os.path.join(tmp, "summary.json")
    log = os.path.join(tmp, "valgrind.log")
    path = os.path.join(traces, name)
    cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
           "--errors-for-leak-kinds=definite", "--log-file=" + log,
           weir, "--allow-root", "-i", "pcap:" + path,
           "-o", "ipfix:file:" + out, "--summary-json", js] + extra
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_S)
    except subprocess.TimeoutExpired:
        wt.fail("%s: weir under valgrind still running after %d s" % (name, HANG_S))
    report = open(log).read() if os.path.exists(log) else ""
    want = 1 if name == REFUSED else 0
    if p.returncode != want or "ERROR SUMMARY: 0 errors" not in report:
        wt.fail("%s: exit %d under valgrind; weir said:\n%s\nvalgrind said:\n%s" %
                (name, p.returncode, p.stderr, report))
    if name == REFUSED:
        if "weir: input 'pcap:%s': " % path not in p.stderr:
            wt.fail("%s: the refusal does not name the file: %s" % (name, p.stderr))
        return 0
    summary = wt.load_summary(js, name)
    if summary["packets_read"] != int(manifest[name]["packets"]):
        wt.fail("%s: read %d packets, the manifest says %s" %
                (name, summary["packets_read"], manifest[name]["packets"]))
    wt.check_ipfix_file(summary, out, name)
    return summary["packets_read"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weir", required=True, help="the weir binary itself (not a wrapper)")
    ap.add_argument("--traces", required=True)
    a = ap.parse_args()
    if subprocess.run(["valgrind", "--version"], capture_output=True).returncode != 0:
        print("FAIL valgrind: valgrind not found (scripts/deps.sh installs it)")
        return 1
    path = os.path.join(a.traces, "MANIFEST.csv")
    if not os.path.exists(path):
        print("FAIL valgrind: corpus not found: %s" % path)
        return 1
    manifest = {r["file"]: r for r in csv.DictReader(open(path, newline=""))}
    failed, packets = 0, 0
    for name, extra in RUNS + [(REFUSED, [])]:
        with tempfile.TemporaryDirectory(prefix="weir-valgrind-") as tmp:
            try:
                n = check_run(a.weir, a.traces, manifest, name, extra, tmp)
                packets += n
                print("ok   %-40s %s, no valgrind error" %
                      (name, "refused" if name == REFUSED else "%d packets" % n))
            except AssertionError as e:
                failed += 1
                print("FAIL %-40s %s" % (name, e))
    if failed:
        print("FAIL valgrind: %d of %d runs failed" % (failed, len(RUNS) + 1))
        return 1
    print("ok   valgrind: %d captures (%d packets) under memcheck: exit 0, no error, no "
          "definite leak, counters balanced; a refused file: exit 1, no error" %
          (len(RUNS), packets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
