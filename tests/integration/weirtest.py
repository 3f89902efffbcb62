"""Shared helpers for weir's integration tests: running weir, decoding its IPFIX output with
independent decoders, loading ground-truth flow tables and comparing them."""
import argparse
import collections
import contextlib
import csv
import ipaddress
import json
import os
import socket
import subprocess
import tempfile
import time
import traceback

# IANA element ids weir exports.
IE_OCTETS, IE_PACKETS = 1, 2
IE_PROTO, IE_TOS, IE_FLAGS, IE_SPORT, IE_DPORT = 4, 5, 6, 7, 11
IE_SRC4, IE_DST4, IE_SRC6, IE_DST6 = 8, 12, 27, 28
IE_VLAN, IE_CVLAN, IE_END_REASON = 58, 245, 136
IE_START_MS, IE_END_MS = 152, 153
IE_SELECTOR_ID, IE_SELECTOR_ALGO, IE_SAMPLING_INTERVAL, IE_SAMPLING_SPACE = 302, 304, 305, 306
IE_ODID = 149  # observationDomainId
IE_SAMPLING_PROBABILITY, IE_HASH_SELECTED_MAX, IE_HASH_INIT = 311, 332, 334
# RFC 5103 reverse elements (enterprise 29305), keyed as ipfixDump prints them.
IE_REV_OCTETS, IE_REV_PACKETS, IE_REV_FLAGS = "29305/1", "29305/2", "29305/6"
TID = "tid"  # key under which decode_ipfixdump keeps each record's template id


def fail(msg):
    raise AssertionError(msg)


