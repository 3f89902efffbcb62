#!/usr/bin/env python3
"""End-to-end tests of the weir program beyond the shared corpus.

  generated  weir's own synthetic trace (scripts/gentrace.py): the flow table decoded by
             ipfixDump equals the generator's ground truth exactly, and weir's non-IP and
             malformed counters equal the generator's counts;
  nfcapd     the same trace exported over UDP into a real nfcapd on loopback: nfdump's totals
             of flows, packets and bytes equal weir's own counters, with no kernel drops;
  timeouts   idle timeouts split flows on packet time exactly where the ground truth's gaps
             say they must;
  live       live capture with libpcap on a veth pair between two network namespaces the
             test creates: every datagram sent is in the flows weir exports after SIGTERM;
  stdin      a capture arriving on a pipe that stays open: SIGINT stops the read, every flow
             is exported, exit 0; a second signal exits at once;
  clock      one packet with a timestamp ten years ahead does not expire the other flows,
             and a summary path with quotes still gives valid JSON;
  gen        the synthetic source: flow and packet counts, octets for 64-byte and IMIX
             frames, IPv4/IPv6 mix, churn, and the same SPEC giving the same records;
  sample     packet selection before the table: exact for count-based, binomial bounds for
             probabilistic, hash-based selection identical across runs and across workers,
             flow sampling keeps whole flows; conservation with the not-sampled counter;
  cli        bad options, inputs and outputs are refused before anything starts, with a
             message naming the problem.
"""
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest as wt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENTRACE = os.path.join(HERE, "..", "..", "scripts", "gentrace.py")


def gen(tmp, *args):
    pcap, truth, counts = (os.path.join(tmp, n) for n in ("g.pcap", "g.csv", "g.json"))
    subprocess.run([sys.executable, GENTRACE, pcap, "--truth", truth, "--counts", counts] +
                   list(args), check=True)
    return pcap, truth, json.load(open(counts))


def test_generated(weir, tmp):
    pcap, truth_csv, counts = gen(tmp, "--flows", "800", "--seed", "5")
    records, summary, _ = wt.weir_to_ipfix_file(weir, ["pcap:" + pcap], tmpdir=tmp)
    wt.check_conservation(summary, "generated")
    truth, _ = wt.load_truth(truth_csv)
    diffs = wt.diff_tables(wt.sum_records(records), truth)
    if diffs:
        wt.fail("flow table differs from the generator's truth:\n  " + "\n  ".join(diffs))
    for mine, theirs in (("packets_read", "packets"), ("packets_in_flows", "ip_packets"),
                         ("packets_non_ip", "non_ip_packets"),
                         ("packets_malformed", "undecoded_ip_packets")):
        if summary[mine] != counts[theirs]:
            wt.fail("%s = %d, generator says %s = %d" % (mine, summary[mine], theirs,
                                                         counts[theirs]))
    # The trace spans two minutes with a 15 s idle timeout: there must be idle records,
    # TCP ends, and the end-of-file flush; each record's reason must be a valid one.
    reasons = collections.Counter(int(r[wt.IE_END_REASON]) for r in records)
    for reason, name in ((1, "idle"), (3, "end of flow"), (4, "forced end")):
        if reasons[reason] == 0:
            wt.fail("no %s records (reasons seen: %s)" % (name, dict(reasons)))
    if set(reasons) - {1, 2, 3, 4, 5}:
        wt.fail("invalid flowEndReason values: %s" % dict(reasons))
    return "%d flows exact, %d records, reasons %s" % (len(truth), len(records),
                                                      dict(sorted(reasons.items())))


def test_timeouts(weir, tmp):
    """Each flow's idle gaps in the ground truth predict exactly how many records it gets."""
    pcap, _, _ = gen(tmp, "--flows", "300", "--seed", "9", "--duration", "300")
    records, summary, _ = wt.weir_to_ipfix_file(
        weir, ["pcap:" + pcap], extra=["--idle-timeout", "5", "--active-timeout", "60"],
        tmpdir=tmp)
    wt.check_conservation(summary, "timeouts")
    # An idle record must end at least 5 s (packet time) before the next record of its key
    # starts, and no record may span more than the active timeout.
    by_key = collections.defaultdict(list)
    for r in records:
        by_key[wt.record_key(r)].append(r)
    idle = active = 0
    for key, recs in by_key.items():
        recs.sort(key=lambda r: r[wt.IE_START_MS])
        for a, b in zip(recs, recs[1:]):
            if int(a[wt.IE_END_REASON]) == 1:
                idle += 1
                if ms(b[wt.IE_START_MS]) - ms(a[wt.IE_END_MS]) < 5000:
                    wt.fail("%s: idle record ended at %s but the flow went on at %s" %
                            (key, a[wt.IE_END_MS], b[wt.IE_START_MS]))
        for r in recs:
            if ms(r[wt.IE_END_MS]) - ms(r[wt.IE_START_MS]) > 60000:
                wt.fail("%s: record spans more than the active timeout" % (key,))
            active += int(r[wt.IE_END_REASON]) == 2
    if idle == 0 or active == 0:
        wt.fail("expected both idle (%d) and active (%d) records" % (idle, active))
    return "%d records: %d idle splits and %d active records, all on packet time" % (
        len(records), idle, active)


