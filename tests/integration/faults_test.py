#!/usr/bin/env python3
"""Faults and overload: weir keeps capturing, never crashes, counts every loss where it
happened and recovers by itself.

  udp-collector  no collector at the start, then nfcapd, then nfcapd killed, then back: a
                 capture of loopback (the export and the ICMP errors it draws) proves that
                 every record weir counts as sent went on the wire, and that every record on
                 the wire reached one of the two nfcapds or was in a datagram the host
                 refused (ICMP port unreachable, matched by IP id); weir counted refusals;
  tcp-down-start the TCP collector is down when weir starts and comes up later: received +
                 counted lost = exported, for records and packets, and the Exporting Process
                 Reliability record says the same;
  disk-full      IPFIX to a file on a small tmpfs that fills up, then room comes back: the
                 records that did not fit are counted not sent, the file holds whole messages
                 only (ipfixDump reads it without a complaint, records and packets equal
                 weir's "sent"), and writing resumes by itself;
  unwritable     an IPFIX file, --summary-json, --alerts-file and --control-socket on a
                 read-only file system: each refused before a packet is read, with a message
                 naming the path and the reason;
  overload       10x, then 100x more concurrent flows than --max-flows, and a churn of new
                 flows: no packet is dropped for lack of a cache slot, every eviction is
                 exported as a lack-of-resources record, and peak RSS stays at the cap (100x
                 and the churn within 5% of 10x; a cap ten times larger takes more);
  reload-storm   SIGHUP 100 times while two workers count an endless input, the file
                 alternately valid (other timeouts) and invalid: weir lives, refuses each
                 invalid file, and SIGTERM ends it with every packet accounted for.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipfix_test  # noqa: E402
import weirtest as wt  # noqa: E402


def pipe_weir(weir, args):
    return subprocess.Popen([weir, "-i", "pcap:-", "--idle-timeout", "1", "-q"] + args,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def feed(proc, data, quiet=2.0):
    """Writes part of the pcap stream, then leaves the pipe quiet long enough for the flows
    to leave idle and be exported."""
    proc.stdin.write(data)
    proc.stdin.flush()
    time.sleep(quiet)


def finish(proc):
    proc.stdin.close()
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        wt.fail("weir did not finish within 120 s of the end of its input")
    err = proc.stderr.read().decode()
    if proc.returncode != 0:
        wt.fail("weir exited %d: %s" % (proc.returncode, err))
    return err


def records_of(pcap, port):
    """Per IPFIX datagram on the wire, in order: (IP id, flow records, packets in them,
    whether it carries the template set)."""
    out = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==%d,cflow" % port, "-Y",
                          "udp.dstport==%d and not icmp" % port, "-T", "fields", "-E",
                          "occurrence=a", "-E", "aggregator=;", "-e", "ip.id", "-e",
                          "cflow.packets", "-e", "cflow.flowset_id"],
                         capture_output=True, text=True, check=True).stdout
    grams = []
    for line in out.splitlines():
        ipid, pk, sets = (line.split("\t") + ["", ""])[:3]
        vals = [int(v) for v in pk.split(";") if v]
        grams.append((int(ipid, 16), len(vals), sum(vals), "2" in sets.split(";")))
    return grams


def refused_ids(pcap):
    """The IP ids of the datagrams ICMP port unreachable errors quote."""
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "icmp.type==3 and icmp.code==3", "-T",
                          "fields", "-E", "occurrence=l", "-e", "ip.id"],
                         capture_output=True, text=True, check=True).stdout
    return {int(v, 16) for v in out.split()}


def test_udp_collector(weir, tmp):
    pcap, _ = ipfix_test.generated(tmp, flows=4000, seed=5, duration=40)
    hdr, chunks = ipfix_test.split_pcap(pcap, 4)
    port = wt.free_udp_port()
    wire = os.path.join(tmp, "lo.pcap")
    dump = wt.start_tcpdump(wire, "(udp and dst port %d) or (icmp and icmp[0] == 3)" % port)
    js = os.path.join(tmp, "s.json")
    dirs, collector = [], None

    def start_collector(tag):
        dirs.append(os.path.join(tmp, "nfcapd-" + tag))
        return wt.start_nfcapd(port, dirs[-1])

    drops = wt.udp_rcvbuf_errors()
    proc = pipe_weir(weir, ["-o", "ipfix:udp://127.0.0.1:%d" % port, "--summary-json", js])
    try:
        proc.stdin.write(hdr)
        feed(proc, chunks[0])                 # nobody listens: refused
        collector = start_collector("a")
        feed(proc, chunks[1])
        ipfix_test.stop(collector)             # the collector dies mid-run
        collector = None
        feed(proc, chunks[2])
        collector = start_collector("b")      # and comes back
        proc.stdin.write(chunks[3])
        finish(proc)
        time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
        if collector:
            ipfix_test.stop(collector)
        time.sleep(0.5)
        dump.send_signal(signal.SIGTERM)
        dump.wait(timeout=20)
    if wt.udp_rcvbuf_errors() != drops:
        wt.fail("the kernel dropped datagrams for a full socket buffer (RcvbufErrors): the "
                "totals would measure the kernel, not weir")
    summary = wt.load_summary(js, "udp-collector")
    out = summary["outputs"][0]
    grams = records_of(wire, port)
    on_wire = sum(g[1] for g in grams)
    wt.check_delivered(summary, out["url"], on_wire, "udp-collector")
    # Where each record on the wire went: refused by the host (ICMP port unreachable quoting
    # its datagram's IP id), not decodable (it reached a collector that had no template yet:
    # after each stretch of refusals, until the first datagram with the template set got
    # through), or received.
    refused = refused_ids(wire)
    lost = {"refused": [0, 0], "no template": [0, 0]}
    know = False
    for ipid, n, pk, tmpl in grams:
        if ipid in refused:
            lost["refused"][0] += n
            lost["refused"][1] += pk
            know = False
            continue
        know = know or tmpl
        if not know:
            lost["no template"][0] += n
            lost["no template"][1] += pk
    got = [wt.nfdump_totals(d) for d in dirs]
    got_rec, got_pk = sum(g[0] for g in got), sum(g[1] for g in got)
    if got_rec + lost["refused"][0] + lost["no template"][0] != on_wire or \
            got_pk + lost["refused"][1] + lost["no template"][1] + out["packets_lost"] != \
            summary["packets_in_flows"]:
        wt.fail("nfcapd received %d records (%d packets), lost in the network %s (records, "
                "packets); on the wire %d records, in flows %d packets" %
                (got_rec, got_pk, lost, on_wire, summary["packets_in_flows"]))
    if lost["refused"][0] == 0 or got[0][0] == 0 or got[1][0] == 0 or out["send_errors"] == 0:
        wt.fail("each phase must show: refused %d, first nfcapd %d, second %d, weir's "
                "refusals counted %d" % (lost["refused"][0], got[0][0], got[1][0],
                                         out["send_errors"]))
    # a collector that comes back gets the templates with the next message, not at the
    # periodic refresh (20 s): at most one datagram without them per comeback
    if lost["no template"][0] > 2 * max(g[1] for g in grams):
        wt.fail("%d records reached a collector with no template" % lost["no template"][0])
    return ("%d records on the wire = weir's sent; nfcapd a %d + nfcapd b %d + %d in "
            "datagrams refused by the host (ICMP) + %d before a collector had the template = "
            "on the wire; weir counted %d refusals" %
            (on_wire, got[0][0], got[1][0], lost["refused"][0], lost["no template"][0],
             out["send_errors"]))


def test_tcp_down_start(weir, tmp):
    pcap, _ = ipfix_test.generated(tmp, flows=3000, seed=9, duration=30)
    hdr, chunks = ipfix_test.split_pcap(pcap, 2)
    port = wt.free_tcp_port()  # nobody listens there, for now
    js = os.path.join(tmp, "s.json")
    proc = pipe_weir(weir, ["-o", "ipfix:tcp://127.0.0.1:%d" % port, "--summary-json", js])
    col = None
    try:
        proc.stdin.write(hdr)
        feed(proc, chunks[0])  # no collector: counted lost, retried
        if proc.poll() is not None:
            wt.fail("weir exited %d with its collector down" % proc.returncode)
        col = ipfix_test.TcpCollector(port, tmp, "a")
        deadline = time.time() + 60
        while not col.files and time.time() < deadline:
            time.sleep(0.1)
        if not col.files:
            wt.fail("weir did not connect within 60 s of the collector coming up")
        proc.stdin.write(chunks[1])
        finish(proc)
        col.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
    summary = wt.load_summary(js, "tcp-down-start")
    out = summary["outputs"][0]
    stats, got_rec, got_pk = [], 0, 0
    for f in col.files:
        recs = wt.decode_ipfixdump(f, stats=stats)
        got_rec += len(recs)
        got_pk += sum(int(r[wt.IE_PACKETS]) for r in recs)
    if out["records_lost"] == 0 or got_rec == 0:
        wt.fail("want losses before the collector came up and records after: lost %d, got %d"
                % (out["records_lost"], got_rec))
    wt.check_delivered(summary, out["url"], got_rec, "tcp-down-start", packets=got_pk)
    erel = [r for r in stats if int(r[wt.TID]) == 284][-1]
    if int(erel[166]) != out["records_lost"]:
        wt.fail("the reliability record says %s not sent, weir counted %d" %
                (erel[166], out["records_lost"]))
    return ("collector down at the start: %d records counted lost, then %d received; "
            "received + lost = exported (%d), for packets too" %
            (out["records_lost"], got_rec, summary["records_exported"]))


class Tmpfs:
    def __init__(self, path, size, ro=False):
        self.path = path
        os.mkdir(path)
        wt.sh("mount", "-t", "tmpfs", "-o", "size=%s%s" % (size, ",ro" if ro else ""),
              "tmpfs", path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.path], capture_output=True)
        return False


def test_disk_full(weir, tmp):
    pcap, _ = ipfix_test.generated(tmp, flows=6000, seed=13, duration=30)
    hdr, chunks = ipfix_test.split_pcap(pcap, 3)
    js = os.path.join(tmp, "s.json")
    with Tmpfs(os.path.join(tmp, "small"), "256k") as fs:
        filler = os.path.join(fs.path, "filler")
        with open(filler, "wb") as f:  # leaves room for about a third of the export
            f.write(b"\0" * (180 * 1024))
        out = os.path.join(fs.path, "flows.ipfix")
        proc = pipe_weir(weir, ["-o", "ipfix:file:" + out, "--summary-json", js])
        try:
            proc.stdin.write(hdr)
            feed(proc, chunks[0])
            feed(proc, chunks[1])  # the disk is full by now
            full = os.path.getsize(out)
            os.unlink(filler)       # room again
            proc.stdin.write(chunks[2])
            finish(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
        summary = wt.load_summary(js, "disk-full")
        o = summary["outputs"][0]
        gaps = []
        recs = wt.decode_ipfixdump(out, gaps=gaps)  # fails on any other complaint
        size = os.path.getsize(out)
    wt.check_delivered(summary, o["url"], len(recs), "disk-full",
                       packets=sum(int(r[wt.IE_PACKETS]) for r in recs))
    if o["records_lost"] == 0 or size <= full or not gaps:
        wt.fail("want records lost while full (%d), shown as a sequence gap (%d), and the "
                "file growing after room came back (%d -> %d bytes)" %
                (o["records_lost"], len(gaps), full, size))
    return ("%d records written, %d counted not written while the disk was full (%d sequence "
            "gap(s) in the file); the file decodes whole and grew from %d to %d bytes once "
            "room came back" % (o["records"], o["records_lost"], len(gaps), full, size))


def test_unwritable(weir, tmp):
    ok = os.path.join(tmp, "ok.ipfix")
    cases = [(["-o", "ipfix:file:%s/f.ipfix"], "'%s/f.ipfix'"),
             (["-o", "ipfix:file:" + ok, "--summary-json", "%s/s.json"], "'%s/s.json'"),
             (["-o", "ipfix:file:" + ok, "--alerts-file", "%s/a.jsonl"], "'%s/a.jsonl'"),
             (["-o", "ipfix:file:" + ok, "--control-socket", "%s/c.sock"], "'%s/c.sock'")]
    with Tmpfs(os.path.join(tmp, "ro"), "64k", ro=True) as fs:
        for args, want in cases:
            args = [a.replace("%s", fs.path) for a in args]
            p = wt.run_weir(weir, ["-i", "gen:flows=10,packets=1000"] + args, check=False)
            if p.returncode == 0 or want % fs.path not in p.stderr or \
                    "Read-only file system" not in p.stderr or "weir: summary" in p.stderr:
                wt.fail("%s: exit %d, %r (want a refusal naming %s before a packet is read)"
                        % (" ".join(args), p.returncode, p.stderr, want % fs.path))
    return "%d unwritable paths, each refused at the start with its path and reason" % \
        len(cases)


def run_measured(weir, args):
    """weir's summary and its peak RSS (KiB), from wait4."""
    proc = subprocess.Popen([weir] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        wt.fail("weir %s exited %d: %s" % (" ".join(args), proc.returncode, err.decode()))
    return ru.ru_maxrss


def test_overload(weir, tmp):
    cap = 50000
    runs = {}
    for tag, flows, extra, max_flows in (
            ("fit", cap * 9 // 10, "", cap), ("10x", cap * 10, "", cap),
            ("100x", cap * 100, "", cap), ("churn", cap * 10, ",newflows=200000", cap),
            ("10x, cap 10x", cap * 10, "", cap * 10)):
        js = os.path.join(tmp, "run.json")
        spec = "gen:flows=%d,packets=%d,popularity=uniform%s" % (flows, 2_000_000, extra)
        rss = run_measured(weir, ["-i", spec, "--max-flows", str(max_flows), "-o",
                                  "ipfix:file:" + os.path.join(tmp, "run.ipfix"),
                                  "--summary-json", js, "-q"])
        s = wt.load_summary(js, tag)
        if s["packets_no_slot"] != 0:
            wt.fail("%s: %d packets dropped for lack of a cache slot" % (tag, s["packets_no_slot"]))
        evicted = s["records"]["lack_of_resources"]
        if (flows > max_flows) != (evicted > 0):
            wt.fail("%s: %d evictions with %d flows in a cache of %d" %
                    (tag, evicted, flows, max_flows))
        runs[tag] = (rss, evicted)
    # The cap bounds memory: ten times more flows, or a churn of new ones, take no more than
    # 5% more than a full cache; the same flows with a cap ten times larger take far more.
    for tag in ("100x", "churn"):
        if runs[tag][0] > runs["10x"][0] * 1.05:
            wt.fail("peak RSS %s: %d KiB, %.3fx that of 10x (%d KiB): %s" %
                    (tag, runs[tag][0], runs[tag][0] / runs["10x"][0], runs["10x"][0], runs))
    per_flow = (runs["10x, cap 10x"][0] - runs["10x"][0]) * 1024 / (9 * cap)
    if per_flow < 64:
        wt.fail("a cap ten times larger took %.0f bytes per flow more: the cap does not bound "
                "memory (%s)" % (per_flow, runs))
    return ("--max-flows %d, no packet without a slot; " % cap) + "; ".join(
        "%s: %d evicted, peak RSS %d KiB" % (t, r[1], r[0]) for t, r in runs.items()) + \
        "; %.0f bytes of RSS per flow of cap" % per_flow


def test_reload_storm(weir, tmp):
    cfg = os.path.join(tmp, "weir.yaml")
    js = os.path.join(tmp, "s.json")
    base = ('input: ["gen:flows=20000,packets=0"]\noutput: ["ipfix:file:%s"]\n'
            'workers: 2\nsummary-json: "%s"\nquiet: true\n' % (os.path.join(tmp, "f.ipfix"), js))
    open(cfg, "w").write(base + "idle-timeout: 30\n")
    proc = subprocess.Popen([weir, "-c", cfg], stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        for k in range(100):
            if k % 2:
                open(cfg, "w").write(base + "idle-timeout: %d\nactive-timeout: %d\n" %
                                     (5 + k % 7, 60 + k))
            else:
                open(cfg, "w").write(base + "idle-timeout: nope\n")
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.02)
            if proc.poll() is not None:
                wt.fail("weir died in the storm: %d" % proc.returncode)
        time.sleep(0.5)
        err = wt.stop_weir(proc, signal.SIGTERM, 60, "SIGTERM after the storm")
    finally:
        if proc.poll() is None:
            proc.kill()
    refused = err.count("still running on the previous settings")
    taken = err.count("reload: idle-timeout:")
    if refused == 0 or taken == 0:
        wt.fail("the storm left %d refusals and %d reloads in the log: %s" %
                (refused, taken, err[-1000:]))
    s = wt.load_summary(js, "reload-storm")
    return ("100 SIGHUPs 20 ms apart: %d invalid files refused, %d reloads taken (pending ones "
            "merge); %d packets read, all accounted for" % (refused, taken, s["packets_read"]))


TESTS = {"udp-collector": test_udp_collector, "tcp-down-start": test_tcp_down_start,
         "disk-full": test_disk_full, "unwritable": test_unwritable, "overload": test_overload,
         "reload-storm": test_reload_storm}

if __name__ == "__main__":
    # meson runs each test in a network namespace of its own (unshare -n): loopback is down
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    sys.exit(wt.main(__doc__, TESTS, "faults"))