def run_weir(weir, args, check=True, timeout=120):
    """Runs weir with args; returns the CompletedProcess (stdout/stderr as text)."""
    p = subprocess.run([weir] + args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        fail("weir %s exited %d:\n%s" % (" ".join(args), p.returncode, p.stderr))
    return p


def stop_weir(proc, sig, timeout, what):
    """Sends sig to a running weir and waits for a clean exit; returns its stderr."""
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        fail("weir did not exit within %d s of %s" % (timeout, what))
    if proc.returncode != 0:
        fail("weir exited %d after %s: %s" % (proc.returncode, what, err))
    return err


def weir_to_ipfix_file(weir, inputs, extra=(), tmpdir=None):
    """Runs weir on inputs with file export; returns (records, summary dict, stderr), after
    checking that the file holds what weir exported less what it counted as not sent."""
    tmpdir = tmpdir or tempfile.mkdtemp(prefix="weir-test-")
    out = os.path.join(tmpdir, "out.ipfix")
    js = os.path.join(tmpdir, "summary.json")
    args = []
    for i in inputs:
        args += ["-i", i]
    args += ["-o", "ipfix:file:" + out, "--summary-json", js] + list(extra)
    p = run_weir(weir, args)
    with open(js) as fh:
        summary = json.load(fh)
    records = check_ipfix_file(summary, out, "file export of %s" % " ".join(inputs))
    return records, summary, p.stderr


SELECTOR_TID = 268  # the RFC 5476 selector report
SAMPLER_TID = 285  # the same selectors in the NetFlow v9 collectors' layout
STATS_TIDS = (282, 283, 284)  # Metering Process Statistics, Metering / Exporting Reliability


def decode_ipfixdump(path, options=None, stats=None, samplers=None, gaps=None):
    """Decodes an IPFIX file with libfixbuf's ipfixDump; returns the flow records as a list of
    {ie_id: value} (plus TID: template id). The selector report's options records go into the
    list `options`, the sampler records (SAMPLER_TID) into `samplers` and the statistics
    options records (STATS_TIDS) into `stats`, when given. Fails on any decoder complaint,
    except, when `gaps` is a list, the sequence gaps of records not written, which go there."""
    p = subprocess.run(["ipfixDump", "--in", path, "-d"], capture_output=True, text=True)
    complaints = [ln for ln in p.stderr.splitlines() if ln.strip()]
    if gaps is not None:
        gaps.extend(ln for ln in complaints if "out of sequence" in ln)
        complaints = [ln for ln in complaints if "out of sequence" not in ln]
    if p.returncode != 0 or complaints:
        fail("ipfixDump rejected %s (exit %d): %s" % (path, p.returncode, complaints))
    records, cur = [], None
    for line in p.stdout.splitlines():
        if line.startswith("--- data record"):
            cur = {}
            records.append(cur)
        elif line.startswith("--- "):
            cur = None
        elif cur is not None and "tid:" in line:
            cur[TID] = int(line.split("tid:")[1].split()[0])
        elif cur is not None and line.startswith("\t(") and " : " in line:
            ie = line[2:line.index(")")]  # "1" (IANA) or "29305/1" (enterprise/element)
            cur[int(ie) if ie.isdigit() else ie] = line.split(" : ", 1)[1].strip()
    flows = [r for r in records if IE_PACKETS in r]
    if options is not None:
        options.extend(r for r in records if r.get(TID) == SELECTOR_TID)
    if samplers is not None:
        samplers.extend(r for r in records if r.get(TID) == SAMPLER_TID)
    if stats is not None:
        stats.extend(r for r in records if r.get(TID) in STATS_TIDS)
    return flows


def record_key(r):
    """The ground-truth key (vlan_stack, src, dst, proto, sport, dport) of a decoded record."""
    if IE_SRC4 in r:
        src, dst = r[IE_SRC4], r[IE_DST4]
    else:
        src = str(ipaddress.ip_address(r[IE_SRC6]))
        dst = str(ipaddress.ip_address(r[IE_DST6]))
    vlans = [r[i] for i in (IE_VLAN, IE_CVLAN) if i in r]
    return ("/".join(vlans), src, dst, int(r[IE_PROTO]), int(r.get(IE_SPORT, 0)),
            int(r.get(IE_DPORT, 0)))


def reverse_key(k):
    """The key of the other direction of a flow."""
    vlans, src, dst, proto, sport, dport = k
    return (vlans, dst, src, proto, dport, sport)


def split_biflows(records):
    """Biflow records -> {key: [packets, octets]} per direction, as uniflow records of the same
    packets would sum (directions without packets left out)."""
    acc = collections.defaultdict(lambda: [0, 0])
    for r in records:
        k = record_key(r)
        for key, pk, ok in ((k, IE_PACKETS, IE_OCTETS),
                            (reverse_key(k), IE_REV_PACKETS, IE_REV_OCTETS)):
            if int(r[pk]):
                acc[key][0] += int(r[pk])
                acc[key][1] += int(r[ok])
    return dict(acc)


def sum_records(records, keyfn=record_key):
    """Sums packets and octets per key."""
    acc = collections.defaultdict(lambda: [0, 0])
    for r in records:
        k = keyfn(r)
        acc[k][0] += int(r[IE_PACKETS])
        acc[k][1] += int(r[IE_OCTETS])
    return dict(acc)


def load_truth(path):
    """Ground-truth flows CSV -> {key: [packets, bytes]} plus the rows."""
    acc = collections.defaultdict(lambda: [0, 0])
    rows = list(csv.DictReader(open(path, newline="")))
    for r in rows:
        k = (r["vlan_stack"], str(ipaddress.ip_address(r["src"])),
             str(ipaddress.ip_address(r["dst"])), int(r["proto"]), int(r["sport"]),
             int(r["dport"]))
        acc[k][0] += int(r["packets"])
        acc[k][1] += int(r["bytes"])
    return dict(acc), rows


def diff_tables(got, want, limit=8):
    """Returns a list of human-readable differences between two {key: [pkts, bytes]}."""
    out = []
    for k in sorted(set(got) | set(want), key=str):
        g, w = got.get(k), want.get(k)
        if g != w:
            out.append("%s: weir %s, truth %s" % (k, g, w))
    return out[:limit] + (["... %d more" % (len(out) - limit)] if len(out) > limit else [])


def free_udp_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_tcp_port():
    return free_udp_port(socket.SOCK_STREAM)


def in_netns(netns):
    """The command prefix that runs a program in network namespace netns (None: ours)."""
    return ["ip", "netns", "exec", netns] if netns else []


def wait_udp(port, proc, what, timeout=15, netns=None):
    """Waits until something listens on UDP 127.0.0.1:port (in netns, if given); fails if
    proc exits first or nothing listens within timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ("127.0.0.1:%d " % port) in subprocess.run(in_netns(netns) + ["ss", "-uln"],
                                                      capture_output=True, text=True).stdout:
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    fail("%s did not start listening on %d" % (what, port))


def start_nfcapd(port, flowdir, netns=None):
    """nfcapd on UDP 127.0.0.1:port (in netns, if given), writing into flowdir, which it
    makes; returns the process once it listens. Its stderr (the tally it prints on exit) is
    a pipe."""
    os.makedirs(flowdir, exist_ok=True)
    proc = subprocess.Popen(in_netns(netns) + ["nfcapd", "-b", "127.0.0.1", "-p", str(port),
                                               "-w", flowdir, "-B", "8388608", "-t", "3600"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_udp(port, proc, "nfcapd", timeout=10, netns=netns)
    return proc


def start_tcpdump(pcap, bpf):
    """tcpdump on lo writing what matches bpf (whole packets, each as it comes) to pcap;
    returns the process once the file is there and the capture has had time to start."""
    proc = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-B", "16384",
                             "-s", "0", "-w", pcap, bpf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not os.path.exists(pcap) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return proc


def nfdump_totals(flowdir):
    """nfdump's totals over the files nfcapd wrote in flowdir: (flows, packets, bytes)."""
    p = subprocess.run(["nfdump", "-R", flowdir, "-I"], capture_output=True, text=True)
    stat = dict(ln.split(":", 1) for ln in p.stdout.splitlines() if ":" in ln)
    if "Flows" not in stat:
        fail("nfdump -R %s (%s): %s %s" % (flowdir, os.listdir(flowdir), p.stdout, p.stderr))
    return tuple(int(stat[k].strip()) for k in ("Flows", "Packets", "Bytes"))


def udp_rcvbuf_errors():
    """The kernel's UDP RcvbufErrors counter (datagrams dropped for a full socket buffer)."""
    with open("/proc/net/snmp") as fh:
        lines = [l.split() for l in fh if l.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")])


def check_conservation(summary, where):
    """The accounting invariant of a run that ended normally (end of input or a graceful
    stop), on weir's --summary-json:
      packets read = packets in flows + non-IP + malformed + no slot + not sampled + worker
                     queue full (every packet read is either in a flow or in a named counter);
      records queued = records exported, none lost to a full export queue;
      per output: records sent + records counted lost (not sent) = records exported.
    What a collector or file actually holds is checked against the same counters by
    check_delivered (check_ipfix_file for a file)."""
    s = summary
    total = (s["packets_in_flows"] + s["packets_non_ip"] + s["packets_malformed"] +
             s["packets_no_slot"] + s["packets_not_sampled"] + s["packets_ring_full"])
    if s["packets_read"] != total:
        fail("%s: packets read %d != in flows %d + non-IP %d + malformed %d + no slot %d + "
             "not sampled %d + worker queue full %d" %
             (where, s["packets_read"], s["packets_in_flows"], s["packets_non_ip"],
              s["packets_malformed"], s["packets_no_slot"], s["packets_not_sampled"],
              s["packets_ring_full"]))
    if s["records_queued"] != s["records_exported"] or s["records_queue_full"]:
        fail("%s: %d records queued, %d exported, %d lost to a full queue" %
             (where, s["records_queued"], s["records_exported"], s["records_queue_full"]))
    for o in s["outputs"]:
        if o["records"] + o["records_lost"] != s["records_exported"]:
            fail("%s: output %s sent %d + lost %d != %d records" %
                 (where, o["url"], o["records"], o["records_lost"], s["records_exported"]))


def output_entry(summary, url):
    """The summary's entry of the output weir was given as ipfix:URL."""
    for o in summary["outputs"]:
        if o["url"] == url:
            return o
    fail("no output %s in the summary (outputs: %s)" % (url, [o["url"] for o in
                                                               summary["outputs"]]))


def check_delivered(summary, url, records, where, packets=None):
    """What reached one output, decoded by an independent decoder: its flow records (and, when
    given, their packets) plus those weir counted as not sent on that output equal what weir
    exported (records) and put in flows (packets)."""
    o = output_entry(summary, url)
    if records + o["records_lost"] != summary["records_exported"]:
        fail("%s: %s holds %d records + %d counted not sent != %d exported" %
             (where, url, records, o["records_lost"], summary["records_exported"]))
    if packets is not None and packets + o["packets_lost"] != summary["packets_in_flows"]:
        fail("%s: %s holds %d packets + %d counted not sent != %d in flows" %
             (where, url, packets, o["packets_lost"], summary["packets_in_flows"]))


def check_ipfix_file(summary, path, where):
    """check_delivered for the IPFIX file output PATH, decoded by ipfixDump (a biflow record's
    packets are both directions'); returns its flow records."""
    recs = decode_ipfixdump(path)
    check_delivered(summary, "file:" + path, len(recs), where,
                    packets=sum(int(r[IE_PACKETS]) + int(r.get(IE_REV_PACKETS, 0))
                                for r in recs))
    return recs


def load_summary(path, where):
    """Reads a --summary-json file and checks the accounting invariant on it."""
    with open(path) as fh:
        summary = json.load(fh)
    check_conservation(summary, where)
    return summary


def for_each_trace(traces, check, only=None, skip=(), prefix="weir-"):
    """Runs check(row, tmpdir) for every capture of TRACES/MANIFEST.csv (or only the one named
    `only`, less those in `skip`), each in a fresh temporary directory, and prints one line per
    file: "ok" with what check returned, or "FAIL" with why; every file is tried. Returns
    (passed, failed), or None when the manifest is missing (said on stdout)."""
    manifest = os.path.join(traces, "MANIFEST.csv")
    if not os.path.exists(manifest):
        print("corpus not found: %s (the shared directory must sit beside the source tree, "
              "or pass -Dtraces_dir=...)" % manifest)
        return None
    passed = failed = 0
    for row in csv.DictReader(open(manifest, newline="")):
        if (only and row["file"] != only) or row["file"] in skip:
            continue
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            try:
                msg = check(row, tmp)
                passed += 1
                print("ok   %-48s %s" % (row["file"], msg))
            except Exception as e:  # report every file, then fail
                failed += 1
                print("FAIL %-48s %s" % (row["file"], e))
                if not isinstance(e, AssertionError):
                    traceback.print_exc()
    return passed, failed


def sh(*cmd):
    """Runs a command that must succeed; returns its stdout."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        fail("%s failed: %s" % (" ".join(cmd), p.stderr.strip()))
    return p.stdout


@contextlib.contextmanager
def veth_pair(addrs=None, mtu=None, ipv6=True):
    """Two network namespaces (sender, receiver) joined by a veth pair, both ends up, removed
    on exit. addrs: an (address/len, address/len) pair for the ends, with lo up; ipv6=False
    turns IPv6 off before the link exists, so the kernel sends nothing of its own. Yields
    (ns_tx, dev_tx, ns_rx, dev_rx)."""
    tag = "wr%d" % os.getpid()
    ns_tx, ns_rx, tx, rx = tag + "tx", tag + "rx", tag + "a", tag + "b"
    sh("ip", "netns", "add", ns_tx)
    try:
        sh("ip", "netns", "add", ns_rx)
        for ns in (ns_tx, ns_rx):
            for k in ("all", "default") if not ipv6 else ():
                sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                   "net.ipv6.conf.%s.disable_ipv6=1" % k)
        m = ["mtu", str(mtu)] if mtu else []
        sh("ip", "link", "add", tx, "netns", ns_tx, *m, "type", "veth", "peer", "name", rx,
           "netns", ns_rx, *m)
        for i, (ns, dev) in enumerate(((ns_tx, tx), (ns_rx, rx))):
            if addrs:
                sh("ip", "-n", ns, "addr", "add", addrs[i], "dev", dev)
                sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield ns_tx, tx, ns_rx, rx
    finally:
        for ns in (ns_tx, ns_rx):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def main(doc, tests, tag, traces=False, precheck=None):
    """The command line of a test script: --weir (and --traces), then one test name from
    `tests`, run in a temporary directory; prints "ok   NAME: summary" or "FAIL NAME: why"
    and returns the exit status. precheck(args) may return a reason not to start."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--weir", required=True)
    if traces:
        ap.add_argument("--traces", required=True)
    ap.add_argument("test", choices=sorted(tests))
    a = ap.parse_args()
    why = precheck(a) if precheck else None
    if why:
        print("FAIL %s" % why)
        return 1
    with tempfile.TemporaryDirectory(prefix="weir-%s-" % tag) as tmp:
        args = (a.weir, tmp, a.traces) if traces else (a.weir, tmp)
        try:
            print("ok   %s: %s" % (a.test, tests[a.test](*args)))
        except AssertionError as e:
            print("FAIL %s: %s" % (a.test, e))
            return 1
    return 0
