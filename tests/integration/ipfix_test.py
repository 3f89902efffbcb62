#!/usr/bin/env python3
"""IPFIX conformance: weir's export read by independent collectors, each started on loopback.

Every run exports the same flows twice, over UDP to the collector under test and to a file
that libfixbuf's ipfixDump decodes as the reference; the inputs are weir's generated trace
(with its ground truth) and the shared corpus, sixteen captures per run.

  nfacctd      pmacct's collector with a print plugin: its table, aggregated by 5-tuple, ToS,
               VLAN, interface and start/end times, equals the reference aggregated alike,
               totals of packets and bytes included; no warning or error in its log;
  tshark       a loopback capture of the UDP export: no malformed packet and no expert
               warning (tshark checks IPFIX sequence numbers itself), every flow record
               decoded with the reference's packet total, the statistics options records
               decoded; and a copy with one message cut out must make tshark complain, so
               the check can fail;
  refresh      --template-refresh-msgs 4: the template set (and the options templates) in
               exactly every fourth message, sequence numbers continuous (RFC 7011 3.1, as
               tshark checks them; nfcapd, which leaves options records out of its count,
               may differ only after messages carrying them);
  options      the final statistics records in the file equal weir's own counters: messages,
               flow records and octets sent before the last message, ignored packets;
  sampled      two sampled inputs (count:10 and count:4) exported at once to nfacctd with
               renormalisation on and to nfcapd: nfacctd, reading the sampler options records,
               scales each flow up by its own selector's rate, so its totals equal the
               reference's packets and bytes times 10 or 4 by selectorId; nfcapd decodes the
               same messages with no bad packet and totals equal to weir's (unscaled) counters;
  tcp-restart  the TCP collector closes mid-run and comes back: weir keeps reading, counts
               what it cannot send, reconnects, starts the new session with its templates, and
               received + counted-lost = exported, for records and for packets, with the
               Exporting Process Reliability record saying the same.
"""
import collections
import csv
import glob
import ipaddress
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest as wt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENTRACE = os.path.join(HERE, "..", "..", "scripts", "gentrace.py")
REFUSED = {"libpcap__pcap-invalid-version-1.pcap"}  # weir refuses it (corpus test)
BATCH = 16  # inputs per weir run


def generated(tmp, flows=1500, seed=21, duration=None):
    pcap, truth = os.path.join(tmp, "g.pcap"), os.path.join(tmp, "g.csv")
    args = [sys.executable, GENTRACE, pcap, "--truth", truth, "--flows", str(flows),
            "--seed", str(seed)]
    if duration:
        args += ["--duration", str(duration)]
    subprocess.run(args, check=True)
    return pcap, truth


def input_batches(tmp, traces):
    """[generated trace], then the shared captures BATCH at a time."""
    rows = list(csv.DictReader(open(os.path.join(traces, "MANIFEST.csv"), newline="")))
    files = [os.path.join(traces, r["file"]) for r in rows if r["file"] not in REFUSED]
    pcap, truth = generated(tmp)
    return [[pcap]] + [files[i:i + BATCH] for i in range(0, len(files), BATCH)], truth


def export_both(weir, tmp, inputs, udp_port, tag, extra=()):
    """One weir run: UDP to the collector and a reference file. Returns (reference records,
    reference stats records, summary)."""
    out = os.path.join(tmp, "ref-%s.ipfix" % tag)
    js = os.path.join(tmp, "sum-%s.json" % tag)
    args = []
    for i in inputs:
        args += ["-i", "pcap:" + i]
    args += ["-o", "ipfix:udp://127.0.0.1:%d" % udp_port, "-o", "ipfix:file:" + out,
             "--udp-rate", "2000", "--summary-json", js, "-q"] + list(extra)
    wt.run_weir(weir, args)
    summary = wt.load_summary(js, tag)
    stats = []
    recs = wt.decode_ipfixdump(out, stats=stats)
    if len(recs) != summary["records_exported"]:
        wt.fail("%s: ipfixDump decoded %d records, weir exported %d" %
                (tag, len(recs), summary["records_exported"]))
    wt.check_delivered(summary, "file:" + out, len(recs), tag,
                       packets=sum(int(r[wt.IE_PACKETS]) for r in recs))
    return recs, stats, summary


