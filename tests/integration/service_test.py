#!/usr/bin/env python3
"""weir run as a service: SIGHUP reload (valid, invalid, not reloadable), a graceful stop,
the Prometheus /metrics endpoint, weirctl's control socket, the switch to an unprivileged
user, log levels and the journal's priorities, the terminal's status line and progress bar,
what `meson install` puts where (unit, man page, sample config), and that installed unit
run under systemd as PID 1 of a machine booted with systemd-nspawn.

Usage: service_test.py --weir WEIR --weir-real WEIR --weirctl WEIRCTL --source SRC TEST
(--weir runs weir with --allow-root, as every test does as root; --weir-real is the binary
itself, for the root refusal).
"""
import argparse
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts"))
import genoutage  # noqa: E402
import weirtest as wt  # noqa: E402

A = None  # the parsed command line
T0 = 1_700_000_000


def weirctl(sock, *cmd, check=True):
    p = subprocess.run([A.weirctl, "-s", sock] + list(cmd), capture_output=True, text=True,
                       timeout=30)
    if check and p.returncode != 0:
        wt.fail("weirctl %s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return p


def stats(sock):
    return json.loads(weirctl(sock, "stats").stdout)


def wait_for(what, cond, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    wt.fail("timed out waiting for %s" % what)


def wait_socket(path, proc):
    def up():
        if proc.poll() is not None:
            wt.fail("weir exited %d before its control socket was up: %s" %
                    (proc.returncode, proc.stderr.read() if proc.stderr else ""))
        return os.path.exists(path) and weirctl(path, "stats", check=False).returncode == 0
    wait_for("the control socket " + path, up)


def pcap_header():
    return struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)


def udp_packet(t, src, dst, sport, dport, payload=18):
    """One Ethernet/IPv4/UDP record of a microsecond pcap at time t (s)."""
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    udp = struct.pack("!HHHH", sport, dport, 8 + payload, 0) + b"\0" * payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes(src), bytes(dst))
    frame = eth + ip + udp
    us = int(round(t * 1e6))
    return struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame)) + frame


def stop(proc):
    """SIGTERM to a running weir; it must exit 0. Returns its stderr."""
    return wt.stop_weir(proc, signal.SIGTERM, 60, "SIGTERM")


# ---------------------------------------------------------------------------------------------

def test_reload(tmp):
    """A pipe on stdin makes packet time ours: flow A's packets at 1000 s, then a reload that
    shortens the idle timeout from 60 s to 5 s, then one packet of flow B at 1010 s. A leaves
    idle only if the reload reached the worker (10 s < 60 s). Then an invalid file is refused
    whole, and a change that needs a restart is named and not applied."""
    sock = os.path.join(tmp, "ctl.sock")
    cfg = os.path.join(tmp, "weir.yaml")
    out = os.path.join(tmp, "flows.ipfix")
    js = os.path.join(tmp, "summary.json")
    base = ('input: ["pcap:-"]\noutput: ["ipfix:file:%s"]\ncontrol-socket: "%s"\n'
            'summary-json: "%s"\n' % (out, sock, js))

    def write(idle, workers, warmup):
        open(cfg, "w").write(base + "idle-timeout: %d\nworkers: %d\ndetect:\n  warmup_s: %d\n"
                             % (idle, workers, warmup))

    def reload_with(idle, workers, warmup):
        write(idle, workers, warmup)
        proc.send_signal(signal.SIGHUP)

    write(60, 1, 600)
    proc = subprocess.Popen([A.weir, "-c", cfg], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=False)
    err = b""
    try:
        proc.stdin.write(pcap_header())
        for k in range(20):
            proc.stdin.write(udp_packet(T0 + k * 0.025, [10, 0, 0, 1], [10, 0, 0, 2], 1000, 53))
        proc.stdin.flush()
        wait_socket(sock, proc)
        wait_for("20 packets read", lambda: stats(sock)["packets_read"] == 20)
        cfgtext = weirctl(sock, "config").stdout
        if "idle-timeout: 60\n" not in cfgtext:
            wt.fail("config before the reload: %r" % cfgtext[:300])
        reload_with(5, 1, 30)
        wait_for("the reload", lambda: "idle-timeout: 5\n" in weirctl(sock, "config").stdout)
        if "warmup_s: 30\n" not in weirctl(sock, "config").stdout:
            wt.fail("detect: warmup_s not reloaded")
        time.sleep(0.5)  # the worker looks every 0.2 s
        proc.stdin.write(udp_packet(T0 + 10, [10, 0, 0, 3], [10, 0, 0, 2], 2000, 53))
        proc.stdin.flush()
        idle = wait_for("flow A to leave idle after the reload",
                        lambda: stats(sock)["records"]["idle"] == 1 and stats(sock))
        if idle["records"]["forced_end"] != 0:
            wt.fail("unexpected records before the end: %s" % idle["records"])
        # an invalid file: refused whole, the previous settings kept
        reload_with(0, 1, 45)
        time.sleep(1.0)
        now = weirctl(sock, "config").stdout
        if "idle-timeout: 5\n" not in now or "warmup_s: 30\n" not in now:
            wt.fail("an invalid reload changed the settings: %r" % now[:400])
        # a key that is not reloadable: named, not applied; the reloadable one is taken
        reload_with(7, 2, 30)
        wait_for("the third reload", lambda: "idle-timeout: 7\n" in weirctl(sock, "config").stdout)
        if "workers: 1\n" not in weirctl(sock, "config").stdout:
            wt.fail("workers changed by a reload")
        proc.stdin.close()
        proc.wait(timeout=60)
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        wt.fail("weir exited %d: %s" % (proc.returncode, err))
    for want in ("reload: idle-timeout: 60 -> 5", "reload: detect: warmup_s: 600 -> 30\n",
                 "%s:5: idle-timeout: '0' is not a whole number" % cfg,
                 "has errors (above); still running on the previous settings",
                 "reload: workers changed (1 -> 2): takes effect at the next start",
                 "reload: idle-timeout: 5 -> 7"):
        if want not in err:
            wt.fail("the log lacks %r:\n%s" % (want, err))
    summary = wt.load_summary(js, "reload")
    wt.check_ipfix_file(summary, out, "reload")
    if summary["records"]["idle"] != 1 or summary["records"]["forced_end"] != 1:
        wt.fail("records %s: want 1 idle (after the reload) and 1 forced end" %
                summary["records"])
    return ("a reload shortened the idle timeout of a flow already in the cache (it left at "
            "10 s of packet time, not 60), an invalid file was refused whole, workers: 2 was "
            "named and left for the next start")


