#!/usr/bin/env python3
"""End-to-end tests of weir's rate anomaly alerts, with a real redis-server on loopback.

The trace (scripts/genoutage.py): UDP to four /24 prefixes at 300 packets/s each for six
minutes of packet time. Prefix A (10.1.0.0/24) drops to zero in [200 s, 260 s), prefix B
(10.2.0.0/24) falls to 40 % in [200 s, 300 s), prefix C (10.3.0.0/24) surges eight-fold in
[220 s, 260 s); prefix D (10.4.0.0/24) is left alone. Warm-up and baseline half-life are set
to 60 s so that the trace can be short.

  expected   weir reads the file with --watch prefixes:FILE and --redis: the stream holds,
             for the packet series of A, B and C, exactly one raise (A critical rate_drop,
             B warning rate_drop, C rate_surge) and one clear, with started_at at the
             injected start, detected_at within the bars (A: 5 s, B: 30 s, C: 15 s) and
             cleared_at at the injected end; no alert for D; every message valid against
             docs/alert.schema.json; the stream equals the --alerts-file lines; the live
             channel got the same messages; the active hash is empty at the end; the same
             run again gives the same alerts (packet time), alert ids included: they name
             the run by the trace's first second;
  dstprefix  the same file with --watch dst-prefix instead of the prefix list: the four /24s
             are admitted as automatic series by the heavy-hitter sketch, and the same three
             raise and clear, at the same times, under family dst-prefix;
  none       the same file with --watch none: the same flows and packets are exported
             (IPFIX file, decoded by ipfixDump), and no series and no alert is made; a live
             generated input offered faster than the worker folds it, with --watch none,
             still raises probe_degraded (the bins close on the clock) and nothing else;
             --watch none with another family is refused before anything starts;
  restart    the trace fed through a pipe at 20x speed while redis-server is killed and
             started again: every raise and clear still arrives, in order;
  slow       Redis hangs (SIGSTOP: connected, never answering) while alerts are raised and
             cleared: capture goes on meanwhile (/metrics counts packets read), and once it
             answers again every raise and clear reaches the stream, in order;
  noredis    Redis never reachable: capture and IPFIX export go on (the flows are all
             exported), weir exits, and the summary counts the alerts as spooled or lost;
  silent     live capture on a veth pair in namespaces the test creates: 400 datagrams per
             second, then the sender stops. With no packet arriving, the link's bins still
             close by the capture clock: a critical rate_drop of the link is raised with
             started_at at the stop (within 2 s) and before weir is stopped; its alert id
             names the run by the second the capture began (so a restarted probe's ids
             differ from the last run's);
  degraded   live capture on a veth pair with a 1 MiB kernel ring: steady traffic, then a
             flood while the probe is stopped (SIGSTOP): the kernel drops packets, and the
             drops, polled from the capture driver, raise probe_degraded (capture_health
             "degraded"), and the link's loss is not reported as a rate_drop.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts"))
import genoutage  # noqa: E402
import weirtest as wt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "..", "docs", "alert.schema.json")
DETECT = ["--detect", "warmup_s=60", "--detect", "baseline_half_life_s=60"]
T0, PREFIXES = genoutage.T0, genoutage.PREFIXES
write_trace = genoutage.write_trace


# ---------------------------------------------------------------------------------------- #
# redis-server and a minimal RESP client (no Python Redis library on the machine)

class Redis:
    def __init__(self, tmp, port=None):
        self.port = port or wt.free_tcp_port()
        self.tmp = tmp
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if self.cmd("PING") == "PONG":
                    return
            except OSError:
                time.sleep(0.05)
        wt.fail("redis-server did not start on port %d" % self.port)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def cmd(self, *args):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(encode(args))
            return read_reply(s.makefile("rb"))


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise OSError("bad reply %r" % line)


class Subscriber(threading.Thread):
    """SUBSCRIBE to the live channel; collects the messages."""

    def __init__(self, port, channel):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=None)
        self.sock.sendall(encode(["SUBSCRIBE", channel]))
        self.f = self.sock.makefile("rb")
        read_reply(self.f)  # the subscribe confirmation
        self.messages = []
        self.start()

    def run(self):
        try:
            while True:
                r = read_reply(self.f)
                if isinstance(r, list) and r and r[0] == "message":
                    self.messages.append(r[2])
        except (OSError, ValueError):
            pass


def stream(redis, key="weir:alerts"):
    out = []
    for _id, fields in redis.cmd("XRANGE", key, "-", "+"):
        d = dict(zip(fields[::2], fields[1::2]))
        out.append(json.loads(d["event"]))
    return out


def validate(messages):
    import jsonschema
    schema = json.load(open(SCHEMA))
    v = jsonschema.Draft202012Validator(schema) if "2020-12" in schema.get("$schema", "") \
        else jsonschema.Draft7Validator(schema)
    for m in messages:
        errs = sorted(v.iter_errors(m), key=str)
        if errs:
            wt.fail("message not valid against %s: %s\n%s" % (SCHEMA, errs[0].message, m))


def ts(rfc3339):
    import datetime
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() - T0


def check_expected(msgs, family="prefix"):
    """The alerts of the packet series of each prefix, checked against the injection."""
    byname = {v: k for k, v in PREFIXES.items()}
    got = {}
    for m in msgs:
        if m["family"] == family and m["metric"] == "packets":
            got.setdefault(byname.get(m["key"], m["key"]), []).append(m)
    if "D" in got:
        wt.fail("an alert for the untouched prefix D: %s" % got["D"][0])
    bars = {"A": 5, "B": 30, "C": 15}
    want = genoutage.EVENTS
    for name, (kind, severity, start, end) in want.items():
        bar = bars[name]
        ev = [m for m in got.get(name, []) if m["event"] in ("raise", "clear")]
        if [m["event"] for m in ev] != ["raise", "clear"]:
            wt.fail("prefix %s: want one raise and one clear, got %s" % (
                name, [(m["event"], m["kind"]) for m in got.get(name, [])]))
        raise_, clear = ev
        if raise_["kind"] != kind or (severity and raise_["severity"] != severity):
            wt.fail("prefix %s raised %s/%s, want %s/%s" % (
                name, raise_["kind"], raise_["severity"], kind, severity))
        if abs(ts(raise_["started_at"]) - start) > 1:
            wt.fail("prefix %s: started_at %s, the injection began at +%d s" % (
                name, raise_["started_at"], start))
        delay = ts(raise_["detected_at"]) - start
        if not 0 <= delay <= bar:
            wt.fail("prefix %s detected %.1f s after the start (bar %d s)" % (name, delay, bar))
        if abs(ts(clear["cleared_at"]) - end) > 2 or clear["alert_id"] != raise_["alert_id"]:
            wt.fail("prefix %s: cleared_at %s (injection ended at +%d s), alert ids %s %s" % (
                name, clear["cleared_at"], end, raise_["alert_id"], clear["alert_id"]))
    return {n: ts(got[n][0]["detected_at"]) - want[n][2] for n in want}


def setup(tmp):
    pcap = os.path.join(tmp, "alerts.pcap")
    n = write_trace(pcap)
    pfx = os.path.join(tmp, "prefixes.txt")
    genoutage.write_prefixes(pfx)
    return pcap, pfx, n


def test_expected(weir, tmp):
    pcap, pfx, n = setup(tmp)
    redis = Redis(tmp)
    try:
        sub = Subscriber(redis.port, "weir:alerts:live")
        runs = []
        for k in range(2):
            redis.cmd("DEL", "weir:alerts", "weir:active")
            af, js = os.path.join(tmp, "a%d.jsonl" % k), os.path.join(tmp, "s%d.json" % k)
            wt.run_weir(weir, ["-i", "pcap:" + pcap, "--watch", "prefixes:" + pfx,
                               "--redis", "redis://127.0.0.1:%d" % redis.port,
                               "--alerts-file", af, "--probe-id", "test", "--summary-json",
                               js, "-q"] + DETECT)
            msgs = stream(redis)
            lines = [json.loads(l) for l in open(af)]
            if msgs != lines:
                wt.fail("the Redis stream (%d) differs from the alerts file (%d)" % (
                    len(msgs), len(lines)))
            if redis.cmd("HLEN", "weir:active") != 0:
                wt.fail("alerts still active at the end: %s" % redis.cmd("HKEYS", "weir:active"))
            summary = wt.load_summary(js, "expected, run %d" % k)
            if summary["packets_read"] != n or summary["alerts"]["redis"]["lost"] != 0:
                wt.fail("summary: %s" % summary["alerts"])
            runs.append(msgs)
        validate(runs[0])
        delays = check_expected(runs[0])
        # alert ids carry the run: the first bin's second of packet time, here the trace's
        runs_seen = {m["alert_id"].split(":")[1] for m in runs[0]}
        if runs_seen != {str(int(T0))}:
            wt.fail("alert ids name runs %s, the trace starts at %d" % (runs_seen, T0))
        strip = lambda ms: [{k: v for k, v in m.items() if k != "event_id"} for m in ms]
        if strip(runs[0]) != strip(runs[1]):
            wt.fail("a second run of the same file gave different alerts")
        time.sleep(0.3)
        live = [json.loads(m) for m in sub.messages]
        if live != runs[0] + runs[1]:
            wt.fail("the live channel got %d messages, the stream %d" % (
                len(live), len(runs[0]) + len(runs[1])))
    finally:
        redis.stop()
    return ("%d packets, %d messages, schema-valid, stream = file = live channel, same twice; "
            "detected after %s s" % (n, len(runs[0]),
                                     ", ".join("%s %.0f" % kv for kv in sorted(delays.items()))))


def test_dstprefix(weir, tmp):
    pcap, _, _ = setup(tmp)
    af, js = os.path.join(tmp, "a.jsonl"), os.path.join(tmp, "s.json")
    wt.run_weir(weir, ["-i", "pcap:" + pcap, "--watch", "dst-prefix", "--alerts-file", af,
                       "--summary-json", js, "-q"] + DETECT)
    msgs = [json.loads(l) for l in open(af)]
    validate(msgs)
    delays = check_expected(msgs, family="dst-prefix")
    admitted = wt.load_summary(js, "dstprefix")["alerts"]["admitted"]
    if admitted != 4:
        wt.fail("%d automatic prefixes admitted, the trace has 4 busy /24s" % admitted)
    return ("4 /24s admitted automatically; detected after %s s" %
            ", ".join("%s %.0f" % kv for kv in sorted(delays.items())))


def test_none(weir, tmp):
    pcap, pfx, n = setup(tmp)

    def run(name, watch):
        """weir on the trace with the options watch: its checked summary, the number of
        alerts it wrote and its flow records (each as a comparable string), sorted."""
        af, js = os.path.join(tmp, name + ".jsonl"), os.path.join(tmp, name + ".json")
        ipfix = os.path.join(tmp, name + ".ipfix")
        wt.run_weir(weir, ["--allow-root", "-i", "pcap:" + pcap, "-o", "ipfix:file:" + ipfix,
                           "--alerts-file", af, "--summary-json", js, "-q"] + watch + DETECT)
        s = wt.load_summary(js, name)
        recs = wt.check_ipfix_file(s, ipfix, name)
        return (s, sum(1 for _ in open(af)),
                sorted(repr(sorted(r.items(), key=str)) for r in recs))
    counted, n_counted, flows_counted = run("prefixes", ["--watch", "prefixes:" + pfx])
    s, n_alerts, flows = run("none", ["--watch", "none"])
    if s["packets_read"] != n:
        wt.fail("--watch none read %d packets of %d" % (s["packets_read"], n))
    if (s["alerts"]["series"], n_alerts) != (0, 0):
        wt.fail("--watch none still counted: %s, %d alerts" % (s["alerts"], n_alerts))
    if flows != flows_counted:
        wt.fail("--watch none exported %d records, with counting %d, or they differ" % (
            len(flows), len(flows_counted)))
    if n_counted == 0 or counted["alerts"]["series"] == 0:
        wt.fail("the counting run raised nothing: the comparison proves nothing")
    # the capture-health gate needs no counting: a receive ring of one packet, offered as
    # fast as the generator goes, loses most of them
    af, js = os.path.join(tmp, "live.jsonl"), os.path.join(tmp, "live.json")
    gen = "gen:flows=1000,packets=1000000000,live=1,rate=1000000000,ring=1"
    wt.run_weir(weir, ["--allow-root", "-q", "-i", gen,
                       "-o", "ipfix:file:" + os.path.join(tmp, "live.ipfix"), "--duration", "2",
                       "--bin-ms", "100", "--watch", "none", "--alerts-file", af,
                       "--summary-json", js])
    live = wt.load_summary(js, "none, live")
    kinds = {json.loads(l)["kind"] for l in open(af)}
    if live["dropped"] == 0 or kinds != {"probe_degraded"} or live["alerts"]["series"] != 0:
        wt.fail("--watch none, live with %d lost: alerts of kinds %s, %d series" % (
            live["dropped"], sorted(kinds), live["alerts"]["series"]))
    p = wt.run_weir(weir, ["--allow-root", "-i", "pcap:" + pcap, "-o", "ipfix:file:" +
                           os.path.join(tmp, "x.ipfix"), "--watch", "proto", "--watch",
                           "none"], check=False)
    if p.returncode != 2 or "'none' counts nothing" not in p.stderr:
        wt.fail("--watch proto --watch none: exit %d, %r" % (p.returncode, p.stderr))
    return ("--watch none: %d packets, the same %d flow records as with counting, no series, "
            "no alert (counting: %d series, %d alerts); live, %d lost: probe_degraded alone; "
            "none with proto refused" % (
                n, len(flows), counted["alerts"]["series"], n_counted, live["dropped"]))


def feed(proc_stdin, pcap, speed):
    """Writes the pcap to weir's stdin at `speed` times packet time."""
    with open(pcap, "rb") as f:
        proc_stdin.write(f.read(24))
        start, first = time.time(), None
        while True:
            hdr = f.read(16)
            if len(hdr) < 16:
                break
            sec, usec, caplen, _ = struct.unpack("<IIII", hdr)
            t = sec + usec / 1e6
            first = first or t
            delay = (t - first) / speed - (time.time() - start)
            if delay > 0.005:
                proc_stdin.flush()
                time.sleep(delay)
            proc_stdin.write(hdr + f.read(caplen))
    proc_stdin.close()