class Exported:
    """Sums, over weir runs, what weir exported and what one output counted as not sent, to
    set against what that output's collector holds (check_delivered over several runs)."""

    def __init__(self, url):
        self.url = url
        self.records = self.packets = self.records_lost = self.packets_lost = 0

    def add(self, summary):
        o = wt.output_entry(summary, self.url)
        self.records += summary["records_exported"]
        self.packets += summary["packets_in_flows"]
        self.records_lost += o["records_lost"]
        self.packets_lost += o["packets_lost"]

    def check(self, where, records, packets):
        """The collector holds `records` flow records with `packets` packets in all."""
        total = {"records_exported": self.records, "packets_in_flows": self.packets,
                 "outputs": [{"url": self.url, "records_lost": self.records_lost,
                              "packets_lost": self.packets_lost}]}
        wt.check_delivered(total, self.url, records, where, packets=packets)


def stop(proc):
    """SIGINT to a collector, and a kill if it has not gone in 20 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def no_kernel_drops(before, what):
    if wt.udp_rcvbuf_errors() != before:
        wt.fail("%s: the kernel dropped datagrams for a full socket buffer (RcvbufErrors); "
                "the comparison would measure the kernel, not weir" % what)


# ---------------------------------------------------------------------------------------- #
# nfacctd

NFACCTD_KEYS = ("SRC_IP", "DST_IP", "SRC_PORT", "DST_PORT", "PROTOCOL", "TOS", "VLAN",
                "IN_IFACE", "TIMESTAMP_START", "TIMESTAMP_END")
PROTO_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "sctp": 132, "gre": 47,
               "esp": 50, "ah": 51, "igmp": 2, "ipv6": 41, "pim": 103, "ospf": 89}


def proto_number(name):
    """nfacctd prints protocols by their /etc/protocols name."""
    try:
        return socket.getprotobyname(name)
    except OSError:
        return PROTO_NAMES.get(name, name)


def ref_nfacctd_row(r):
    src = r.get(wt.IE_SRC4) or str(ipaddress.ip_address(r[wt.IE_SRC6]))
    dst = r.get(wt.IE_DST4) or str(ipaddress.ip_address(r[wt.IE_DST6]))
    return (src, dst, int(r.get(wt.IE_SPORT, 0)), int(r.get(wt.IE_DPORT, 0)),
            int(r[wt.IE_PROTO]), int(r.get(5, 0)), int(r.get(wt.IE_VLAN, 0)), int(r[10]),
            r[152], r[153])


def test_nfacctd(weir, tmp, traces):
    batches, _ = input_batches(tmp, traces)
    port = wt.free_udp_port()
    outdir = os.path.join(tmp, "nfacctd")
    os.mkdir(outdir)
    conf = os.path.join(tmp, "nfacctd.conf")
    log = os.path.join(tmp, "nfacctd.log")
    with open(conf, "w") as fh:
        fh.write("daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: %d\n"
                 "nfacctd_pipe_size: 8388608\nplugins: print[p]\n"
                 "aggregate[p]: src_host, dst_host, src_port, dst_port, proto, tos, vlan, "
                 "in_iface, timestamp_start, timestamp_end, flows\n"
                 "print_output[p]: csv\nprint_output_file[p]: %s/out-%%s.csv\n"
                 "print_refresh_time[p]: 1\nprint_output_file_append[p]: true\n"
                 "logfile: %s\n" % (port, outdir, log))
    ref = collections.Counter()
    ref_bytes = collections.Counter()
    total_records = 0
    sent = Exported("udp://127.0.0.1:%d" % port)
    collector = subprocess.Popen(["nfacctd", "-f", conf], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
    try:
        wt.wait_udp(port, collector, "nfacctd")
        drops = wt.udp_rcvbuf_errors()
        for n, inputs in enumerate(batches):
            recs, _, summary = export_both(weir, tmp, inputs, port, "b%d" % n)
            sent.add(summary)
            total_records += len(recs)
            for r in recs:
                k = ref_nfacctd_row(r)
                ref[k] += int(r[wt.IE_PACKETS])
                ref_bytes[k] += int(r[wt.IE_OCTETS])
        time.sleep(2.5)  # two print intervals: everything received is written
        no_kernel_drops(drops, "nfacctd")
    finally:
        stop(collector)
    got = collections.Counter()
    got_bytes = collections.Counter()
    got_flows = 0
    for fn in glob.glob(os.path.join(outdir, "out-*.csv")):
        for row in csv.DictReader(open(fn, newline="")):
            got_flows += int(row["FLOWS"])
            proto = row["PROTOCOL"]
            proto = int(proto) if proto.isdigit() else proto_number(proto)
            k = (row["SRC_IP"], row["DST_IP"], int(row["SRC_PORT"]), int(row["DST_PORT"]),
                 proto, int(row["TOS"]), int(row["VLAN"]), int(row["IN_IFACE"]),
                 row["TIMESTAMP_START"], row["TIMESTAMP_END"])
            got[k] += int(row["PACKETS"])
            got_bytes[k] += int(row["BYTES"])
    # ipfixDump prints times as "YYYY-MM-DD HH:MM:SS.mmm", nfacctd with microseconds.
    ref = {k[:8] + (k[8] + "000", k[9] + "000"): v for k, v in ref.items()}
    ref_bytes = {k[:8] + (k[8] + "000", k[9] + "000"): v for k, v in ref_bytes.items()}
    if sum(got.values()) != sum(ref.values()) or sum(got_bytes.values()) != sum(ref_bytes.values()):
        wt.fail("nfacctd totals %d packets / %d bytes, weir exported %d / %d" % (
            sum(got.values()), sum(got_bytes.values()), sum(ref.values()),
            sum(ref_bytes.values())))
    sent.check("nfacctd", records=got_flows, packets=sum(got.values()))
    diff = [k for k in set(got) | set(ref) if got.get(k) != ref.get(k) or
            got_bytes.get(k) != ref_bytes.get(k)]
    if diff:
        wt.fail("nfacctd rows differ from the reference (%d), e.g. %s: nfacctd %s, weir %s" % (
            len(diff), diff[0], (got.get(diff[0]), got_bytes.get(diff[0])),
            (ref.get(diff[0]), ref_bytes.get(diff[0]))))
    bad = [l for l in open(log) if " ERROR " in l or " WARN " in l]
    if bad:
        wt.fail("nfacctd complained: %s" % bad[:3])
    return ("%d runs, %d records -> %d nfacctd rows of %d flows, %d packets, %d bytes, all "
            "equal" % (len(batches), total_records, len(got), got_flows, sum(got.values()),
                       sum(got_bytes.values())))


# ---------------------------------------------------------------------------------------- #
# tshark (and nfcapd as the sink)

class Capture:
    """tcpdump on lo for one UDP port, written to a pcap, with nfcapd receiving."""

    def __init__(self, tmp, tag):
        self.port = wt.free_udp_port()
        self.pcap = os.path.join(tmp, "cap-%s.pcap" % tag)
        self.flowdir = os.path.join(tmp, "nfcapd-%s" % tag)

    def __enter__(self):
        self.dump = wt.start_tcpdump(self.pcap, "udp and dst port %d" % self.port)
        self.nfcapd = wt.start_nfcapd(self.port, self.flowdir)
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)
        for p in (self.dump, self.nfcapd):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        return False

    def tshark(self, *args, pcap=None):
        p = subprocess.run(["tshark", "-r", pcap or self.pcap, "-d",
                            "udp.port==%d,cflow" % self.port] + list(args),
                           capture_output=True, text=True)
        if p.returncode != 0:
            wt.fail("tshark failed: %s" % p.stderr.strip())
        return p.stdout

    def expert(self, pcap=None):
        """tshark's expert infos of warning level and above (malformed packets are errors)."""
        out = self.tshark("-q", "-z", "expert,warn", pcap=pcap)
        return [l.strip() for l in out.splitlines()
                if l.strip() and l.strip()[0].isdigit()]

    def messages(self):
        """Per message: (sequence number, flowset ids)."""
        out = self.tshark("-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                          "-e", "cflow.sequence", "-e", "cflow.flowset_id")
        msgs = []
        for line in out.splitlines():
            seq, sets = line.split("\t")
            msgs.append((int(seq), [int(s) for s in sets.split(";") if s]))
        return msgs

    def flows(self):
        """The flow records tshark decodes in the capture: (records, packets)."""
        out = self.tshark("-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                          "-e", "cflow.packets")
        vals = [int(v) for line in out.splitlines() for v in line.split(";") if v]
        return len(vals), sum(vals)

    def nfdump_exporter(self):
        files = glob.glob(os.path.join(self.flowdir, "nfcapd.*"))
        out = subprocess.run(["nfdump", "-E", files[0]], capture_output=True, text=True).stdout
        return out


def test_tshark(weir, tmp, traces):
    batches, _ = input_batches(tmp, traces)
    packets = records = 0
    with Capture(tmp, "tshark") as cap:
        sent = Exported("udp://127.0.0.1:%d" % cap.port)
        drops = wt.udp_rcvbuf_errors()
        for n, inputs in enumerate(batches):
            recs, _, summary = export_both(weir, tmp, inputs, cap.port, "t%d" % n,
                                           extra=["--timestamps", "ns"])
            sent.add(summary)
            packets += summary["packets_in_flows"]
            records += len(recs)
        no_kernel_drops(drops, "tshark")
    warnings = cap.expert()
    if warnings:
        wt.fail("tshark expert infos on weir's export: %s" % warnings[:5])
    out = cap.tshark("-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                     "-e", "cflow.packets", "-e", "cflow.notsent_flows",
                     "-e", "cflow.ignore_packets")
    got_records = got_packets = stats = 0
    for line in out.splitlines():
        pk, notsent, _ = (line.split("\t") + ["", ""])[:3]
        vals = [int(v) for v in pk.split(";") if v]
        got_records += len(vals)
        got_packets += sum(vals)
        stats += len([v for v in notsent.split(";") if v])
    sent.check("tshark", records=got_records, packets=got_packets)
    if got_records != records or got_packets != packets:
        wt.fail("tshark decoded %d flow records with %d packets; weir exported %d with %d" %
                (got_records, got_packets, records, packets))
    if stats < len(batches) * 2:
        wt.fail("tshark decoded %d Exporting Process Reliability records; expected at least "
                "two per run (at the start and at the end)" % stats)
    # The check can fail: cut one message carrying data records out of the capture.
    cut = os.path.join(tmp, "cut.pcap")
    subprocess.run(["editcap", "-r", cap.pcap, cut, "1-2", "4-10000000"], check=True,
                   capture_output=True)
    if not any("sequence" in w.lower() for w in cap.expert(cut)):
        wt.fail("tshark did not notice a message missing from the capture")
    return ("%d runs: %d flow records, %d packets decoded by tshark, %d reliability records, "
            "no expert info (and a gap is flagged)" % (len(batches), records, packets, stats))


def test_refresh(weir, tmp, traces):
    pcap, _ = generated(tmp, flows=3000, seed=3)
    with Capture(tmp, "refresh") as cap:
        drops = wt.udp_rcvbuf_errors()
        recs, stats, summary = export_both(weir, tmp, [pcap], cap.port, "r",
                                           extra=["--template-refresh-msgs", "4"])
        no_kernel_drops(drops, "refresh")
    got_records, got_packets = cap.flows()
    wt.check_delivered(summary, "udp://127.0.0.1:%d" % cap.port, got_records, "refresh",
                       packets=got_packets)
    msgs = cap.messages()
    if len(msgs) < 12:
        wt.fail("only %d messages: too few to check a refresh every 4" % len(msgs))
    # Which messages carry templates: those with set id 2; each also has the options set (3).
    bad = [i for i, (_, sets) in enumerate(msgs)
           if (2 in sets) != (i % 4 == 0 and i < len(msgs) - 1) and i != len(msgs) - 1]
    if bad:
        wt.fail("template sets not in exactly every 4th message: messages %s" % bad[:8])
    if any((2 in sets) != (3 in sets) for _, sets in msgs[:-1]):
        wt.fail("a template set without the options templates, or the reverse")
    # Sequence numbers: tshark reports gaps as expert infos; weir's counts say how far the
    # numbers must have gone: flow records plus options records before the last message.
    warnings = cap.expert()
    if warnings:
        wt.fail("tshark: %s" % warnings[:5])
    last_seq = msgs[-1][0]
    opts = sum(len([s for s in sets if s in (282, 283, 284)]) for _, sets in msgs[:-1])
    if last_seq != summary["records_exported"] + opts:
        wt.fail("last sequence number %d, expected %d flow records + %d statistics records" %
                (last_seq, summary["records_exported"], opts))
    # nfcapd 1.7 does not count options data records in its sequence tracking (RFC 7011
    # 3.1 counts all data records, as tshark does), so it reports one failure for exactly
    # each message that follows one carrying options records, and no other.
    ex = cap.nfdump_exporter()
    after_opts = sum(1 for i in range(1, len(msgs))
                     if any(s in (268, 282, 283, 284) for s in msgs[i - 1][1]))
    seen = [l for l in ex.splitlines() if "Sequence failures:" in l]
    failures = int(seen[0].split("Sequence failures:")[1].split(",")[0]) if seen else -1
    if not 0 <= failures <= after_opts:
        wt.fail("nfcapd's sequence failures (%d) are not explained by the %d messages after "
                "options records: %s" % (failures, after_opts, ex.strip()))
    return ("%d messages, templates in every 4th, sequence numbers continuous (tshark); "
            "nfcapd: %d failures, at most one after each of %d messages with options records" %
            (len(msgs), failures, after_opts))


def test_options(weir, tmp, traces):
    # A corpus capture with malformed packets: they are the ignored packets.
    f = os.path.join(traces, "ndpi__fuzz-2006-06-26-2594.pcap")
    recs, stats, summary = export_both(weir, tmp, [f], wt.free_udp_port(), "o")
    out = [o for o in summary["outputs"] if o["url"].startswith("file:")][0]
    last = {int(r[wt.TID]): r for r in stats}
    if len(stats) < 6 or set(last) != set(wt.STATS_TIDS):
        wt.fail("statistics records: %d, templates %s" % (len(stats), sorted(last)))
    ms, mr, er = last[282], last[283], last[284]
    # The last message carries only the statistics: they count every message before it.
    if int(ms[41]) != out["messages"] - 1 or int(ms[42]) != out["records"]:
        wt.fail("Metering Process Statistics: %s messages / %s records; weir sent %d / %d" %
                (ms[41], ms[42], out["messages"] - 1, out["records"]))
    if int(mr[164]) != summary["packets_malformed"] or summary["packets_malformed"] == 0:
        wt.fail("ignoredPacketTotalCount %s, weir counted %d malformed" % (
            mr[164], summary["packets_malformed"]))
    if int(er[166]) != out["records_lost"] or int(er[167]) != out["packets_lost"]:
        wt.fail("notSent %s flows / %s packets; weir lost %d / %d" % (
            er[166], er[167], out["records_lost"], out["packets_lost"]))
    return ("final statistics: %s messages, %s records, %s octets sent; %s packets ignored" %
            (ms[41], ms[42], ms[40], mr[164]))


# ---------------------------------------------------------------------------------------- #
# TCP collector restart

class TcpCollector:
    """A TCP collector that stores each connection's byte stream in a file of its own (an
    IPFIX stream is messages back to back, as in a file, so ipfixDump decodes it). stop()
    closes gracefully: it stops listening, half-closes each connection and keeps reading
    until weir closes its end, so nothing weir sent is lost in the collector's buffers."""

    def __init__(self, port, tmp, tag):
        self.tmp, self.tag, self.conns, self.files = tmp, tag, [], []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.port = self.lsock.getsockname()[1]
        self.lsock.listen(4)
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        self.lsock.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            path = os.path.join(self.tmp, "%s-conn%d.ipfix" % (self.tag, len(self.files)))
            self.files.append(path)
            self.conns.append(c)
            t = threading.Thread(target=self._read, args=(c, path), daemon=True)
            t.start()
            self.threads.append(t)

    def _read(self, c, path):
        with open(path, "wb") as fh:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                fh.write(data)
        c.close()

    def stop(self):
        self.stopping.set()
        self.lsock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_WR)  # weir sees the end and closes its side
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=30)