def test_shutdown(tmp):
    """SIGTERM in the middle of an endless generated input with two workers: weir stops,
    flushes every flow, exports it, and exits 0; the IPFIX file holds every packet."""
    out = os.path.join(tmp, "flows.ipfix")
    js = os.path.join(tmp, "summary.json")
    alerts = os.path.join(tmp, "alerts.jsonl")
    proc = subprocess.Popen([A.weir, "-i", "gen:flows=5000,packets=0", "--workers", "2",
                             "-o", "ipfix:file:" + out, "--summary-json", js,
                             "--alerts-file", alerts, "-q"],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    err = stop(proc)
    if "SIGTERM: stopping capture" not in err:
        wt.fail("no log line for the SIGTERM: %r" % err)
    summary = wt.load_summary(js, "shutdown")
    if summary["packets_ring_full"]:
        wt.fail("a graceful stop lost %d packets to a full worker queue" %
                summary["packets_ring_full"])
    records = wt.decode_ipfixdump(out)
    packets = sum(int(r[wt.IE_PACKETS]) for r in records)
    if packets != summary["packets_in_flows"] or packets == 0:
        wt.fail("the IPFIX file holds %d packets, the summary %d in flows" %
                (packets, summary["packets_in_flows"]))
    if summary["records"]["forced_end"] < 5000:
        wt.fail("flushed %d flows at the stop, want all 5000" % summary["records"]["forced_end"])
    return ("SIGTERM: exit 0, %d packets in %d records decoded by ipfixDump, every one read" %
            (packets, len(records)))


METRIC_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                         r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? -?[0-9.e+-]+$')


def parse_metrics(text):
    """Checks the text exposition line by line (each sample after its family's HELP and TYPE)
    and returns {(name, labels): value}."""
    typed, samples = set(), {}
    for ln in text.splitlines():
        if ln.startswith("# HELP "):
            continue
        if ln.startswith("# TYPE "):
            name, kind = ln.split()[2:4]
            if kind not in ("counter", "gauge"):
                wt.fail("metric %s has type %s" % (name, kind))
            typed.add(name)
            continue
        if not METRIC_LINE.match(ln):
            wt.fail("not an exposition line: %r" % ln)
        name = re.match(r"[a-zA-Z0-9_:]+", ln).group(0)
        if name not in typed:
            wt.fail("sample %s before its # TYPE" % name)
        key, value = ln.rsplit(" ", 1)
        samples[key] = float(value)
    return samples


def test_metrics(tmp):
    """/metrics on loopback, scraped twice while two workers count an endless input: every
    line is valid exposition format, the counters grow, per-worker and per-output labels are
    there, occupancy is a fraction; other paths are 404; a non-loopback address is refused."""
    port = wt.free_tcp_port()
    out = os.path.join(tmp, "flows.ipfix")
    js = os.path.join(tmp, "summary.json")
    proc = subprocess.Popen([A.weir, "-i", "gen:flows=3000,packets=0", "--workers", "2",
                             "-o", "ipfix:file:" + out, "--metrics", "127.0.0.1:%d" % port,
                             "--max-flows", "10000", "--summary-json", js, "-q"],
                            stderr=subprocess.PIPE, text=True)
    url = "http://127.0.0.1:%d" % port
    try:
        def scrape():
            try:
                r = urllib.request.urlopen(url + "/metrics", timeout=5)
            except (urllib.error.URLError, ConnectionError):
                return None
            if "text/plain; version=0.0.4" not in r.headers["Content-Type"]:
                wt.fail("Content-Type %r" % r.headers["Content-Type"])
            return r.read().decode()
        first = parse_metrics(wait_for("/metrics", scrape))
        time.sleep(1.0)
        second = parse_metrics(scrape())
        try:
            urllib.request.urlopen(url + "/other", timeout=5)
            wt.fail("/other answered 200")
        except urllib.error.HTTPError as e:
            if e.code != 404:
                wt.fail("/other answered %d, want 404" % e.code)
    finally:
        stop(proc)
    summary = wt.load_summary(js, "metrics")
    wt.check_ipfix_file(summary, out, "metrics")
    name = 'weir_packets_read_total{input="gen:flows=3000,packets=0"}'
    if not second.get(name, 0) > first.get(name, 0) > 0:
        wt.fail("%s did not grow: %s -> %s" % (name, first.get(name), second.get(name)))
    if second.get("weir_up") != 1:
        wt.fail("weir_up %s" % second.get("weir_up"))
    for w in ("0", "1"):
        key = 'weir_flowcache_occupancy_ratio{input="gen:flows=3000,packets=0",worker="%s"}' % w
        occ = second.get(key)
        if occ is None or not 0 < occ <= 1:
            wt.fail("%s = %s, want a fraction" % (key, occ))
        act = second.get('weir_flows_active{input="gen:flows=3000,packets=0",worker="%s"}' % w)
        if not act or abs(act / 5000 - occ) > 1e-6:
            wt.fail("worker %s: %s active flows but occupancy %s of 5000" % (w, act, occ))
    for key in ('weir_drops_total{place="nic_missed"}', 'weir_redis_queue_depth',
                'weir_alerts_firing{kind="rate_drop"}',
                'weir_export_records_total{output="file:%s"}' % out,
                'weir_export_queue_depth{input="gen:flows=3000,packets=0",worker="1"}'):
        if key not in second:
            wt.fail("no %s in /metrics" % key)
    p = subprocess.run([A.weir, "-i", "gen:flows=1", "-o", "ipfix:file:" + out, "--metrics",
                        "192.0.2.1:9465"], capture_output=True, text=True)
    if p.returncode != 2 or "'192.0.2.1' is not a loopback address" not in p.stderr:
        wt.fail("a non-loopback --metrics: exit %d, %r" % (p.returncode, p.stderr))
    return ("%d samples, valid exposition format; packets read grew %d -> %d between scrapes; "
            "per-worker occupancy matches active flows; 404 elsewhere; 192.0.2.1 refused" %
            (len(second), first[name], second[name]))


def test_control(tmp):
    """weirctl against a running weir: the genoutage trace on stdin up to 235 s of packet time
    (10.1.0.0/24 has been dark since 200 s) plus one elephant flow; then `alerts` must list
    exactly the alerts raised and not cleared in the alerts file, `flows top 3` must start
    with the elephant, `stats` must count what was fed, `config` must read back with -t."""
    sock = os.path.join(tmp, "ctl.sock")
    pcap = os.path.join(tmp, "outage.pcap")
    pfx = os.path.join(tmp, "prefixes.txt")
    alerts = os.path.join(tmp, "alerts.jsonl")
    out, js = os.path.join(tmp, "f.ipfix"), os.path.join(tmp, "summary.json")
    genoutage.write_trace(pcap)
    genoutage.write_prefixes(pfx)
    data = open(pcap, "rb").read()
    off, n, cut = 24, 0, T0 + 235
    while off < len(data):
        sec, _, caplen, _ = struct.unpack_from("<IIII", data, off)
        if sec >= cut:
            break
        off += 16 + caplen
        n += 1
    big = b"".join(udp_packet(T0 + 230 + k * 0.001, [172, 16, 0, 1], [172, 16, 0, 2], 7, 7,
                              payload=1400) for k in range(300))
    proc = subprocess.Popen([A.weir, "-i", "pcap:-", "-o", "ipfix:file:" + out,
                             "--summary-json", js, "--control-socket", sock,
                             "--watch", "prefixes:" + pfx, "--alerts-file", alerts,
                             "--detect", "warmup_s=60", "--detect", "baseline_half_life_s=60",
                             "--idle-timeout", "60"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(data[:off] + big)  # the elephant's time is behind the clock: fine
        proc.stdin.flush()
        wait_socket(sock, proc)
        wait_for("%d packets read" % (n + 300),
                 lambda: stats(sock)["packets_read"] == n + 300, timeout=60)
        time.sleep(1.0)  # the detector runs every 50 ms; the last bins close with the clock
        firing = weirctl(sock, "alerts").stdout.splitlines()
        top = weirctl(sock, "flows", "top", "3").stdout.splitlines()
        cfgtext = weirctl(sock, "config").stdout
        bad = weirctl(sock, "flows", "top", "x", check=False)
        unknown = weirctl(sock, "reboot", check=False)
        proc.stdin.close()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        wt.fail("weir exited %d: %s" % (proc.returncode, proc.stderr.read()))
    summary = wt.load_summary(js, "control")
    if summary["packets_read"] != n + 300:
        wt.fail("%d packets read, %d fed" % (summary["packets_read"], n + 300))
    wt.check_ipfix_file(summary, out, "control")
    head = firing[0]
    got = {json.loads(x)["alert_id"]: json.loads(x) for x in firing[1:]}
    if not re.match(r"# \d+ alerts? firing$", head) or int(head.split()[1]) != len(got):
        wt.fail("alerts header %r for %d messages" % (head, len(got)))
    drops = [m for m in got.values() if m["kind"] == "rate_drop" and m["key"] == "10.1.0.0/24"]
    if not drops:
        wt.fail("10.1.0.0/24 has been dark for 35 s, yet `alerts` shows %s" %
                [(m["kind"], m["key"]) for m in got.values()])
    raised = {}
    for ln in open(alerts):
        m = json.loads(ln)
        if m["event"] == "raise":
            raised[m["alert_id"]] = m
    missing = [i for i in got if i not in raised]
    if missing:
        wt.fail("`alerts` lists ids never raised in the alerts file: %s" % missing)
    if "172.16.0.1:7" not in top[2] or "172.16.0.2:7" not in top[2]:
        wt.fail("flows top 3 does not start with the elephant:\n%s" % "\n".join(top))
    if len(top) != 5:
        wt.fail("flows top 3: %d lines" % len(top))
    sizes = [int(ln.split()[5]) for ln in top[2:]]
    if sizes != sorted(sizes, reverse=True):
        wt.fail("flows top 3 not largest first: %s" % sizes)
    back = os.path.join(tmp, "back.yaml")
    open(back, "w").write(cfgtext)
    p = subprocess.run([A.weir, "-t", "-c", back], capture_output=True, text=True)
    if p.returncode != 0 or "control-socket: \"%s\"" % sock not in p.stdout:
        wt.fail("`config` does not read back: %s %s" % (p.stdout[:200], p.stderr))
    if bad.returncode != 1 or "N must be a whole number" not in bad.stderr:
        wt.fail("flows top x: exit %d %r" % (bad.returncode, bad.stderr))
    if unknown.returncode != 1 or "unknown command 'reboot'" not in unknown.stderr:
        wt.fail("an unknown command: exit %d %r" % (unknown.returncode, unknown.stderr))
    gone = subprocess.run([A.weirctl, "-s", sock, "stats"], capture_output=True, text=True)
    if gone.returncode != 2 or "cannot reach weir at %s" % sock not in gone.stderr:
        wt.fail("weirctl after weir ended: exit %d %r" % (gone.returncode, gone.stderr))
    if os.path.exists(sock):
        wt.fail("the control socket is left behind")
    return ("alerts: %d firing (10.1.0.0/24 dark), each raised in the alerts file; flows top 3 "
            "led by the 300-packet elephant; config reads back with -t; bad commands exit 1, "
            "a gone weir 2" % len(got))


def uid_gid(pid):
    st = open("/proc/%d/status" % pid).read()
    uid = st.split("\nUid:")[1].split()[:4]
    gid = st.split("\nGid:")[1].split()[:4]
    groups = st.split("\nGroups:")[1].split("\n")[0].split()
    return uid, gid, groups


def test_privileges(tmp):
    """Root is refused without --user or --allow-root, before anything opens; --user nobody
    switches every thread to nobody once a live capture on a veth pair is open, and capture
    goes on; no file appears outside the configured paths."""
    import pwd
    out = os.path.join(tmp, "live.ipfix")
    p = subprocess.run([A.weir_real, "-i", "gen:flows=10", "-o", "ipfix:file:" + out],
                       capture_output=True, text=True, cwd=tmp)
    if p.returncode != 2 or "refusing to run as root" not in p.stderr or os.path.exists(out):
        wt.fail("root without --user: exit %d, %r, output made: %s" %
                (p.returncode, p.stderr, os.path.exists(out)))
    p = subprocess.run([A.weir_real, "--user", "no-such-user-x", "-i", "gen:flows=10", "-o",
                        "ipfix:file:" + out], capture_output=True, text=True)
    if p.returncode != 2 or "no user 'no-such-user-x'" not in p.stderr:
        wt.fail("--user of a missing user: exit %d %r" % (p.returncode, p.stderr))
    nobody = pwd.getpwnam("nobody")
    work = os.path.join(tmp, "cwd")
    os.mkdir(work)
    outdir = os.path.join(tmp, "out")
    os.mkdir(outdir)
    sock = os.path.join(outdir, "ctl.sock")
    js = os.path.join(outdir, "summary.json")
    out = os.path.join(outdir, "live.ipfix")
    with wt.veth_pair(addrs=("192.0.2.1/24", "192.0.2.2/24")) as (ns_tx, _, ns_rx, rx):
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns_rx, A.weir_real, "--user", "nobody", "-i", "pcap:" + rx,
             "--filter", "udp and dst port 9001", "-o", "ipfix:file:" + out,
             "--control-socket", sock, "--summary-json", js],
            stderr=subprocess.PIPE, text=True, cwd=work)
        try:
            wait_socket(sock, proc)
            pid = proc.pid  # ip netns exec runs weir in its own place
            uid, gid, groups = uid_gid(pid)
            # the control socket is handed to the user: weirctl works for it, not only root
            if os.stat(sock).st_uid != nobody.pw_uid:
                wt.fail("the control socket belongs to uid %d, not nobody" % os.stat(sock).st_uid)
            p = subprocess.run(["setpriv", "--reuid", str(nobody.pw_uid), "--regid",
                                str(nobody.pw_gid), "--clear-groups", A.weirctl, "-s", sock,
                                "stats"], capture_output=True, text=True, timeout=30)
            if p.returncode != 0 or "packets_read" not in p.stdout:
                wt.fail("weirctl as nobody: exit %d %s" % (p.returncode, p.stderr))
            tids = os.listdir("/proc/%d/task" % pid)
            for tid in tids:
                st = open("/proc/%d/task/%s/status" % (pid, tid)).read()
                if st.split("\nUid:")[1].split()[:4] != [str(nobody.pw_uid)] * 4:
                    wt.fail("thread %s still has uids %s" % (tid, st.split("\nUid:")[1].split()[:4]))
            sender = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                      "for i in range(300):\n    s.sendto(b'x' * 64, ('192.0.2.2', 9001))\n")
            wt.sh("ip", "netns", "exec", ns_tx, sys.executable, "-c", sender)
            wait_for("300 packets captured after the switch",
                     lambda: stats(sock)["packets_in_flows"] >= 300)
        finally:
            err = stop(proc)
    if uid != [str(nobody.pw_uid)] * 4 or gid != [str(nobody.pw_gid)] * 4:
        wt.fail("uids %s gids %s, want nobody's (%d, %d)" % (uid, gid, nobody.pw_uid,
                                                              nobody.pw_gid))
    if "0" in groups:
        wt.fail("supplementary groups still hold root's: %s" % groups)
    if "running as nobody" not in err:
        wt.fail("no log line for the switch: %r" % err)
    summary = wt.load_summary(js, "as nobody")
    wt.check_ipfix_file(summary, out, "as nobody")
    if os.listdir(work):
        wt.fail("weir wrote into its working directory: %s" % os.listdir(work))
    # nobody may not remove the socket from root's directory: it stays, named in the log,
    # and the next start must find it stale and replace it
    if sorted(os.listdir(outdir)) != ["ctl.sock", "live.ipfix", "summary.json"]:
        wt.fail("files in the output directory: %s" % os.listdir(outdir))
    if "%s stays" % sock not in err:
        wt.fail("the socket left behind is not named: %r" % err)
    again = subprocess.Popen([A.weir, "-i", "gen:flows=10,packets=0", "-o", "ipfix:file:" + out,
                              "--control-socket", sock, "-q"], stderr=subprocess.PIPE, text=True)
    try:
        wait_socket(sock, again)
    finally:
        stop(again)
    if os.path.exists(sock):
        wt.fail("a start over the stale socket left it behind")
    return ("root refused without --user; as nobody (all %d threads, no root group) a live veth "
            "capture went on: %d packets; nothing written outside the configured paths" %
            (len(tids), summary["packets_in_flows"]))