def ms(text):
    """ipfixDump's 'YYYY-MM-DD HH:MM:SS.mmm' (UTC) -> milliseconds."""
    import calendar
    day, frac = text.rsplit(".", 1)
    return calendar.timegm(time.strptime(day, "%Y-%m-%d %H:%M:%S")) * 1000 + int(frac)


def test_nfcapd(weir, tmp):
    pcap, truth_csv, _ = gen(tmp, "--flows", "1500", "--seed", "11")
    port = wt.free_udp_port()
    flowdir = os.path.join(tmp, "nfcapd")
    collector = wt.start_nfcapd(port, flowdir)
    try:
        drops_before = wt.udp_rcvbuf_errors()
        js = os.path.join(tmp, "summary.json")
        wt.run_weir(weir, ["-i", "pcap:" + pcap, "-o", "ipfix:udp://127.0.0.1:%d" % port,
                           "--udp-rate", "2000", "--summary-json", js, "-q"])
        time.sleep(0.3)
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(timeout=20)
    if wt.udp_rcvbuf_errors() != drops_before:
        wt.fail("the kernel dropped datagrams for a full socket buffer during the run "
                "(RcvbufErrors); the totals below would measure the kernel, not weir")
    summary = wt.load_summary(js, "nfcapd")
    flows, packets, octets = wt.nfdump_totals(flowdir)
    truth, _ = wt.load_truth(truth_csv)
    want_packets = sum(v[0] for v in truth.values())
    want_octets = sum(v[1] for v in truth.values())
    if flows != summary["records_exported"]:
        wt.fail("nfdump counted %d flows, weir exported %d records" % (
            flows, summary["records_exported"]))
    if packets != want_packets or octets != want_octets:
        wt.fail("nfdump totals %d packets / %d bytes, truth %d / %d" % (
            packets, octets, want_packets, want_octets))
    # Per-flow check through nfdump too: aggregate per 5-tuple and compare packet counts.
    p = subprocess.run(["nfdump", "-R", flowdir, "-q", "-A", "srcip,dstip,srcport,dstport,proto",
                        "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt", "-N"],
                       capture_output=True, text=True)
    got = {}
    for line in p.stdout.splitlines():
        f = [x.strip() for x in line.split("|")]
        if len(f) == 7:
            # nfdump shows ICMP type.code in the port columns; weir's key has no ICMP ports
            sp, dp = (0, 0) if f[4] in ("1", "58", "ICMP", "ICMP6") else (int(f[2]), int(f[3]))
            got[(f[0], f[1], sp, dp)] = [int(f[5]), int(f[6])]
    want = collections.defaultdict(lambda: [0, 0])
    for (vs, src, dst, proto, sp, dp), (pk, by) in truth.items():
        want[(src, dst, sp, dp)][0] += pk
        want[(src, dst, sp, dp)][1] += by
    diffs = wt.diff_tables(got, dict(want))
    if diffs:
        wt.fail("nfdump per-flow view differs from the truth:\n  " + "\n  ".join(diffs))
    return "nfdump: %d flows, %d packets, %d bytes = weir's counters, %d 5-tuples exact" % (
        flows, packets, octets, len(got))