def run_fed(weir, tmp, pcap, pfx, n, redis, meanwhile, where, extra=()):
    """weir reading the trace from a pipe at 20x packet time, publishing to redis (and to the
    alerts file), while meanwhile() does things to the server; weir must exit 0 and have read
    all n packets. Returns (the stream's messages, the file's, the checked summary)."""
    js = os.path.join(tmp, "s.json")
    proc = subprocess.Popen([weir, "-i", "pcap:-", "--watch", "prefixes:" + pfx, "--redis",
                             "redis://127.0.0.1:%d" % redis.port, "--alerts-file",
                             os.path.join(tmp, "a.jsonl"), "--summary-json", js, "-q"] +
                            list(extra) + DETECT, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        feeder = threading.Thread(target=feed, args=(proc.stdin, pcap, 20.0))
        feeder.start()
        meanwhile()
        feeder.join()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        wt.fail("weir exited %d: %s" % (proc.returncode, err.decode()[-500:]))
    msgs = stream(redis)
    lines = [json.loads(ln) for ln in open(os.path.join(tmp, "a.jsonl"))]
    summary = wt.load_summary(js, where)
    if summary["packets_read"] != n:
        wt.fail("%d packets read of the %d fed" % (summary["packets_read"], n))
    return msgs, lines, summary


def test_restart(weir, tmp):
    pcap, pfx, n = setup(tmp)
    redis = Redis(tmp)

    def meanwhile():
        time.sleep(10.5)  # packet time ~210 s: A has been raised, B is pending
        redis.kill()
        time.sleep(2.0)   # ~250 s: C raised while Redis is down
        redis.start()
    try:
        msgs, lines, _ = run_fed(weir, tmp, pcap, pfx, n, redis, meanwhile, "restart")
    finally:
        redis.stop()
    # the stream was lost with the killed server: what is in it now must be, in order,
    # what was published after the restart; every raise and clear weir made must have
    # reached Redis at least once in order (the spool resends what was not confirmed)
    want = [m["event_id"] for m in lines if m["event"] in ("raise", "clear")]
    got = [m["event_id"] for m in msgs if m["event"] in ("raise", "clear")]
    after = [e for e in want if e in set(got)]
    if after != [e for e in got if e in set(want)]:
        wt.fail("raises and clears out of order after the restart")
    post = want[want.index(after[0]):] if after else []
    if post != after:
        wt.fail("raises and clears made after the restart are missing: %s" % (
            sorted(set(post) - set(after))[:3]))
    # every clear comes 30 s or more after the last injection ends (290 s of packet time and
    # later), long after the restart: an empty new stream must not pass
    clears = [m["event_id"] for m in lines if m["event"] == "clear"]
    if not clears or any(c not in set(got) for c in clears):
        wt.fail("clears made after the restart missing from the new stream: %d of %d" % (
            sum(c not in set(got) for c in clears), len(clears)))
    check_expected(lines)
    return ("Redis killed at ~210 s and restarted at ~250 s of packet time: %d raises and "
            "clears in the file, the %d after the restart all in the new stream in order" % (
                len(want), len(after)))


def test_noredis(weir, tmp):
    pcap, pfx, n = setup(tmp)
    port = wt.free_tcp_port()  # nothing listens there
    js, out = os.path.join(tmp, "s.json"), os.path.join(tmp, "f.ipfix")
    t = time.time()
    wt.run_weir(weir, ["-i", "pcap:" + pcap, "--watch", "prefixes:" + pfx, "--redis",
                       "redis://127.0.0.1:%d" % port, "-o", "ipfix:file:" + out,
                       "--summary-json", js, "-q"] + DETECT, timeout=60)
    took = time.time() - t
    summary = wt.load_summary(js, "noredis")
    recs = wt.decode_ipfixdump(out)
    if sum(int(r[wt.IE_PACKETS]) for r in recs) != n:
        wt.fail("IPFIX export lost packets with Redis down")
    a = summary["alerts"]
    events = a["raised"] + a["updates"] + a["cleared"]
    if events == 0 or a["redis"]["published"] != 0 or \
            a["redis"]["spooled"] + a["redis"]["lost"] + a["redis"]["updates_dropped"] != events:
        wt.fail("with Redis down, %d events: %s" % (events, a["redis"]))
    return ("%d packets exported, %d alert events counted as spooled (%d) or lost (%d); exit "
            "after %.1f s" % (n, events, a["redis"]["spooled"], a["redis"]["lost"], took))


def wait_for_raise(path, want):
    """The first raise in the alerts file `path` that `want` accepts, waiting up to 30 s (a
    guard against a hang, not a measurement) for a running weir to write it; or None."""
    deadline = time.time() + 30
    while time.time() < deadline:
        time.sleep(0.5)
        for m in map(json.loads, open(path)):
            if m["event"] == "raise" and want(m):
                return m
    return None


def test_silent(weir, tmp):
    af = os.path.join(tmp, "a.jsonl")
    sender = ("import socket, sys, time\n"
              "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              "end = time.time() + float(sys.argv[1]); k = 0; t0 = time.time()\n"
              "while time.time() < end:\n"
              "    s.sendto(b'x' * 64, ('192.0.2.2', 9000 + k % 50)); k += 1\n"
              "    d = t0 + k / 400.0 - time.time()\n"
              "    if d > 0: time.sleep(d)\n"
              "    else: t0 -= d  # late: go on from now, no catch-up burst\n"
              "print(time.time())\n")
    with wt.veth_pair(addrs=("192.0.2.1/24", "192.0.2.2/24"), ipv6=False) as (ns_tx, _, ns_rx,
                                                                              rx):
        launched = time.time()
        probe = subprocess.Popen(
            ["ip", "netns", "exec", ns_rx, weir, "-i", "pcap:" + rx, "--filter",
             "udp and dst host 192.0.2.2", "--alerts-file", af, "-q", "--summary-json",
             os.path.join(tmp, "s.json"), "--detect", "warmup_s=10", "--detect",
             "baseline_half_life_s=10"],
            stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        out = subprocess.run(["ip", "netns", "exec", ns_tx, sys.executable, "-c", sender,
                              "20"], capture_output=True, text=True, check=True)
        stopped = float(out.stdout.strip())
        raised = wait_for_raise(af, lambda m: m["family"] == "link" and
                                m["metric"] == "packets" and m["kind"] == "rate_drop")
        said = wt.stop_weir(probe, signal.SIGTERM, 30, "SIGTERM")
    wt.load_summary(os.path.join(tmp, "s.json"), "silent")
    if raised is None:
        wt.fail("no link rate_drop raised while the link stayed silent; alerts: %s; "
                "weir said: %s; summary: %s" % (open(af).read()[-2000:] or "none",
                                                said[-2000:],
                                                open(os.path.join(tmp, "s.json")).read()))
    began = ts(raised["started_at"]) + T0
    run = int(raised["alert_id"].split(":")[1])
    # the run is the second capture began: weir's first bin, within moments of its start
    # (the sender begins a second later), not the second of some later packet or bin
    if not int(launched) - 1 <= run <= launched + 5:
        wt.fail("alert id %s names run %d; weir was started at %.1f" % (
            raised["alert_id"], run, launched))
    if raised["severity"] != "critical" or abs(began - stopped) > 2:
        wt.fail("link drop %s began at %.1f, the sender stopped at %.1f; alerts: %s" % (
            raised["severity"], began, stopped, open(af).read()[-3000:]))
    return ("the sender stopped; with no packet since, the link's critical rate_drop began "
            "%.1f s from the stop and was raised %.1f s after it" % (
                began - stopped, ts(raised["detected_at"]) + T0 - stopped))


def test_degraded(weir, tmp):
    af, js = os.path.join(tmp, "a.jsonl"), os.path.join(tmp, "s.json")
    sender = ("import socket, sys, time\n"
              "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              "t0 = time.time(); k = 0\n"
              "while time.time() < t0 + float(sys.argv[1]):\n"
              "    s.sendto(b'x' * 64, ('192.0.2.2', 9000 + k % 50)); k += 1\n"
              "    if time.time() < t0 + 10 and k % 4 == 0: time.sleep(0.01)\n"
              "print(k)\n")
    with wt.veth_pair(addrs=("192.0.2.1/24", "192.0.2.2/24"), ipv6=False) as (ns_tx, _, ns_rx,
                                                                              rx):
        probe = subprocess.Popen(
            ["ip", "netns", "exec", ns_rx, weir, "-i", "pcap:" + rx, "--filter",
             "udp and dst host 192.0.2.2", "--buffer-mb", "1", "--alerts-file", af,
             "--summary-json", js, "-q", "--detect", "warmup_s=5", "--detect",
             "baseline_half_life_s=5"], stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        # 10 s at a steady ~400/s, then as fast as the sender goes for 4 s while the probe is
        # stopped: the 1 MiB kernel ring overflows and the kernel drops what does not fit
        tx = subprocess.Popen(["ip", "netns", "exec", ns_tx, sys.executable, "-c", sender,
                               "14"], stdout=subprocess.PIPE, text=True)
        time.sleep(10.5)
        probe.send_signal(signal.SIGSTOP)
        sent = int(tx.communicate(timeout=60)[0])
        probe.send_signal(signal.SIGCONT)
        raised = wait_for_raise(af, lambda m: m["kind"] == "probe_degraded")
        said = wt.stop_weir(probe, signal.SIGTERM, 30, "SIGTERM")
    summary = wt.load_summary(js, "degraded")
    if summary["dropped"] == 0:
        wt.fail("%d datagrams sent, %d read, and the kernel dropped none: the test did not "
                "overflow the ring" % (sent, summary["packets_read"]))
    if raised is None:
        wt.fail("the kernel dropped %d packets and no probe_degraded was raised; alerts: %s; "
                "weir said: %s" % (summary["dropped"], open(af).read()[-2000:] or "none",
                                   said[-2000:]))
    if raised["family"] != "probe" or raised["capture_health"] != "degraded":
        wt.fail("probe_degraded raise: %s" % raised)
    # the gate: the capture's own loss is not reported as the link's traffic dropping
    drops = [m for m in map(json.loads, open(af)) if m["kind"] == "rate_drop"]
    if drops:
        wt.fail("rate_drop raised while the probe was losing packets: %s" % drops[0])
    if summary["packets_read"] + summary["dropped"] > sent:
        wt.fail("read %d + dropped %d exceed the %d sent" % (
            summary["packets_read"], summary["dropped"], sent))
    return ("%d sent, %d read, %d dropped by the kernel while the probe was stopped: "
            "probe_degraded raised, no rate_drop" % (sent, summary["packets_read"],
                                                     summary["dropped"]))


def test_slow(weir, tmp):
    pcap, pfx, n = setup(tmp)
    redis = Redis(tmp)
    port = wt.free_tcp_port()
    counts = []

    def packets_read():
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                      timeout=5).read().decode()
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
                   if ln.startswith("weir_packets_read_total{"))

    def meanwhile():
        time.sleep(10.0)  # packet time ~200 s: the outages begin
        redis.proc.send_signal(signal.SIGSTOP)  # the server hangs: connected, never answers
        counts.append(packets_read())
        time.sleep(4.0)   # ~280 s: raises and clears pend while it hangs
        counts.append(packets_read())
        redis.proc.send_signal(signal.SIGCONT)
    try:
        msgs, lines, summary = run_fed(weir, tmp, pcap, pfx, n, redis, meanwhile, "slow",
                                       extra=["--metrics", "127.0.0.1:%d" % port])
    finally:
        if redis.proc.poll() is None:
            redis.proc.send_signal(signal.SIGCONT)
        redis.stop()
    before, during = counts
    if during <= before:
        wt.fail("capture stopped while Redis hung: %d packets read before, %d after 4 s" %
                (before, during))
    # nothing was lost with the server: every raise and clear reaches the stream, in order
    # (a command resent after a timeout may arrive twice: the event id tells)
    want = [m["event_id"] for m in lines if m["event"] in ("raise", "clear")]
    got = []
    for m in msgs:
        if m["event"] in ("raise", "clear") and m["event_id"] not in got:
            got.append(m["event_id"])
    if got != want:
        wt.fail("the stream's raises and clears %s != the file's %s" % (got, want))
    check_expected(lines)
    return ("Redis hung (SIGSTOP) for 4 s at ~200 s of packet time: capture went on (%d -> %d "
            "packets read meanwhile), all %d raises and clears reached the stream in order; "
            "redis counters %s" % (before, during, len(want), summary["alerts"]["redis"]))


TESTS = {"expected": test_expected, "restart": test_restart, "noredis": test_noredis,
         "slow": test_slow,
         "silent": test_silent, "dstprefix": test_dstprefix, "degraded": test_degraded,
         "none": test_none}


def main():
    def redis(_):
        if shutil.which("redis-server") is None:
            return "redis-server not installed (scripts/deps.sh installs it)"
        return None
    return wt.main(__doc__, TESTS, "alerts", precheck=redis)

if __name__ == "__main__":
    sys.exit(main())