def test_logging(tmp):
    """--log-level filters by level and topic; under systemd (stderr is $JOURNAL_STREAM) each
    line carries its syslog priority; a bad spec is refused naming the word."""
    out = os.path.join(tmp, "f.ipfix")
    sock = os.path.join(tmp, "ctl.sock")
    js = os.path.join(tmp, "summary.json")
    run = [A.weir, "-i", "gen:flows=100,packets=0", "-o", "ipfix:file:" + out, "-q",
           "--control-socket", sock, "--duration", "2", "--summary-json", js]

    def lines(extra, env=None):
        errf = os.path.join(tmp, "stderr")
        with open(errf, "w") as f:
            env2 = dict(os.environ)
            if env == "journal":
                st = os.fstat(f.fileno())
                env2["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
            proc = subprocess.Popen(run + extra, stderr=f, env=env2)
            wait_socket(sock, proc)
            weirctl(sock, "stats")
            proc.wait(timeout=60)
        if proc.returncode != 0:
            wt.fail("weir %s exited %d: %s" % (" ".join(extra), proc.returncode,
                                               open(errf).read()[-2000:]))
        where = "logging %s" % (" ".join(extra) or env or "default")
        wt.check_ipfix_file(wt.load_summary(js, where), out, where)
        os.unlink(js)  # each run must write its own
        return open(errf).read()
    default = lines([])
    if "weir: [control] control socket " + sock not in default or "[control] control socket: 'stats'" in default:
        wt.fail("default level: %r" % default)
    quiet = lines(["--log-level", "warning"])
    if quiet.strip():
        wt.fail("--log-level warning still logs %r" % quiet)
    debug = lines(["--log-level", "warning,control=debug"])
    if "weir: [control] control socket: 'stats'" not in debug or "[probe]" in debug:
        wt.fail("warning,control=debug: %r" % debug)
    journal = lines([], env="journal")
    if not re.search(r"^<6>weir: \[control\] control socket ", journal, re.M):
        wt.fail("under the journal: %r" % journal)
    p = subprocess.run([A.weir, "-i", "gen:flows=1", "-o", "ipfix:file:" + out,
                        "--log-level", "info,cpature=debug"], capture_output=True, text=True)
    if p.returncode != 2 or "unknown topic 'cpature'" not in p.stderr:
        wt.fail("a bad log level: exit %d %r" % (p.returncode, p.stderr))
    return ("levels and topics filter; the journal gets <6> priorities; a misspelt topic is "
            "refused")


def test_status(tmp):
    """On a terminal, the status line: a pcap file of 100,000 one-packet flows read with a 1 s
    idle timeout and exported over UDP paced at 200 messages/s (a file input waits for the
    exporter), so the read takes seconds; the lines must show rates, flows, drops and a
    progress bar whose percentage climbs. Without a terminal there is no status line."""
    pcap = os.path.join(tmp, "many.pcap")
    with open(pcap, "wb") as f:
        f.write(pcap_header())
        for k in range(100000):
            f.write(udp_packet(T0 + k * 0.0002, [10, (k >> 16) & 255, (k >> 8) & 255, k & 255],
                               [10, 255, 0, 1], 1024 + k % 50000, 53))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never read
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    js = os.path.join(tmp, "summary.json")
    master, slave = pty.openpty()
    proc = subprocess.Popen([A.weir, "-i", "pcap:" + pcap, "-o", "ipfix:udp://127.0.0.1:%d" % port,
                             "--udp-rate", "200", "--idle-timeout", "1",
                             "--status-interval", "1", "--summary-json", js],
                            stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    text = b""
    while True:
        r, _, _ = select.select([master], [], [], 120)
        if not r:
            proc.kill()
            wt.fail("no output for 120 s")
        try:
            d = os.read(master, 65536)
        except OSError:
            break
        if not d:
            break
        text += d
    proc.wait(timeout=60)
    os.close(master)
    sink.close()
    text = text.decode(errors="replace")
    if proc.returncode != 0:
        wt.fail("weir exited %d: %s" % (proc.returncode, text[-2000:]))
    # the sink is never read and overflows in the kernel, out of weir's sight: only weir's
    # own accounting is checked for that run
    summary = wt.load_summary(js, "status, on a terminal")
    if summary["packets_read"] != 100000:
        wt.fail("%d packets read of 100000" % summary["packets_read"])
    status = [s for s in re.split(r"[\r\n]", text) if "pps" in s]
    pct = [int(m.group(1)) for s in status for m in [re.search(r"\] +(\d+)%", s)] if m]
    if len(status) < 2 or len(pct) < 2:
        wt.fail("status lines %r" % status)
    for s in status:
        if not re.search(r"\d+(\.\d+)?[kMG]? pps [0-9.]+ Gbit/s \| flows \S+ active, \S+ "
                         r"records/s \| drops: nic 0, ring 0, parse 0, export 0 \| alerts 0", s):
            wt.fail("status line %r" % s)
    if pct != sorted(pct) or pct[-1] <= pct[0]:
        wt.fail("progress does not climb: %s" % pct)
    if not any("ETA" in s for s in status):
        wt.fail("no ETA in %r" % status)
    if "\x1b[K" not in text:
        wt.fail("status lines are not rewritten in place")
    out = os.path.join(tmp, "x.ipfix")
    p = subprocess.run([A.weir, "-i", "pcap:" + pcap, "-o", "ipfix:file:" + out,
                        "--status-interval", "1", "--summary-json", js],
                       capture_output=True, text=True)
    if p.returncode != 0:
        wt.fail("weir without a terminal exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    if "pps" in p.stderr:
        wt.fail("a status line without a terminal")
    summary = wt.load_summary(js, "status, without a terminal")
    if summary["packets_read"] != 100000:
        wt.fail("%d packets read of 100000" % summary["packets_read"])
    wt.check_ipfix_file(summary, out, "status, without a terminal")
    return ("%d status lines on a pty, progress %d%% -> %d%% with an ETA while a slow collector "
            "paced the read; none without a terminal" % (len(status), pct[0], pct[-1]))


def install_staged(tmp, name):
    """A release build installed as the README says (--prefix /usr --sysconfdir /etc) into
    the staging directory tmp/name, which it returns."""
    build, dest = os.path.join(tmp, "build"), os.path.join(tmp, name)
    wt.sh("meson", "setup", "--prefix", "/usr", "--sysconfdir", "/etc", build, A.source,
          "-Dbuildtype=release")
    wt.sh("meson", "install", "-C", build, "--destdir", dest, "--quiet")
    return dest


def test_install(tmp):
    """`meson install` into a staging directory: the binaries, the sample config, the systemd
    unit (verified by systemd-analyze), the sysusers entry and the man page (rendered by groff
    without warnings, naming every option of weir --help-config)."""
    dest = install_staged(tmp, "root")
    want = ["usr/bin/weir", "usr/bin/weirctl", "etc/weir/weir.yaml",
            "usr/lib/systemd/system/weir.service", "usr/lib/sysusers.d/weir.conf",
            "usr/share/man/man8/weir.8", "usr/share/man/man8/weirctl.8"]
    missing = [w for w in want if not os.path.exists(os.path.join(dest, w))]
    if missing:
        wt.fail("meson install did not install %s" % missing)
    unit = open(os.path.join(dest, "usr/lib/systemd/system/weir.service")).read()
    for k in ("ExecStart=/usr/bin/weir -c /etc/weir/weir.yaml --user weir",
              "ExecReload=+/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
              "ProtectSystem=strict", "CapabilityBoundingSet=", "RuntimeDirectory=weir"):
        if k not in unit:
            wt.fail("the unit lacks %r" % k)
    # systemd-analyze wants the ExecStart binary where the unit says: point it at the staging
    staged = os.path.join(tmp, "weir.service")
    open(staged, "w").write(unit.replace("/usr/bin/weir", os.path.join(dest, "usr/bin/weir")))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", staged], capture_output=True,
                       text=True)
    errors = [ln for ln in (p.stdout + p.stderr).splitlines() if "weir.service" in ln]
    if p.returncode != 0 or errors:
        wt.fail("systemd-analyze verify: %d %s" % (p.returncode, errors or p.stderr))
    keys = []
    for ln in subprocess.run([os.path.join(dest, "usr/bin/weir"), "--help-config"],
                             capture_output=True, text=True).stdout.splitlines()[2:]:
        keys += re.findall(r"`(?:-\w, )?--([a-z-]+)`", ln)
    for page in ("weir.8", "weirctl.8"):
        path = os.path.join(dest, "usr/share/man/man8", page)
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path], capture_output=True,
                           text=True)
        if p.returncode != 0 or p.stderr.strip():
            wt.fail("groff %s: %s" % (page, p.stderr))
    man = open(os.path.join(dest, "usr/share/man/man8/weir.8")).read().replace("\\-", "-")
    absent = [k for k in keys if "--" + k not in man]
    if len(keys) < 40 or absent:
        wt.fail("weir.8 does not document %s (of %d options)" % (absent, len(keys)))
    p = subprocess.run([os.path.join(dest, "usr/bin/weir"), "-t", "-c",
                        os.path.join(dest, "etc/weir/weir.yaml")], capture_output=True, text=True)
    if p.returncode != 0:
        wt.fail("the installed sample config: %s" % p.stderr)
    return ("%d files installed; the unit passes systemd-analyze verify; both man pages render "
            "without warnings and weir.8 names all %d options" % (len(want), len(keys)))