def split_pcap(path, parts):
    """The records of a pcap file in `parts` consecutive chunks of bytes, and its header."""
    data = open(path, "rb").read()
    hdr, off, offs = data[:24], 24, []
    while off + 16 <= len(data):
        offs.append(off)
        off += 16 + struct.unpack("<I", data[off + 8:off + 12])[0]
    offs.append(len(data))
    n = len(offs) - 1
    cuts = [offs[n * i // parts] for i in range(parts)] + [len(data)]
    return hdr, [data[cuts[i]:cuts[i + 1]] for i in range(parts)]


def test_tcp_restart(weir, tmp, traces):
    pcap, _ = generated(tmp, flows=3000, seed=8, duration=30)
    hdr, chunks = split_pcap(pcap, 3)
    col = TcpCollector(0, tmp, "a")
    port = col.port
    js = os.path.join(tmp, "tcp.json")
    proc = subprocess.Popen([weir, "-i", "pcap:-", "-o", "ipfix:tcp://127.0.0.1:%d" % port,
                             "--idle-timeout", "2", "--summary-json", js, "-q"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(hdr + chunks[0])
        proc.stdin.flush()
        time.sleep(2)  # the first third's flows expire and go out
        col.stop()     # the collector goes away mid-run
        proc.stdin.write(chunks[1])
        proc.stdin.flush()
        time.sleep(2)  # flows expire while nobody listens: counted lost
        col2 = TcpCollector(port, tmp, "b")
        deadline = time.time() + 60
        while not col2.files and time.time() < deadline:
            time.sleep(0.1)  # weir's back-off brings it back
        if not col2.files:
            wt.fail("weir did not reconnect to the restarted collector within 60 s")
        proc.stdin.write(chunks[2])
        proc.stdin.close()
        if proc.wait(timeout=60) != 0:
            wt.fail("weir exited %d: %s" % (proc.returncode, proc.stderr.read()))
        col2.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
    summary = wt.load_summary(js, "tcp-restart")
    out = summary["outputs"][0]
    files = col.files + col2.files
    got_records = got_packets = 0
    stats = []
    for f in files:
        recs = wt.decode_ipfixdump(f, stats=stats)  # each session decodes on its own
        got_records += len(recs)
        got_packets += sum(int(r[wt.IE_PACKETS]) for r in recs)
    if out["connects"] != 2 or len(col.files) != 1 or len(col2.files) != 1:
        wt.fail("connections: weir counted %d, the collectors saw %d and %d" % (
            out["connects"], len(col.files), len(col2.files)))
    if out["template_sets"] < 2:
        wt.fail("the new session did not start with templates")
    if out["records_lost"] == 0:
        wt.fail("nothing was counted lost while the collector was down")
    if got_records + out["records_lost"] != summary["records_exported"] or \
            got_records != out["records"]:
        wt.fail("received %d + counted lost %d != exported %d (weir says %d sent)" % (
            got_records, out["records_lost"], summary["records_exported"], out["records"]))
    if got_packets + out["packets_lost"] != summary["packets_in_flows"]:
        wt.fail("packets received %d + counted lost %d != in flows %d" % (
            got_packets, out["packets_lost"], summary["packets_in_flows"]))
    erel = [r for r in stats if int(r[wt.TID]) == 284][-1]
    if int(erel[166]) != out["records_lost"] or int(erel[167]) != out["packets_lost"]:
        wt.fail("Exporting Process Reliability: %s flows / %s packets not sent; weir counted "
                "%d / %d" % (erel[166], erel[167], out["records_lost"], out["packets_lost"]))
    return ("2 sessions, %d records received + %d counted lost = %d exported; %d packets "
            "lost, reported in the reliability record" % (
                got_records, out["records_lost"], summary["records_exported"],
                out["packets_lost"]))


# ---------------------------------------------------------------------------------------- #
# sampled export: nfacctd scales up by the sampler records, nfcapd decodes them

def test_sampled(weir, tmp, traces):
    pcap, _ = generated(tmp, flows=1500, seed=5)
    acct_port, capd_port = wt.free_udp_port(), wt.free_udp_port()
    while capd_port == acct_port:
        capd_port = wt.free_udp_port()
    outdir, flowdir = os.path.join(tmp, "nfacctd"), os.path.join(tmp, "nfcapd")
    os.mkdir(outdir)
    conf, log = os.path.join(tmp, "nfacctd.conf"), os.path.join(tmp, "nfacctd.log")
    with open(conf, "w") as fh:
        fh.write("daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: %d\n"
                 "nfacctd_pipe_size: 8388608\nnfacctd_renormalize: true\nplugins: print[p]\n"
                 "aggregate[p]: proto\nprint_output[p]: csv\n"
                 "print_output_file[p]: %s/out-%%s.csv\nprint_refresh_time[p]: 1\n"
                 "print_output_file_append[p]: true\nlogfile: %s\n" % (acct_port, outdir, log))
    acct = subprocess.Popen(["nfacctd", "-f", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    capd = None
    try:
        wt.wait_udp(acct_port, acct, "nfacctd")
        capd = wt.start_nfcapd(capd_port, flowdir)
        drops = wt.udp_rcvbuf_errors()
        ref, js = os.path.join(tmp, "ref.ipfix"), os.path.join(tmp, "sum.json")
        wt.run_weir(weir, ["-i", "pcap:" + pcap, "-i", "pcap:" + pcap, "--sample", "count:10",
                           "--sample", "2=count:4",
                           "-o", "ipfix:udp://127.0.0.1:%d" % acct_port,
                           "-o", "ipfix:udp://127.0.0.1:%d" % capd_port,
                           "-o", "ipfix:file:" + ref, "--udp-rate", "2000",
                           "--summary-json", js, "-q"])
        time.sleep(2.5)  # two print intervals: everything received is written
        no_kernel_drops(drops, "nfacctd and nfcapd")
    finally:
        stop(acct)
        if capd is not None:
            stop(capd)
    summary = wt.load_summary(js, "sampled")
    samplers = []
    recs = wt.decode_ipfixdump(ref, samplers=samplers)
    rate = {r[wt.IE_SELECTOR_ID]: (int(r[wt.IE_SAMPLING_INTERVAL]) +
                                   int(r[wt.IE_SAMPLING_SPACE])) // int(r[wt.IE_SAMPLING_INTERVAL])
            for r in samplers}
    if rate != {"1": 10, "2": 4}:
        wt.fail("sampler records give rates %s, want 1 -> 10 and 2 -> 4" % rate)
    want_p = sum(int(r[wt.IE_PACKETS]) * rate[r[wt.IE_SELECTOR_ID]] for r in recs)
    want_b = sum(int(r[wt.IE_OCTETS]) * rate[r[wt.IE_SELECTOR_ID]] for r in recs)
    plain_p = sum(int(r[wt.IE_PACKETS]) for r in recs)
    plain_b = sum(int(r[wt.IE_OCTETS]) for r in recs)
    if plain_p != summary["packets_in_flows"] or want_p == plain_p:
        wt.fail("reference: %d packets in records, weir counted %d" % (
            plain_p, summary["packets_in_flows"]))
    got_p = got_b = 0
    for fn in glob.glob(os.path.join(outdir, "out-*.csv")):
        for row in csv.DictReader(open(fn, newline="")):
            got_p += int(row["PACKETS"])
            got_b += int(row["BYTES"])
    if (got_p, got_b) != (want_p, want_b):
        wt.fail("nfacctd renormalised to %d packets / %d bytes, the records times their "
                "selectors' rates give %d / %d (unscaled %d / %d)" % (
                    got_p, got_b, want_p, want_b, plain_p, plain_b))
    bad = [l for l in open(log) if " ERROR " in l or " WARN " in l]
    if bad:
        wt.fail("nfacctd complained: %s" % bad[:3])
    got = wt.nfdump_totals(flowdir)
    if got != (len(recs), plain_p, plain_b):
        wt.fail("nfdump: %d flows / %d packets / %d bytes, weir exported %d / %d / %d" % (
            got + (len(recs), plain_p, plain_b)))
    capd_err = capd.stderr.read()
    tally = [l for l in capd_err.splitlines() if "Bad Packets:" in l]
    if not tally or any(not l.rstrip().endswith("Bad Packets: 0") for l in tally):
        wt.fail("nfcapd's tally on exit: %s" % (tally or capd_err.strip()[-300:]))
    return ("%d records from two selectors (1 in 10, 1 in 4): nfacctd scaled %d packets / %d "
            "bytes up to %d / %d as the sampler records say; nfcapd decoded all %d records "
            "with no bad packet" % (len(recs), plain_p, plain_b, got_p, got_b, len(recs)))


TESTS = {"nfacctd": test_nfacctd, "tshark": test_tshark, "refresh": test_refresh,
         "options": test_options, "sampled": test_sampled, "tcp-restart": test_tcp_restart}


def main():
    def corpus(a):
        if not os.path.exists(os.path.join(a.traces, "MANIFEST.csv")):
            return "corpus not found: %s" % a.traces
        return None
    return wt.main(__doc__, TESTS, "ipfix", traces=True, precheck=corpus)

if __name__ == "__main__":
    sys.exit(main())
