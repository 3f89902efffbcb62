#!/usr/bin/env python3
"""Loss matrix: what weir delivers, loses and costs as offered load, concurrent flows, churn,
packet size and workers vary.

Four tables, each for 1 and 2 workers; weir runs its whole pipeline (parse, steering to the
workers when there are 2, flow cache, expiry, IPFIX export over UDP to a collector on loopback
that times each message's first record):
  dpdk:   the DPDK path: net_pcap with infinite_rx=1 replays, from memory and as fast as
          weir reads, a file of the synthetic source's frames (10k, 100k, 1M flows, 64 B and
          IMIX). 10M flows would need 10M mbufs (about 40 GB): not on this path here.
  flows:  concurrent flows 10k, 100k, 1M, 10M x size 64 and IMIX, offered as fast as the
          source can be read (delivered = the rate weir sustains);
  churn:  new flows per second 1k .. 1M with 100k concurrent flows, 64-byte frames, as fast
          as possible;
  rate:   offered 0.5 .. 8 Mpps x 100k and 1M flows, 64-byte frames, 10k new flows/s:
          delivered, lost by place, lateness.
The last three use weir's synthetic source offered live (gen:...,live=1): packets arrive at
the offered rate in wall-clock time into a receive ring of 4096 packets, like a link into a
NIC, and what arrives while the ring is full is lost and counted (as a NIC counts imissed).
It reaches rates and flow counts the DPDK device cannot hold in memory, but it builds each
frame on the reading thread, so its cost is inside every rate of those tables.

Per cell, over a steady window (from 1.5 s after the capture starts to 0.5 s before the stop,
read from weir's /metrics and /proc): delivered Mpps, drops by place (source ring or device,
steering ring, cache full, export queue) and CPU (cores busy); over the whole run: peak RSS
and RSS per flow-cache slot, packets lost in the start-up, export lateness (p50/p99/max of
idle-ended records: arrival minus flowEnd minus the idle timeout).

Usage: bench/loss_matrix.py [--seconds 6] [--quick] [--out DIR]
(builds nothing: run scripts/build.sh build first; bench/reproduce.sh does both)
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import ipfixlate
from compare import machine_line

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WEIR = os.path.join(ROOT, "build", "probe", "weir")
GEN_PCAP = os.path.join(ROOT, "build", "bench", "gen_pcap")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from weirtest import free_tcp_port, free_udp_port  # noqa: E402  (the tests' port helpers)
IDLE_S, ACTIVE_S = 2, 60
FAST = 1000000000  # offered "as fast as the source can be read": far beyond any sustainable rate


def sample(pid, port):
    """weir's counters from /metrics (summed over labels, by name and place) and its CPU
    seconds from /proc, at one moment."""
    m = {}
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as fh:
        for line in fh.read().decode().splitlines():
            if line.startswith("#") or " " not in line:
                continue
            key, val = line.rsplit(" ", 1)
            name = key.split("{")[0]
            if 'place="' in key:
                name += ":" + key.split('place="')[1].split('"')[0]
            m[name] = m.get(name, 0.0) + float(val)
    with open("/proc/%d/stat" % pid) as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    m["cpu_s"] = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    m["t"] = time.monotonic()
    return m


def cache_slots(flows, newflows):
    """--max-flows for a cell: the concurrent flows, plus those that left the active set but
    wait out the idle timeout, with a margin, as a power of two."""
    need = int((flows + newflows * (IDLE_S + 1)) * 1.3)
    slots = 65536
    while slots < need:
        slots *= 2
    return slots


def run_cell(tmp, seconds, workers, flows, size, newflows, rate):
    """Runs weir on one cell of the synthetic source; returns a dict of its figures."""
    spec = ("gen:flows=%d,packets=0,size=%s,popularity=uniform,rate=%d,newflows=%d,live=1,"
            "ring=4096" % (flows, size, rate, newflows))
    r = run_weir(tmp, seconds, workers, cache_slots(flows, newflows), [spec])
    r.update({"flows": flows, "size": size, "newflows": newflows, "rate": rate})
    return r


def run_dpdk_cell(tmp, seconds, workers, flows, size):
    """Runs weir on DPDK's net_pcap device replaying, for ever from memory, a file of the
    synthetic source's frames (as many packets as flows, uniform: about 63 % of the flows
    appear; every packet is held in an mbuf, about 4 KiB of memory each here)."""
    packets = max(200000, flows)
    pcap = os.path.join(tmp, "replay.pcap")
    subprocess.run([GEN_PCAP, "flows=%d,packets=%d,size=%s,popularity=uniform" %
                    (flows, packets, size), pcap], check=True, stdout=subprocess.DEVNULL)
    mbufs = packets + 50000
    mem = max(2048, mbufs * 6144 // 1048576 + 1024)  # MiB: 2 KiB mbufs need about 4 KiB here
    r = run_weir(tmp, seconds, workers, cache_slots(flows, 0),
                 ["dpdk:net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap, "--mbufs", str(mbufs),
                  "--", "--no-huge", "--no-shconf", "--no-pci", "-l", "0", "-m", str(mem),
                  "--log-level=lib.eal:error"])
    os.unlink(pcap)
    r.update({"flows": flows, "size": size, "newflows": 0, "rate": FAST})
    return r


def run_weir(tmp, seconds, workers, slots, inp):
    """weir with the input inp (its spec, then any options and EAL arguments), IPFIX over UDP
    to a lateness collector; returns its figures over the steady window and the whole run."""
    js, lat = os.path.join(tmp, "s.json"), os.path.join(tmp, "late.txt")
    port, mport = free_udp_port(), free_tcp_port()
    col = subprocess.Popen([sys.executable, os.path.join(HERE, "ipfixlate.py"), str(port), lat,
                            "--first-only"])
    time.sleep(0.3)
    eal = inp.index("--") if "--" in inp else len(inp)
    cmd = ([WEIR, "--allow-root", "-q", "-i"] + inp[:eal] +
           ["--workers", str(workers), "--duration", str(seconds), "--idle-timeout", str(IDLE_S),
            "--active-timeout", str(ACTIVE_S), "--max-flows", str(slots), "-o",
            "ipfix:udp://127.0.0.1:%d" % port, "--metrics", "127.0.0.1:%d" % mport,
            "--summary-json", js] + inp[eal:])
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    # the steady window: from 1.5 s after the start (start-up and the cache's first fill
    # behind) to 0.5 s before the stop
    m1 = sample_when_up(proc, mport, 1.5)
    time.sleep(seconds - 2.0)
    m2 = sample(proc.pid, mport)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    time.sleep(0.5)  # the last messages reach the collector
    col.send_signal(signal.SIGTERM)
    col.wait(timeout=30)
    err = proc.stderr.read()
    if proc.returncode != 0:
        raise SystemExit("weir failed (exit %d): %s\n%s" % (proc.returncode, " ".join(cmd), err))
    with open(js) as fh:
        s = json.load(fh)
    late, _ = ipfixlate.lateness(lat, IDLE_S, ACTIVE_S)
    d = {k: m2.get(k, 0) - m1.get(k, 0) for k in m2}
    read = d["weir_packets_read_total"]
    source = d["weir_drops_total:nic_missed"] + d["weir_drops_total:no_mbufs"]
    lost = source + d["weir_drops_total:ring_full"] + d["weir_drops_total:no_slot"]
    return {
        "workers": workers, "slots": slots, "mpps": read / d["t"] / 1e6,
        "lost_pct": 100.0 * lost / max(1, read + source),
        "drop_source": source,
        "drop_steer": d["weir_drops_total:ring_full"],
        "drop_cache": d["weir_drops_total:no_slot"],
        "evicted": s["records"]["lack_of_resources"],
        "drop_export": d["weir_drops_total:export_queue_full"] +
        d["weir_drops_total:export_not_sent"],
        "startup_lost": s["dropped"] + s["no_buffers"] - source,
        "flows_created": s["flows_created"], "cpu": d["cpu_s"] / d["t"],
        "rss_mib": ru.ru_maxrss / 1024.0,
        "late": (ipfixlate.percentile(late, 0.5), ipfixlate.percentile(late, 0.99),
                 ipfixlate.percentile(late, 1.0), len(late)),
    }


def sample_when_up(proc, mport, after):
    """The first sample, `after` seconds from when weir's /metrics first answers (its capture
    has started then; a DPDK device loads its file before)."""
    for _ in range(600):
        try:
            sample(proc.pid, mport)
            time.sleep(after)
            return sample(proc.pid, mport)
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("weir ended before its metrics answered: %s" %
                                 proc.stderr.read())
            time.sleep(0.1)
    raise SystemExit("weir's /metrics did not answer")


def human(n):
    for unit, div in (("M", 1000000), ("k", 1000)):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, unit)
    return "%g" % n if n < 1000 else "%.1fM" % (n / 1e6)


def drops(r):
    parts = [("source ring", r["drop_source"]), ("steering", r["drop_steer"]),
             ("cache full", r["drop_cache"]), ("export", r["drop_export"])]
    return ", ".join("%s %d" % p for p in parts if p[1]) or "0"


def late_cell(r):
    p50, p99, worst, n = r["late"]
    return "%.0f / %.0f / %.0f ms (%d)" % (p50, p99, worst, n) if n else "n/a"


def table(title, columns, rows, cells):
    """Prints one Markdown table: a heading, the columns, and cells(r) for each row."""
    print("\n### %s\n" % title)
    print("| %s |" % " | ".join(columns))
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| %s |" % " | ".join(cells(r)))


LATE = "lateness p50 / p99 / max (records)"


def table_flows(rows, out):
    table("Throughput vs concurrent flows (offered as fast as possible, 1k new flows/s)",
          ["workers", "size", "flows", "delivered Mpps", "CPU (cores)", "peak RSS MiB",
           "cache slots", "RSS per slot B", "flows seen", LATE], rows,
          lambda r: ["%d" % r["workers"], r["size"], human(r["flows"]), "%.2f" % r["mpps"],
                     "%.2f" % r["cpu"], "%.0f" % r["rss_mib"], human(r["slots"]),
                     "%.0f" % (r["rss_mib"] * 1048576 / r["slots"]),
                     "%d" % r["flows_created"], late_cell(r)])
    write_dat(out, "flows.dat", rows, lambda r: "%d %s %d %.4f" % (
        r["workers"], r["size"], r["flows"], r["mpps"]))


def table_dpdk(rows, out):
    table("The DPDK path: net_pcap replaying from memory as fast as weir reads "
          "(`infinite_rx=1`)",
          ["workers", "size", "flows", "delivered Mpps", "lost where", "CPU (cores)",
           "peak RSS MiB (the mbufs hold the file)", "flows seen"], rows,
          lambda r: ["%d" % r["workers"], r["size"], human(r["flows"]), "%.2f" % r["mpps"],
                     drops(r), "%.2f" % r["cpu"], "%.0f" % r["rss_mib"],
                     "%d" % r["flows_created"]])
    write_dat(out, "dpdk.dat", rows, lambda r: "%d %s %d %.4f" % (
        r["workers"], r["size"], r["flows"], r["mpps"]))


def table_churn(rows, out):
    table("Throughput vs churn (100k concurrent flows, 64 B, offered as fast as possible)",
          ["workers", "new flows/s", "delivered Mpps", "CPU (cores)", "flows seen", "evicted",
           LATE], rows,
          lambda r: ["%d" % r["workers"], human(r["newflows"]), "%.2f" % r["mpps"],
                     "%.2f" % r["cpu"], "%d" % r["flows_created"], "%d" % r["evicted"],
                     late_cell(r)])
    write_dat(out, "churn.dat", rows, lambda r: "%d %d %.4f" % (
        r["workers"], r["newflows"], r["mpps"]))


def table_rate(rows, out):
    table("Loss vs offered rate (64 B, 10k new flows/s; receive ring 4096 packets)",
          ["workers", "flows", "offered Mpps", "delivered Mpps", "lost", "lost where",
           "CPU (cores)", "lost in the first 1.5 s", LATE], rows,
          lambda r: ["%d" % r["workers"], human(r["flows"]), "%.1f" % (r["rate"] / 1e6),
                     "%.2f" % r["mpps"], "%.2f%%" % r["lost_pct"], drops(r), "%.2f" % r["cpu"],
                     "%d" % r["startup_lost"], late_cell(r)])
    write_dat(out, "rate.dat", rows, lambda r: "%d %d %.3f %.4f %.4f" % (
        r["workers"], r["flows"], r["rate"] / 1e6, r["mpps"], r["lost_pct"]))


def write_dat(out, name, rows, fmt):
    if out:
        with open(os.path.join(out, name), "w") as fh:
            fh.writelines(fmt(r) + "\n" for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--quick", action="store_true", help="a small grid of 3-s runs")
    ap.add_argument("--out", help="also write dpdk.dat, flows.dat, churn.dat and rate.dat here")
    a = ap.parse_args()
    if a.quick:
        a.seconds = 3
        grid_flows, sizes, grid_churn = [10000, 1000000], ["64"], [1000, 1000000]
        grid_rate, rate_flows = [500000, 8000000], [100000]
        grid_dpdk = [10000]
    else:
        grid_flows, sizes = [10000, 100000, 1000000, 10000000], ["64", "imix"]
        grid_churn = [1000, 10000, 100000, 1000000]
        grid_rate, rate_flows = [500000, 1000000, 2000000, 4000000, 8000000], [100000, 1000000]
        grid_dpdk = [10000, 100000, 1000000]
    print("%s; %d s per cell" % (machine_line(), a.seconds))
    tmp = tempfile.mkdtemp(prefix="weir-loss-")
    try:
        cell = lambda *k: run_cell(tmp, a.seconds, *k)  # noqa: E731
        dpdk = [run_dpdk_cell(tmp, a.seconds, w, f, s) for w in (1, 2) for s in sizes
                for f in grid_dpdk]
        table_dpdk(dpdk, a.out)
        flows = [cell(w, f, s, 1000, FAST) for w in (1, 2) for s in sizes for f in grid_flows]
        table_flows(flows, a.out)
        churn = [cell(w, 100000, "64", n, FAST) for w in (1, 2) for n in grid_churn]
        table_churn(churn, a.out)
        rate = [cell(w, f, "64", 10000, r) for w in (1, 2) for f in rate_flows
                for r in grid_rate]
        table_rate(rate, a.out)
    finally:
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