def test_signals(tmp):
    """A storm of 200 SIGHUPs 3 ms apart at a weir reading a DPDK net_null port (DPDK's EAL
    starts threads of its own, and clears the main thread's signal mask): weir must take
    every one in its main thread, reload, and live on; then SIGTERM ends it with status 0."""
    out = os.path.join(tmp, "n.ipfix")
    js = os.path.join(tmp, "summary.json")
    proc = subprocess.Popen([A.weir, "-i", "dpdk:net_null0", "-o", "ipfix:file:" + out, "-q",
                             "--summary-json", js, "--", "--no-huge", "--in-memory", "--no-pci",
                             "-l", "0", "-m", "256", "--log-level=lib.eal:error"],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    if proc.poll() is not None:
        wt.fail("weir on net_null exited %d: %s" % (proc.returncode, proc.stderr.read()))
    for _ in range(200):
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.003)
    time.sleep(1.0)
    if proc.poll() is not None:
        wt.fail("weir died of the SIGHUP storm: status %d" % proc.returncode)
    err = stop(proc)
    n = err.count("reload: done")
    if n < 1:
        wt.fail("no reload logged: %r" % err[-500:])
    summary = wt.load_summary(js, "signals")
    if summary["packets_read"] == 0:
        wt.fail("nothing read from net_null")
    wt.check_ipfix_file(summary, out, "signals")
    return "200 SIGHUPs in 0.6 s: weir reloaded %d times (pending ones merge) and lived; " \
           "SIGTERM: exit 0" % n