def test_live(weir, tmp):
    """Two namespaces joined by a veth pair (TEST-NET-1 addresses): a sender in one, weir
    capturing in the other. SIGTERM must flush and export every flow before exit."""
    with wt.veth_pair(addrs=("192.0.2.1/24", "192.0.2.2/24")) as (ns_tx, _, ns_rx, rx):
        out = os.path.join(tmp, "live.ipfix")
        js = os.path.join(tmp, "live.json")
        probe = subprocess.Popen(
            ["ip", "netns", "exec", ns_rx, weir, "-i", "pcap:" + rx,
             "--filter", "udp and dst host 192.0.2.2 and (dst port 9001 or dst port 9002)",
             "--idle-timeout", "1", "-o", "ipfix:file:" + out, "--summary-json", js, "-q"],
            stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # capture is open and filtering
        sent = {9001: 200, 9002: 50}
        sender = ("import socket, sys\n"
                  "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  "s.bind(('192.0.2.1', 40000))\n"
                  "port, n = int(sys.argv[1]), int(sys.argv[2])\n"
                  "for i in range(n):\n"
                  "    s.sendto(b'x' * 100, ('192.0.2.2', port))\n")
        # The first flow then goes quiet for 3 s: with a 1 s idle timeout, the clock of the
        # quiet link must expire it. The second is still open at SIGTERM and is flushed.
        wt.sh("ip", "netns", "exec", ns_tx, sys.executable, "-c", sender, "9001", "200")
        time.sleep(3.0)
        wt.sh("ip", "netns", "exec", ns_tx, sys.executable, "-c", sender, "9002", "50")
        time.sleep(0.3)
        wt.stop_weir(probe, signal.SIGTERM, 30, "SIGTERM")
    summary = wt.load_summary(js, "live")
    got = wt.sum_records(wt.decode_ipfixdump(out))
    want = {("", "192.0.2.1", "192.0.2.2", 17, 40000, port): [n, n * 128]
            for port, n in sent.items()}
    diffs = wt.diff_tables(got, want)
    if diffs:
        wt.fail("live flows differ from what was sent:\n  " + "\n  ".join(diffs))
    if summary["records"]["idle"] != 1 or summary["records"]["forced_end"] != 1:
        wt.fail("expected 1 idle record (quiet link) and 1 forced-end record (SIGTERM), got %s"
                % summary["records"])
    return ("%d datagrams on a veth pair exported exactly: one flow expired idle on a quiet "
            "link, one flushed at SIGTERM" % sum(sent.values()))


def pcap_records(path):
    """Splits a little-endian microsecond pcap into (header, [records])."""
    import struct
    data = open(path, "rb").read()
    hdr, recs, off = data[:24], [], 24
    while off < len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        recs.append(bytearray(data[off:off + 16 + incl]))
        off += 16 + incl
    return hdr, recs


def test_stdin(weir, tmp):
    pcap, truth_csv, _ = gen(tmp, "--flows", "50", "--seed", "3")
    truth, _ = wt.load_truth(truth_csv)
    hdr, recs = pcap_records(pcap)
    out, js = os.path.join(tmp, "stdin.ipfix"), os.path.join(tmp, "stdin.json")
    probe = subprocess.Popen([weir, "-i", "pcap:-", "-o", "ipfix:file:" + out,
                              "--summary-json", js, "-q"],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    probe.stdin.write(hdr + b"".join(recs))
    probe.stdin.flush()  # the pipe stays open: weir waits for more
    time.sleep(1.0)
    wt.stop_weir(probe, signal.SIGINT, 10, "SIGINT on a quiet pipe")
    summary = wt.load_summary(js, "stdin")
    diffs = wt.diff_tables(wt.sum_records(wt.decode_ipfixdump(out)), truth)
    if diffs:
        wt.fail("flows read from the pipe differ from the truth:\n  " + "\n  ".join(diffs))

    # Two signals in a row end weir too (the second, if it arrives before the first is done,
    # exits at once).
    probe = subprocess.Popen([weir, "-i", "pcap:-", "-o", "ipfix:file:" + out, "-q"],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    probe.stdin.write(hdr)
    probe.stdin.flush()
    time.sleep(0.5)
    probe.send_signal(signal.SIGINT)
    probe.send_signal(signal.SIGINT)
    try:
        probe.wait(timeout=10)
    except subprocess.TimeoutExpired:
        probe.kill()
        wt.fail("two SIGINTs did not end weir")
    return "%d packets from an open pipe exported exactly after SIGINT; two signals in a " \
        "row end it too (status %d)" % (len(recs), probe.returncode)


def test_clock(weir, tmp):
    import struct
    pcap, truth_csv, _ = gen(tmp, "--flows", "300", "--seed", "4")
    truth, _ = wt.load_truth(truth_csv)
    base_recs, base, _ = wt.weir_to_ipfix_file(weir, ["pcap:" + pcap], tmpdir=tmp)
    hdr, recs = pcap_records(pcap)
    sec = struct.unpack_from("<I", recs[1000], 0)[0]
    struct.pack_into("<I", recs[1000], 0, sec + 10 * 365 * 86400)  # ten years ahead
    bad = os.path.join(tmp, "future.pcap")
    open(bad, "wb").write(hdr + b"".join(recs))
    odd_dir = os.path.join(tmp, 'odd "dir" \\ name')
    os.mkdir(odd_dir)
    got_recs, summary, _ = wt.weir_to_ipfix_file(weir, ["pcap:" + bad], tmpdir=odd_dir)
    wt.check_conservation(summary, "clock")
    if summary["outputs"][0]["url"] != "file:" + os.path.join(odd_dir, "out.ipfix"):
        wt.fail("the output path did not survive JSON: %r" % summary["outputs"][0]["url"])
    diffs = wt.diff_tables(wt.sum_records(got_recs), truth)
    if diffs:
        wt.fail("packets or octets changed:\n  " + "\n  ".join(diffs))
    if summary["clock_outliers"] != 1:
        wt.fail("expected the far-future packet to be held back once, got %d" %
                summary["clock_outliers"])
    # Only the flow of the odd packet may be cut differently: the odd packet can end up in a
    # record of its own (it is ten years after its flow's other packets), splitting that one
    # flow into up to two more records. Every other flow must be cut exactly as before.
    extra = len(got_recs) - len(base_recs)
    if abs(extra) > 2:
        wt.fail("one bad timestamp changed the record count from %d to %d" % (
            len(base_recs), len(got_recs)))
    per_key = lambda recs: collections.Counter(wt.record_key(r) for r in recs)  # noqa: E731
    before, after = per_key(base_recs), per_key(got_recs)
    changed = [k for k in set(before) | set(after) if before[k] != after[k]]
    if len(changed) > 1:
        wt.fail("one bad timestamp changed how %d flows were cut: %s" % (len(changed),
                                                                        changed[:4]))
    return "a timestamp ten years ahead: packets exact, %d records vs %d, clock held once" % (
        len(got_recs), len(base_recs))


def test_gen(weir, tmp):
    def run(spec, extra=()):
        recs, summary, _ = wt.weir_to_ipfix_file(weir, ["gen:" + spec], extra=extra,
                                                 tmpdir=tempfile.mkdtemp(dir=tmp))
        wt.check_conservation(summary, "gen:" + spec)
        return wt.sum_records(recs), summary

    # Uniform over 1000 flows, 100k packets of 64 bytes: every flow seen, octets exact.
    tbl, s1 = run("flows=1000,packets=100000")
    if len(tbl) != 1000 or s1["packets_in_flows"] != 100000:
        wt.fail("uniform: %d flows, %d packets" % (len(tbl), s1["packets_in_flows"]))
    if sum(v[0] for v in tbl.values()) != 100000 or sum(v[1] for v in tbl.values()) != 4600000:
        wt.fail("uniform: packets/octets in records do not add up")
    # The same SPEC gives the same flows; another seed gives other per-flow counts.
    again, _ = run("flows=1000,packets=100000")
    other, _ = run("flows=1000,packets=100000,seed=2")
    if again != tbl or other == tbl:
        wt.fail("the generator is not deterministic in its seed")
    # IMIX 7:4:1 of 64/594/1518: 12 frames carry 7*46 + 4*576 + 1500 IP octets.
    tbl, _ = run("flows=50,packets=1200,size=imix")
    if sum(v[1] for v in tbl.values()) != 100 * (7 * 46 + 4 * 576 + 1500):
        wt.fail("imix octets: %d" % sum(v[1] for v in tbl.values()))
    # Half the flows IPv6: both families present, every flow distinct.
    tbl, _ = run("flows=2000,packets=200000,v6=0.5")
    v6 = sum(1 for k in tbl if ":" in k[1])
    if len(tbl) != 2000 or not 800 < v6 < 1200:
        wt.fail("v6 mix: %d flows, %d IPv6" % (len(tbl), v6))
    # Zipf: the most popular flow carries far more than the average.
    tbl, _ = run("flows=10000,packets=200000,popularity=zipf")
    top = max(v[0] for v in tbl.values())
    if top < 10 * 200000 / 10000:
        wt.fail("zipf: top flow has only %d packets" % top)
    # Churn: 1000 active flows, 1000 replaced per second over 10 s of packet time.
    tbl, s5 = run("flows=1000,packets=100000,rate=10000,newflows=1000", ["--idle-timeout", "2"])
    if not 10000 <= len(tbl) <= 11000 or s5["records"]["idle"] == 0:
        wt.fail("churn: %d flows, records %s" % (len(tbl), s5["records"]))
    # Live: every offered packet is read or counted as lost at the receive ring. A ring of
    # one packet offered 1e9 packets/s loses most; one large enough at a low rate loses none
    # of a short run.
    for spec, lossy in (("rate=1000000000,ring=1", True), ("rate=200000,ring=200000", False)):
        tbl, s6 = run("flows=1000,packets=100000,live=1," + spec)
        read, lost = s6["packets_read"], s6["dropped"]
        if read + lost != 100000 or sum(v[0] for v in tbl.values()) != read or \
                (lost > 0) != lossy:
            wt.fail("live %s: read %d + lost %d != 100000 offered, or %d in records" %
                    (spec, read, lost, sum(v[0] for v in tbl.values())))
    return ("uniform, IMIX, IPv4/IPv6, Zipf and churn exact; same SPEC same records; live "
            "offers account for every packet")


def sampler_rates(samplers):
    """The sampler records (template 285) as {selectorId: (algorithm, interval, space)}, after
    checking that each is scoped to weir's observation domain (1)."""
    if any(r.get(wt.IE_ODID) != "1" for r in samplers):
        wt.fail("sampler records not scoped to observation domain 1: %s" % samplers)
    return {r[wt.IE_SELECTOR_ID]: (r[wt.IE_SELECTOR_ALGO], r[wt.IE_SAMPLING_INTERVAL],
                                   r[wt.IE_SAMPLING_SPACE]) for r in samplers}


def test_sample(weir, tmp):
    spec = "gen:flows=2000,packets=200000,seed=3"

    def run(inputs, sample):
        recs, summary, _ = wt.weir_to_ipfix_file(weir, inputs,
                                                 extra=["--sample"] + sample.split("\0"),
                                                 tmpdir=tempfile.mkdtemp(dir=tmp))
        wt.check_conservation(summary, sample)
        return wt.sum_records(recs), summary

    full, _ = wt.weir_to_ipfix_file(weir, [spec], tmpdir=tempfile.mkdtemp(dir=tmp))[:2]
    full = wt.sum_records(full)
    # count:10 selects exactly one packet in ten
    tbl, s = run([spec], "count:10")
    if s["packets_in_flows"] != 20000 or s["packets_not_sampled"] != 180000:
        wt.fail("count:10: %d in flows, %d not sampled" % (s["packets_in_flows"],
                                                           s["packets_not_sampled"]))
    # prob:0.25 within 5 standard deviations of 50000
    _, s = run([spec], "prob:0.25")
    sd = (200000 * 0.25 * 0.75) ** 0.5
    if abs(s["packets_in_flows"] - 50000) > 5 * sd:
        wt.fail("prob:0.25 selected %d of 200000" % s["packets_in_flows"])
    # hash:8: the same packets in every run and in every worker
    one, s1 = run([spec], "hash:8")
    again, _ = run([spec], "hash:8")
    two, s2 = run([spec, spec], "hash:8")
    if one != again:
        wt.fail("hash:8 selected different packets in two runs")
    if any(two.get(k) != [2 * v[0], 2 * v[1]] for k, v in one.items()) or len(two) != len(one):
        wt.fail("hash:8 selected different packets in two workers")
    if abs(s1["packets_in_flows"] - 25000) > 5 * (200000 / 8 * 7 / 8) ** 0.5:
        wt.fail("hash:8 selected %d of 200000" % s1["packets_in_flows"])
    # The collector learns how to scale up: every record names its selector (one per input),
    # and the selector report (RFC 5476 options records) describes each one.
    tmp2 = tempfile.mkdtemp(dir=tmp)
    out = os.path.join(tmp2, "s.ipfix")
    wt.run_weir(weir, ["-i", spec, "-i", spec, "--sample", "count:10", "-q",
                       "-o", "ipfix:file:" + out])
    opts, smp = [], []
    recs = wt.decode_ipfixdump(out, options=opts, samplers=smp)
    if {r.get(wt.IE_SELECTOR_ID) for r in recs} != {"1", "2"}:
        wt.fail("records do not carry selectorId 1 and 2: %s" % {
            r.get(wt.IE_SELECTOR_ID) for r in recs})
    report = {r[wt.IE_SELECTOR_ID]: (r[wt.IE_SELECTOR_ALGO], r[wt.IE_SAMPLING_INTERVAL],
                                     r[wt.IE_SAMPLING_SPACE]) for r in opts}
    if report != {"1": ("1", "1", "9"), "2": ("1", "1", "9")}:
        wt.fail("selector report (algorithm, interval, space) per selector: %s" % report)
    if sampler_rates(smp) != {"1": ("1", "1", "9"), "2": ("1", "1", "9")}:
        wt.fail("sampler records (algorithm, interval, space) per selector: %s" % smp)
    wt.run_weir(weir, ["-i", spec, "--sample", "hash:8,seed=5", "-q", "-o", "ipfix:file:" + out])
    opts, smp = [], []
    wt.decode_ipfixdump(out, options=opts, samplers=smp)
    if len(opts) != 1 or opts[0][wt.IE_SELECTOR_ALGO] != "6" or \
            int(opts[0][wt.IE_HASH_SELECTED_MAX]) != 0xFFFFFFFF // 8 or \
            opts[0][wt.IE_HASH_INIT] != "5":
        wt.fail("hash selector report: %s" % opts)
    if sampler_rates(smp) != {"1": ("6", "1", "7")}:
        wt.fail("hash sampler record (one in 8): %s" % smp)
    # A selector per input: a default, one input with its own, one with none.
    three, s3 = run([spec, spec, spec], "count:10\0--sample\0" "2=prob:0.5\0--sample\0" "3=none")
    per = s3["inputs"]
    if [i["sample"] for i in per] != ["count:10", "prob:0.5", None] or \
            [i["selector_id"] for i in per] != [1, 2, 3]:
        wt.fail("per-input selectors: %s" % per)
    if per[0]["in_flows"] != 20000 or per[2]["in_flows"] != 200000 or \
            abs(per[1]["in_flows"] - 100000) > 5 * (200000 * 0.25) ** 0.5 or \
            per[1]["sampling_selected"] != per[1]["in_flows"] or \
            per[1]["sampling_observed"] != 200000 or per[2]["sampling_observed"] != 0:
        wt.fail("per-input selection: %s" % per)
    tmp3 = tempfile.mkdtemp(dir=tmp)
    out3 = os.path.join(tmp3, "p.ipfix")
    wt.run_weir(weir, ["-i", spec, "-i", spec, "-i", spec, "--sample", "count:10", "--sample",
                       "2=prob:0.5", "--sample", "3=none", "-q", "-o", "ipfix:file:" + out3])
    opts, smp = [], []
    recs = wt.decode_ipfixdump(out3, options=opts, samplers=smp)
    by_sel = collections.Counter()
    for r in recs:
        by_sel[r.get(wt.IE_SELECTOR_ID)] += int(r[wt.IE_PACKETS])
    report = {r[wt.IE_SELECTOR_ID]: (r[wt.IE_SELECTOR_ALGO], r[wt.IE_SAMPLING_INTERVAL],
                                     r[wt.IE_SAMPLING_SPACE],
                                     float(r[wt.IE_SAMPLING_PROBABILITY])) for r in opts}
    if report != {"1": ("1", "1", "9", 0.0), "2": ("4", "0", "0", 0.5),
                  "3": ("1", "1", "0", 0.0)}:
        wt.fail("per-input selector report: %s" % report)
    if sampler_rates(smp) != {"1": ("1", "1", "9"), "2": ("4", "1", "1"), "3": ("1", "1", "0")}:
        wt.fail("per-input sampler records: %s" % smp)
    if by_sel["1"] != 20000 or by_sel["3"] != 200000 or by_sel["2"] != per[1]["in_flows"]:
        wt.fail("packets per selectorId: %s" % dict(by_sel))
    # flow:4: a flow is kept whole or not at all, about a quarter of them
    tbl, _ = run([spec], "flow:4")
    partial = [k for k, v in tbl.items() if v != full.get(k)]
    if partial or not 300 < len(tbl) < 700:
        wt.fail("flow:4: %d flows kept, %d of them partial" % (len(tbl), len(partial)))
    return ("count:10 exact, prob:0.25 %d/200000, hash:8 identical across runs and workers, "
            "flow:4 kept %d whole flows of 2000; per-input selectors (count:10, prob:0.5, none) "
            "selected apart; selectorId, RFC 5476 selector report and sampler records "
            "decoded by ipfixDump" % (s["packets_in_flows"], len(tbl)))


CLI_CASES = [
    # (arguments, exit status, words the message must contain)
    (["-i", "pcap:@GOOD@", "--alerts-file", "/tmp/x", "--watch", "prefixes:@BADPFX@"], 2,
     ["badpfx.txt:2", "prefix length", "'40'"]),
    (["-i", "pcap:@GOOD@", "--alerts-file", "/tmp/x", "--watch", "colour"], 2,
     ["--watch 'colour'", "prefixes:FILE"]),
    (["-i", "pcap:@GOOD@", "--alerts-file", "/tmp/x", "--watch", "asn:/nonexistent/pfx2as"], 2,
     ["/nonexistent/pfx2as", "cannot open"]),
    (["-i", "pcap:@GOOD@", "--alerts-file", "/tmp/x", "--detect", "drop_warning=2"], 2,
     ["--detect drop_warning", "out of range"]),
    (["-i", "pcap:@GOOD@", "--alerts-file", "/tmp/x", "--detect", "drop_warnin=0.4"], 2,
     ["unknown key", "drop_warnin"]),
    (["-i", "pcap:@GOOD@", "--alerts-file", "/tmp/x", "--detect", "sig_z=lots"], 2,
     ["sig_z=lots", "not a number"]),
    (["-i", "pcap:@GOOD@", "--redis", "http://127.0.0.1:6379"], 2, ["--redis", "redis://"]),
    (["-i", "pcap:@GOOD@", "--redis", "redis://127.0.0.1:99999"], 2,
     ["--redis", "bad port", "99999"]),
    (["--bogus"], 2, ["unknown option", "--bogus"]),
    (["-o", "ipfix:file:/tmp/x"], 2, ["no input"]),
    (["-i", "pcap:/nonexistent/x.pcap"], 2, ["no output"]),
    (["-i", "pcap:X", "-o", "ipfix:file:/tmp/x", "--idle-timeout", "0"], 2,
     ["--idle-timeout", "'0'", "[1, 86400]"]),
    (["-i", "pcap:X", "-o", "ipfix:file:/tmp/x", "--active-timeout", "soon"], 2,
     ["--active-timeout", "'soon'"]),
    (["-i", "pcap:X", "-o", "ipfix:file:/tmp/x", "--idle-timeout"], 2, ["needs a value"]),
    (["-i", "pcap:X", "-o", "ipfix:file:/tmp/x", "stray"], 2, ["unexpected argument", "stray"]),
    (["-i", "pcap:/nonexistent/x.pcap", "-o", "ipfix:file:/tmp/x"], 1,
     ["pcap:/nonexistent/x.pcap"]),
    (["-i", "bogus:thing", "-o", "ipfix:file:/tmp/x"], 1, ["bogus:thing", "unknown input type"]),
    (["-i", "pcap:weirnosuchif0", "-o", "ipfix:file:/tmp/x"], 1,
     ["weirnosuchif0", "interface"]),
    (["-i", "pcap:@GOOD@", "-o", "netflow:udp://127.0.0.1:1"], 1, ["unknown output type"]),
    (["-i", "pcap:@GOOD@", "-o", "ipfix:udp://127.0.0.1:99999"], 1, ["99999", "port"]),
    (["-i", "pcap:@GOOD@", "-o", "ipfix:sctp://127.0.0.1:4739"], 1, ["sctp"]),
    (["-i", "pcap:@GOOD@", "-o", "ipfix:file:/nonexistent/dir/out.ipfix"], 1,
     ["/nonexistent/dir/out.ipfix"]),
    (["-i", "pcap:@NOTPCAP@", "-o", "ipfix:file:/tmp/x"], 1, ["not a pcap"]),
    (["-i", "gen:flows=abc", "-o", "ipfix:file:/tmp/x"], 1, ["gen:flows=abc", "flows='abc'"]),
    (["-i", "gen:size=100", "-o", "ipfix:file:/tmp/x"], 1, ["size=100"]),
    (["-i", "gen:v6=2", "-o", "ipfix:file:/tmp/x"], 1, ["v6='2'"]),
    (["-i", "gen:", "-o", "ipfix:file:/tmp/x", "--sample", "nope:3"], 2,
     ["--sample", "unknown selector 'nope'"]),
    (["-i", "gen:", "-o", "ipfix:file:/tmp/x", "--sample", "prob:2"], 2, ["prob:2"]),
    (["-i", "gen:", "-o", "ipfix:file:/tmp/x", "--sample", "2=count:4"], 2,
     ["--sample 2=", "only 1 input"]),
    (["-i", "gen:", "-o", "ipfix:file:/tmp/x", "--sample", "0=count:4"], 2,
     ["0=count:4", "input number"]),
    (["-i", "gen:", "-o", "ipfix:file:/tmp/x", "--sample", "1=hash:0"], 2, ["1=hash:0"]),
]


def test_cli(weir, tmp):
    good = os.path.join(tmp, "good.pcap")
    gen_pcap, _, _ = gen(tmp, "--flows", "5")
    os.rename(gen_pcap, good)
    notpcap = os.path.join(tmp, "notes.txt")
    open(notpcap, "w").write("<html>this is not a capture file</html>\n" * 4)
    badpfx = os.path.join(tmp, "badpfx.txt")
    open(badpfx, "w").write("10.0.0.0/8\n10.1.0.0/40\n")
    for args, status, words in CLI_CASES:
        args = [a.replace("@GOOD@", good).replace("@NOTPCAP@", notpcap)
                .replace("@BADPFX@", badpfx) for a in args]
        p = wt.run_weir(weir, args, check=False)
        if p.returncode != status:
            wt.fail("weir %s: exit %d, expected %d (%s)" % (" ".join(args), p.returncode,
                                                            status, p.stderr.strip()))
        for w in words:
            if w not in p.stderr:
                wt.fail("weir %s: message %r lacks %r" % (" ".join(args), p.stderr.strip(), w))
        if "summary" in p.stderr:
            wt.fail("weir %s: started before refusing" % " ".join(args))
    for flag, word in (("--help", "Usage: weir -i INPUT"), ("--version", "weir ")):
        p = wt.run_weir(weir, [flag])
        if word not in p.stdout:
            wt.fail("weir %s printed %r" % (flag, p.stdout[:80]))
    # The good capture with a valid command line runs to its end, says its summary (what
    # the refusals above must not) and accounts for every packet.
    out, js = os.path.join(tmp, "good.ipfix"), os.path.join(tmp, "good.json")
    p = wt.run_weir(weir, ["-i", "pcap:" + good, "-o", "ipfix:file:" + out,
                           "--summary-json", js])
    if "summary" not in p.stderr:
        wt.fail("a run to the end printed no summary: %r" % p.stderr[-500:])
    summary = wt.load_summary(js, "cli")
    recs = wt.check_ipfix_file(summary, out, "cli")
    if summary["packets_read"] == 0 or not recs:
        wt.fail("the good capture gave %d packets, %d records" % (summary["packets_read"],
                                                                  len(recs)))
    return ("%d bad command lines refused with the right message; the good one ran to the "
            "end: %d packets, %d records" % (len(CLI_CASES), summary["packets_read"], len(recs)))


def test_workers(weir, tmp):
    """Steered workers under a full table: far more flows than the cap, read through a reader
    thread into 1 and into 3 workers, must lose no packet (evictions are exported, no packet
    is refused for want of room) and give the generated trace's flows exactly."""
    pcap, truth_csv, _ = gen(tmp, "--flows", "3000", "--seed", "11")
    truth, _ = wt.load_truth(truth_csv)
    out = []
    for extra in (["--rx-thread"], ["--workers", "3"]):
        d = tempfile.mkdtemp(dir=tmp)
        records, summary, _ = wt.weir_to_ipfix_file(
            weir, ["pcap:" + pcap], extra=extra + ["--max-flows", "96"], tmpdir=d)
        wt.check_conservation(summary, " ".join(extra))
        if summary["packets_no_slot"] or summary["packets_ring_full"]:
            wt.fail("%s: %d packets found no slot, %d a full ring" % (
                " ".join(extra), summary["packets_no_slot"], summary["packets_ring_full"]))
        if summary["records"]["lack_of_resources"] == 0:
            wt.fail("%s: 96 slots for 3000 flows and no eviction" % " ".join(extra))
        diffs = wt.diff_tables(wt.sum_records(records), truth)
        if diffs:
            wt.fail("%s: flows differ from the generator's truth:\n  %s" % (
                " ".join(extra), "\n  ".join(diffs)))
        out.append("%s: %d evictions" % (" ".join(extra),
                                         summary["records"]["lack_of_resources"]))
    out.append(check_pinning(weir, tmp))
    return "3000 flows exact through 96 slots: " + ", ".join(out)


def check_pinning(weir, tmp):
    """With more CPUs than packet threads, each packet thread runs on a CPU of its own and the
    exporter on the last one; with --no-pin, or too few CPUs, nothing is pinned."""
    cpus = sorted(os.sched_getaffinity(0))
    seen = {}
    for extra in ([], ["--no-pin"]):
        js = os.path.join(tmp, "pin.json")
        p = subprocess.Popen([weir, "-q", "-i", "gen:flows=100,packets=0", "--duration", "3",
                              "-o", "ipfix:file:" + os.path.join(tmp, "pin.ipfix"),
                              "--summary-json", js] + extra, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        threads = {}
        for t in os.listdir("/proc/%d/task" % p.pid):
            base = "/proc/%d/task/%s/" % (p.pid, t)
            name = open(base + "comm").read().strip()
            allowed = [ln.split(":")[1].strip() for ln in open(base + "status")
                       if ln.startswith("Cpus_allowed_list")][0]
            threads[name] = allowed
        _, err = p.communicate(timeout=30)
        if p.returncode != 0:
            wt.fail("weir exited %d: %s" % (p.returncode, err))
        plan = json.load(open(js))["cpu_plan"]
        if "weir-worker0.0" not in threads or "weir-export" not in threads:
            wt.fail("threads not named as documented: %s" % sorted(threads))
        pinned = len(cpus) > 1 and not extra
        want = ((str(cpus[0]), str(cpus[-1])) if pinned else (threads["weir"], threads["weir"]))
        got = (threads["weir-worker0.0"], threads["weir-export"])
        if got != want or bool(plan) != pinned:
            wt.fail("%s: worker on %s, exporter on %s, plan %r; expected %s" %
                    (extra or "default", got[0], got[1], plan, want))
        seen[" ".join(extra) or "default"] = "%s/%s" % got
    return "CPUs of worker/exporter: %s" % seen


TESTS = {"generated": test_generated, "timeouts": test_timeouts, "nfcapd": test_nfcapd,
         "live": test_live, "stdin": test_stdin, "clock": test_clock, "gen": test_gen,
         "sample": test_sample, "cli": test_cli, "workers": test_workers}


def main():
    return wt.main(__doc__, TESTS, "e2e")

if __name__ == "__main__":
    sys.exit(main())
