#!/usr/bin/env python3
"""Soak: weir captures live on a veth pair for a bounded time while tcpreplay sends a trace
of many flows at the highest rate it can (--topspeed, looped), with short timeouts so flows
end and start all the time. Every second it samples weir's RSS and, from /metrics, the packet
counters, the flow cache and the export queue. A collector in the capture's
namespace receives the IPFIX export and measures each record's lateness: arrival minus the
moment it was due (flowEnd + idle timeout for an idle end, flowStart + active timeout for
an active end).

It prints the samples, then a verdict: RSS flat (the last quarter's peak within 5% of the
second quarter's), the export queue flat (the last quarter's median within 1.5x of the
second quarter's, or under 64 entries), and the worst lateness
against the bar (idle timeout + 1 s from the flow's last packet, i.e. lateness <= 1 s).

Usage: bench/soak.py [--seconds 120] [--flows 1000000] [--idle 2] [--active 30]
(root: it creates network namespaces; builds nothing: run scripts/build.sh build first)
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import ipfixlate

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WEIR = os.path.join(ROOT, "build", "probe", "weir")
BENCH = os.path.join(ROOT, "build", "bench", "bench_pipeline")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from weirtest import in_netns, sh, veth_pair  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--flows", type=int, default=1000000)
    ap.add_argument("--idle", type=int, default=2)
    ap.add_argument("--active", type=int, default=30)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="weir-soak-")
    pcap = os.path.join(tmp, "t.pcap")
    subprocess.run([BENCH, "--write-pcap", pcap, "--packets", "2000000", "--flows",
                    str(a.flows)], check=True, stdout=subprocess.DEVNULL)
    procs = []
    with veth_pair() as (ns_tx, tx, ns_rx, rx):
        sh("ip", "-n", ns_rx, "link", "set", "lo", "up")  # the collector and /metrics
        try:
            lat = os.path.join(tmp, "lateness.txt")
            col = subprocess.Popen(in_netns(ns_rx) + [
                sys.executable, os.path.join(HERE, "ipfixlate.py"), "4739", lat])
            procs.append(col)
            time.sleep(0.5)
            weir = subprocess.Popen(in_netns(ns_rx) + [
                WEIR, "--allow-root", "-i", "pcap:" + rx, "-o", "ipfix:udp://127.0.0.1:4739",
                "--idle-timeout", str(a.idle), "--active-timeout", str(a.active),
                "--metrics", "127.0.0.1:9465", "-q"])
            procs.append(weir)
            time.sleep(1.0)  # weir's capture open (ip netns exec runs it in its own place)
            sender = subprocess.Popen(in_netns(ns_tx) + ["tcpreplay", "-q", "-i", tx,
                                                         "--topspeed", "--loop=0", pcap],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(sender)
            print("| s | Mpps read | RSS MiB | active flows | cache occupancy | export queue | "
                  "drops |")
            print("|---|---|---|---|---|---|---|")
            samples, last = [], None
            for sec in range(1, a.seconds + 1):
                time.sleep(1.0)
                m = metrics_in(ns_rx)
                with open("/proc/%d/status" % weir.pid) as fh:
                    rss = int(fh.read().split("VmRSS:")[1].split()[0])
                read = m.get("weir_packets_read_total", 0)
                mpps = (read - last) / 1e6 if last is not None else 0.0
                last = read
                drops = m.get("weir_drops_total", 0)
                row = (sec, mpps, rss / 1024, m.get("weir_flows_active", 0),
                       m.get("weir_flowcache_occupancy_ratio", 0),
                       m.get("weir_export_queue_depth", 0), drops)
                samples.append(row)
                if sec % 5 == 0 or sec == 1:
                    print("| %d | %.3f | %.1f | %d | %.3f | %d | %d |" % row)
            sender.send_signal(signal.SIGTERM)
            sender.wait()
            time.sleep(a.idle + 2)  # the last flows leave idle and are exported
            weir.send_signal(signal.SIGTERM)
            weir.wait(timeout=120)
            time.sleep(0.5)
            col.send_signal(signal.SIGTERM)
            col.wait(timeout=30)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
    verdict(a, samples, lat)
    shutil.rmtree(tmp)
    return 0


def metrics_in(ns):
    """/metrics of the weir in namespace ns (its loopback is not ours)."""
    p = subprocess.run(in_netns(ns) + [sys.executable, "-c",
                                       "import urllib.request,sys;sys.stdout.write(urllib."
                                       "request.urlopen('http://127.0.0.1:9465/metrics',"
                                       "timeout=2).read().decode())"],
                       capture_output=True, text=True)
    out = {}
    for ln in p.stdout.splitlines():
        if ln.startswith("#") or " " not in ln:
            continue
        key, v = ln.rsplit(" ", 1)
        name = key.split("{")[0]
        if name == "weir_packets_total" or name == "weir_records_total":
            continue
        out[name] = out.get(name, 0.0) + float(v)
    return out


def verdict(a, samples, lat):
    n = len(samples)
    q2 = samples[n // 4:n // 2]
    q4 = samples[3 * n // 4:]
    print()
    print("mean rate %.3f Mpps over %d s" % (sum(s[1] for s in samples[1:]) / max(1, n - 1), n))
    # A queue swings with the scheduler: flat means its median in the last quarter is no
    # more than 1.5x that of the second quarter (or under 64 entries); RSS by its peak, 5%.
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    rss2, rss4 = max(s[2] for s in q2), max(s[2] for s in q4)
    queue2, queue4 = med([s[5] for s in q2]), med([s[5] for s in q4])
    rss_flat = flat_line("RSS MiB", "peak", rss2, rss4, rss4 <= rss2 * 1.05)
    queue_flat = flat_line("export queue", "median", queue2, queue4,
                           queue4 <= max(queue2 * 1.5, 64))
    flat = rss_flat and queue_flat
    # due: an idle end at flowEnd + idle timeout, an active end at flowStart + active timeout
    late, other = ipfixlate.lateness(lat, a.idle, a.active)
    print("%d records ended otherwise (end of flow, evicted, at the stop): not timed" % other)
    if late:
        worst = late[-1]
        print("export lateness over %d records: median %.0f ms, p99 %.0f ms, max %.0f ms "
              "(bar: 1000 ms): %s" % (len(late), ipfixlate.percentile(late, 0.5),
                                      ipfixlate.percentile(late, 0.99), worst,
                                      "within" if worst <= 1000 else "LATE"))
    else:
        print("no record reached the collector")
    print("verdict: %s" % ("flat and on time" if flat and late and late[-1] <= 1000 else
                           "NOT flat or late"))


def flat_line(name, what, v2, v4, ok):
    """Prints how a figure went from the second quarter to the last; returns ok."""
    print("%-13s second quarter %s %.1f, last quarter %s %.1f: %s" %
          (name, what, v2, what, v4, "flat" if ok else "GROWING"))
    return ok


if __name__ == "__main__":
    sys.exit(main())