class Container:
    """A throwaway machine booted with systemd as PID 1 (systemd-nspawn): its own /etc, /var
    and /run under `root`, the host's /usr read-only under the overlays given (the last on
    top), in the network namespace `netns`. nspawn wants a terminal: it gets a pty, whose
    output is kept for the failure messages."""

    def __init__(self, root, usr_overlays, netns):
        os.makedirs(root)
        for d in ("usr", "etc", "var", "tmp", "run", "proc", "sys", "dev", "root"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        for d in ("bin", "sbin", "lib", "lib64"):
            os.symlink("usr/" + d, os.path.join(root, d))
        etc = os.path.join(root, "etc")
        with open("/usr/lib/os-release") as f:
            open(os.path.join(etc, "os-release"), "w").write(f.read())
        open(os.path.join(etc, "passwd"), "w").write(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:"
            "/usr/sbin/nologin\n")
        open(os.path.join(etc, "group"), "w").write("root:x:0:\nnogroup:x:65534:\n")
        open(os.path.join(etc, "machine-id"), "w").close()
        self.root = root
        self.log = b""
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-D", root,
             "--overlay-ro=" + ":".join(["/usr"] + usr_overlays + ["/usr"]),
             "--network-namespace-path=/run/netns/" + netns, "--register=no", "--keep-unit",
             "-b"], stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        # PID 1 is nspawn's child once it is systemd; then wait for the boot to finish
        self.pid1, state = None, ""
        end = time.time() + 120
        while time.time() < end and state not in ("running", "degraded"):
            self.drain(0.2)
            if self.proc.poll() is not None:
                wt.fail("systemd-nspawn exited %d: %s" % (self.proc.returncode, self.text()))
            kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
            try:
                if len(kids) != 1 or open("/proc/%s/comm" % kids[0]).read() != "systemd\n":
                    continue
            except OSError:  # gone between pgrep and here
                continue
            self.pid1 = int(kids[0])
            state = self.run("systemctl", "is-system-running", "--wait", check=False,
                             timeout=120).stdout.strip()
        if state not in ("running", "degraded"):
            wt.fail("the container's systemd is %r: %s" % (state, self.text()))

    def drain(self, wait):
        while select.select([self.master], [], [], wait)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.log += data
            wait = 0

    def text(self):
        return re.sub(r"\x1b\[[0-9;]*m", "", self.log.decode(errors="replace"))[-3000:]

    def run(self, *cmd, check=True, timeout=60):
        """A command in the container (all its namespaces), as root."""
        self.drain(0)
        p = subprocess.run(["nsenter", "-t", str(self.pid1), "-a"] + list(cmd),
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            wt.fail("in the container, %s exited %d: %s %s" % (" ".join(cmd), p.returncode,
                                                                p.stdout, p.stderr))
        return p

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to halt
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.drain(0)
        os.close(self.master)


def test_systemd(tmp):
    """The README's service section, followed on a machine booted with systemd as PID 1
    (systemd-nspawn): `meson install` (--prefix /usr --sysconfdir /etc); systemd-sysusers
    makes the weir user at boot; the operator writes /etc/weir/weir.yaml (root:weir 0640) for
    a live capture on a veth pair and runs `systemctl enable --now weir`. Under the unit's
    hardening weir must capture as the weir user, answer weirctl on /run/weir/control.sock
    and /metrics on loopback, take a new idle timeout on `systemctl reload weir` (the flows in the cache leave at once),
    and on `systemctl stop weir` export every flow to nfcapd and exit 0, with no warning in
    the journal: nfdump counts every packet sent."""
    stage = install_staged(tmp, "stage")
    port = wt.free_udp_port()
    mport = wt.free_tcp_port()
    flowdir = os.path.join(tmp, "nfcapd")
    n_flows, per_flow = 30, 10
    with wt.veth_pair(addrs=("192.0.2.1/24", "192.0.2.2/24")) as (ns_tx, _, ns_rx, rx):
        collector = wt.start_nfcapd(port, flowdir, netns=ns_rx)
        box = None
        try:
            box = Container(os.path.join(tmp, "machine"), [os.path.join(stage, "usr")], ns_rx)
            etc = os.path.join(box.root, "etc", "weir")
            shutil.copytree(os.path.join(stage, "etc", "weir"), etc)
            cfg = os.path.join(etc, "weir.yaml")

            def configure(idle):  # what the operator writes in /etc/weir/weir.yaml
                open(cfg, "w").write(
                    "input: [\"pcap:%s\"]\nfilter: \"udp and dst port 9001\"\n"
                    "output: [\"ipfix:udp://127.0.0.1:%d\", \"ipfix:file:/var/lib/weir/f.ipfix\"]"
                    "\nrotate-interval: 1\nidle-timeout: %d\n"
                    "control-socket: \"/run/weir/control.sock\"\nmetrics: \"127.0.0.1:%d\"\n"
                    "summary-json: \"/var/lib/weir/summary.json\"\n" % (rx, port, idle, mport))
            configure(600)
            box.run("chgrp", "weir", "/etc/weir/weir.yaml")
            box.run("chmod", "0640", "/etc/weir/weir.yaml")
            box.run("weir", "-t", "-q", "-c", "/etc/weir/weir.yaml")
            box.run("systemctl", "enable", "--now", "weir")
            sock = "/run/weir/control.sock"

            last = []

            def stats():  # as the weir user: the socket is its own, not only root's
                p = box.run("setpriv", "--reuid", "weir", "--regid", "weir", "--init-groups",
                            "weirctl", "-s", sock, "stats", check=False)
                last[:] = [p.stderr]
                return json.loads(p.stdout) if p.returncode == 0 else None
            try:
                wait_for("weir's control socket in the container", stats)
            except AssertionError as e:
                e.args = (e.args[0] + " (weirctl as weir: %s; %s)" % (
                    last, box.run("ls", "-la", "/run/weir", check=False).stdout),)
                raise
            pid = int(box.run("systemctl", "show", "-p", "MainPID", "--value", "weir").stdout)
            status = box.run("cat", "/proc/%d/status" % pid).stdout
            uid = status.split("\nUid:")[1].split()[:4]
            weir_uid = box.run("id", "-u", "weir").stdout.strip()
            if uid != [weir_uid] * 4:
                wt.fail("the service runs with uids %s, want weir's (%s)" % (uid, weir_uid))
            sender = ("import socket\nsocks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                      " for i in range(%d)]\nfor k in range(%d):\n    for s in socks:\n"
                      "        s.sendto(b'x' * 64, ('192.0.2.2', 9001))\n" % (n_flows, per_flow))
            wt.sh("ip", "netns", "exec", ns_tx, sys.executable, "-c", sender)
            want = n_flows * per_flow
            wait_for("%d packets in flows" % want,
                     lambda: (stats() or {}).get("packets_in_flows", 0) >= want)
            if stats()["records"]["idle"] != 0:
                wt.fail("flows left idle before the reload: %s" % stats()["records"])
            scrape = ("import urllib.request\nprint(urllib.request.urlopen("
                      "'http://127.0.0.1:%d/metrics', timeout=5).read().decode(), end='')" % mport)
            metrics = parse_metrics(wt.sh("ip", "netns", "exec", ns_rx, sys.executable, "-c",
                                          scrape))
            if metrics.get('weir_packets_total{verdict="ok"}') != want:
                wt.fail("/metrics: %s, want %d packets" %
                        ({k: v for k, v in metrics.items() if "packets" in k}, want))
            configure(1)
            box.run("systemctl", "reload", "weir")
            wait_for("the %d flows to leave idle after the reload" % n_flows,
                     lambda: (stats() or {"records": {"idle": 0}})["records"]["idle"] >= n_flows)
            box.run("systemctl", "stop", "weir")
            show = box.run("systemctl", "show", "-p", "Result", "-p", "ExecMainStatus",
                           "weir").stdout.split()
            if sorted(show) != ["ExecMainStatus=0", "Result=success"]:
                wt.fail("after systemctl stop: %s" % show)
            log = box.run("journalctl", "-u", "weir", "--no-pager", "-o", "cat").stdout
            bad = box.run("journalctl", "-u", "weir", "--no-pager", "-p", "warning", "-o",
                          "cat", "_COMM=weir").stdout.strip()
        except AssertionError as e:
            if box:  # what the service said
                e.args = (e.args[0] + "\njournalctl -u weir:\n" + box.run(
                    "journalctl", "-u", "weir", "--no-pager", "-o", "cat", check=False).stdout[-3000:],)
            raise
        finally:
            if box:
                box.close()
            collector.send_signal(signal.SIGTERM)
            collector.wait(timeout=20)
    for w in ("reload: idle-timeout: 600 -> 1", "weir.service: Deactivated successfully"):
        if w not in log:
            wt.fail("the journal lacks %r:\n%s" % (w, log[-2000:]))
    if bad and bad != "-- No entries --":
        wt.fail("warnings in the journal of a clean run: %s" % bad)
    summary = wt.load_summary(os.path.join(box.root, "var/lib/weir/summary.json"), "systemd")
    # the file output rotated every second as the weir user, in the unit's StateDirectory
    rotated = [f for f in os.listdir(os.path.join(box.root, "var/lib/weir"))
               if f.startswith("f.ipfix.")]
    if len(rotated) < 2 or summary["outputs"][1]["records_lost"] != 0:
        wt.fail("rotation in /var/lib/weir as weir: %d files, %d records lost" %
                (len(rotated), summary["outputs"][1]["records_lost"]))
    got = wt.nfdump_totals(flowdir)[:2]
    if got != (n_flows, n_flows * per_flow) or summary["packets_in_flows"] != want:
        wt.fail("nfdump: %d flows, %d packets; weir: %d packets in flows; want %d flows, %d "
                "packets" % (got + (summary["packets_in_flows"], n_flows, want)))
    return ("systemd booted, the installed unit ran weir as the weir user on a live veth; "
            "a reload took idle-timeout 600 -> 1 (%d flows left idle), systemctl stop exited 0 "
            "and nfcapd got %d flows, %d packets" % (n_flows, got[0], got[1]))


TESTS = {"reload": test_reload, "signals": test_signals, "shutdown": test_shutdown, "metrics": test_metrics,
         "control": test_control, "privileges": test_privileges, "logging": test_logging,
         "status": test_status, "install": test_install, "systemd": test_systemd}


def main():
    global A
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for k in ("--weir", "--weir-real", "--weirctl", "--source"):
        ap.add_argument(k, required=True)
    ap.add_argument("test", choices=sorted(TESTS))
    A = ap.parse_args()
    for k in ("weir", "weir_real", "weirctl", "source"):  # the tests change directory
        setattr(A, k, os.path.abspath(getattr(A, k)))
    with tempfile.TemporaryDirectory(prefix="weir-service-") as tmp:
        os.chmod(tmp, 0o755)  # nobody must reach the files weir opens before the switch
        try:
            print("ok   %s: %s" % (A.test, TESTS[A.test](tmp)))
        except AssertionError as e:
            print("FAIL %s: %s" % (A.test, e))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
