#!/usr/bin/env python3
"""weir beside the flow probes Debian packages, on the same pcap files.

Writes three standard traces with bench/gen_pcap (weir's synthetic source as pcap files, with
their ground truth: packets and distinct flows), then runs on each, several times and
interleaved (one run of every tool per repetition, so that a slow spell of the machine hits
all alike):

  bare libpcap loop   bench_pipeline --count-pcap: pcap_next_ex and a counter (the read bound)
  weir                the whole probe, IPFIX to a file
  softflowd           NetFlow/IPFIX export to nfcapd, read back with nfdump
  nfpcapd             nfdump's own pcap-to-flows reader, read back with nfdump
  pmacctd             pmacct's libpcap daemon, print plugin to CSV
  argus               argus to its own record file, read back with ra

For every run it measures the tool's wall time, CPU time (user + system, from os.wait4) and
peak RSS (the tool's ru_maxrss, as GNU time reports it). The tool starts in a session of its
own and this script is its child subreaper, so helpers it forks are waited for too: by the
tool (their CPU time is then in the tool's) or, if orphaned, by this script (added here).
Helper processes seen while it runs are reported, since peak RSS stays that of one process.

Checks (PASS/FAIL lines, exit status 1 on any FAIL): every tool saw the packets the
generator wrote; weir's flows equal the generator's distinct flows. The other probes' flow
counts are reported and a note says why they differ where they do.

Usage: bench/compare.py [--packets N] [--runs R] [--quick] [--out DIR] [--only TOOL,...]
                        [--build DIR]
(bench/compare.sh builds weir and installs the peers first.)
"""
import argparse
import csv
import ctypes
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 900  # one run of one tool; past it the run is killed and fails
PR_SET_CHILD_SUBREAPER = 36
SO_RCVBUFFORCE = 33  # Linux: a receive buffer above rmem_max (needs CAP_NET_ADMIN)
TIME = "/usr/bin/time"  # GNU time (Debian package time)
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from weirtest import free_udp_port, load_summary, nfdump_totals, start_nfcapd  # noqa: E402,E501


@dataclass
class Trace:
    key: str
    title: str
    spec: str  # gen_pcap SPEC without packets=
    about: str


# Packet time runs at 1 Mpps, so the default 4M packets span 4 s: shorter than every tool's
# idle and active timeouts and status intervals as set below, so none of them splits a flow.
TRACES = [
    Trace("zipf", "64B, 100k flows, Zipf", "flows=100000,size=64,popularity=zipf,rate=1000000",
          "64-byte frames over 100k flows, Zipf popularity (a few flows carry most packets)"),
    Trace("imix", "IMIX, 1M flows, uniform",
          "flows=1000000,size=imix,popularity=uniform,rate=1000000",
          "IMIX 7:4:1 of 64/594/1518 bytes over 1M flows, uniform popularity"),
    Trace("churn", "high churn", "flows=10000,size=64,popularity=uniform,rate=1000000,"
          "newflows=200000",
          "64-byte frames, 10k flows active at a time and 200k new flows per second: each "
          "flow lives about 50 ms of packet time and has about 5 packets"),
]


@dataclass
class Usage:
    """What one timed process tree cost."""
    wall: float
    cpu: float
    maxrss_kib: int
    status: int
    helpers: dict = field(default_factory=dict)  # pid -> command name, processes it forked


@dataclass
class Result:
    """One run of one tool: its usage and what it counted."""
    usage: Usage
    packets: int
    flows: int | None
    notes: list = field(default_factory=list)


class RunError(Exception):
    """A tool failed to run or its output could not be read."""


# ------------------------------------------------------------------------------------------
# Running a tool and measuring it


def become_subreaper():
    """Orphans of the tools are re-parented to this process, which then waits for them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("compare: prctl(PR_SET_CHILD_SUBREAPER): %s" % os.strerror(ctypes.get_errno()))


def proc_stat(pid):
    """(ppid, session id, user+system clock ticks, command) of a process, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            text = fh.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    f = text[text.rindex(")") + 2:].split()
    return int(f[1]), int(f[3]), int(f[11]) + int(f[12]), comm


def children_of(pid):
    """Direct children of pid, from /proc/PID/task/*/children."""
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as fh:
                kids += [int(k) for k in fh.read().split()]
    except OSError:
        pass
    return kids


def descendants(pid):
    """Every live descendant of pid."""
    found, todo = [], children_of(pid)
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children_of(p)
    return found


class TreeWatch(threading.Thread):
    """Notes the helper processes a tool forks, every 50 ms while it runs (a few /proc reads:
    cheap beside the tool). root is the launcher (GNU time), whose child is the tool."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.seen, self.done = root, {}, threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            for p in self.helpers():
                st = proc_stat(p)
                if st:
                    self.seen[p] = st[3]

    def tools(self):
        return children_of(self.root)

    def helpers(self):
        return [p for t in self.tools() for p in descendants(t)]

    def cpu_ticks(self):
        """CPU ticks of the tool's live helpers (not the tool itself)."""
        return sum((proc_stat(p) or (0, 0, 0, ""))[2] for p in self.helpers())

    def stop(self):
        self.done.set()
        self.join()


def session_members(sid):
    """Live processes of session sid, each as (pid, ppid)."""
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st and st[1] == sid:
                members.append((int(name), st[0]))
    return members


def reap_orphans(sid, deadline):
    """Waits for what is left of session sid after its leader exited; returns the summed
    CPU seconds and the largest peak RSS (KiB) of the processes re-parented to us."""
    cpu, rss = 0.0, 0
    while True:
        left = session_members(sid)
        if not left:
            return cpu, rss
        if time.monotonic() > deadline:
            raise RunError("helpers %s still running after the time limit" % left)
        mine = [p for p, ppid in left if ppid == os.getpid()]
        for p in mine:
            _, _, ru = os.wait4(p, 0)
            cpu += ru.ru_utime + ru.ru_stime
            rss = max(rss, ru.ru_maxrss)
        if not mine:
            time.sleep(0.01)


def timed(argv, log_path, until=None):
    """Runs argv in a session of its own with its output in log_path and measures it.
    until(proc, watch, deadline), if given, runs while the tool does (e.g. to stop it).

    The tool runs under GNU time, which reports its peak RSS (ru_maxrss): that of a process
    forked by this script would start at the script's own size, since Linux keeps the
    high-water mark of the memory a process had before exec. The CPU time is os.wait4's of
    GNU time (its own, a millisecond or so, the tool's and that of what the tool waited
    for), plus that of the orphans waited for here."""
    rss_file = Path(str(log_path) + ".rss")
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M", "-o", str(rss_file), "--"] + argv,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        watch = TreeWatch(proc.pid)
        watch.start()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        expired = threading.Event()
        limit = threading.Timer(RUN_TIMEOUT_S, lambda: expired.set() or kill_group(proc.pid))
        limit.start()
        try:
            if until:
                until(proc, watch, deadline)
            _, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            orphans_cpu, orphans_rss = reap_orphans(proc.pid, deadline)
            wall = time.perf_counter() - t0
        except BaseException:
            kill_session(proc)
            raise
        finally:
            limit.cancel()
            watch.stop()
    if expired.is_set():
        raise RunError("%s ran past the %d s limit and was killed" % (argv[0], RUN_TIMEOUT_S))
    return Usage(wall, ru.ru_utime + ru.ru_stime + orphans_cpu,
                 max(tool_maxrss(rss_file), orphans_rss), proc.returncode, watch.seen)


def tool_maxrss(rss_file):
    """The tool's peak RSS in KiB, as GNU time wrote it (its last line), or 0."""
    try:
        return int(rss_file.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return 0


def exited(proc):
    """True once proc has exited, without reaping it: timed() waits for it and reads its usage
    (Popen.poll() would reap it, and timed()'s wait4 would then fail)."""
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def kill_group(pgid):
    """Kills the process group of a tool this script started (it leads its own)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_session(proc):
    """Ends a tool that overran or failed, and everything it started, and reaps it."""
    kill_group(proc.pid)
    try:
        os.wait4(proc.pid, 0)
    except ChildProcessError:
        pass


def check_exit(usage, name, log_path):
    if usage.status != 0:
        tail = Path(log_path).read_text(errors="replace")[-2000:]
        raise RunError("%s exited with status %d:\n%s" % (name, usage.status, tail))


# ------------------------------------------------------------------------------------------
# Collectors: nfdump for NetFlow/IPFIX


def udp_socket_state(port):
    """(bytes queued, datagrams dropped) of the IPv4 UDP socket bound to port, or None."""
    with open("/proc/net/udp") as fh:
        for line in fh.readlines()[1:]:
            f = line.split()
            if int(f[1].split(":")[1], 16) == port:
                return int(f[4].split(":")[1], 16), int(f[-1])
    return None


class UdpSink(threading.Thread):
    """Takes the export datagrams of a probe on a loopback port, into memory. softflowd sends
    its whole flow table at the end of the file in one burst, faster than nfcapd decodes it;
    a socket buffer too small for the burst would drop most of it. This one is large (past
    rmem_max where allowed) and drained by a thread, and the datagrams go to nfcapd later,
    paced by nfcapd's socket queue (see forward_to_nfcapd)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, opt, 256 << 20)
                break
            except PermissionError:
                continue
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.datagrams, self.done = [], threading.Event()
        self.start()

    def run(self):
        while not self.done.is_set():
            try:
                self.datagrams.append(self.sock.recv(65535))
            except socket.timeout:
                continue

    def collect(self, expected):
        """Waits for `expected` datagrams, or for 2 s without a new one; returns them."""
        last, seen = time.monotonic(), 0
        while len(self.datagrams) < expected and time.monotonic() - last < 2:
            if len(self.datagrams) != seen:
                last, seen = time.monotonic(), len(self.datagrams)
            time.sleep(0.01)
        return self.datagrams

    def close(self):
        """Stops receiving; returns the datagrams the socket dropped."""
        state = udp_socket_state(self.port)
        self.done.set()
        self.join()
        self.sock.close()
        return state[1] if state else 0


def forward_to_nfcapd(datagrams, flowdir):
    """Starts nfcapd on a free loopback port, sends it the datagrams without overrunning its
    socket (it waits while more than 64 KiB are queued), stops it and returns its drops."""
    port = free_udp_port()
    nfcapd = start_nfcapd(port, str(flowdir))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i, d in enumerate(datagrams):
                s.sendto(d, ("127.0.0.1", port))
                if i % 16 == 15:
                    wait_queue_below(port, 64 << 10)
        wait_queue_below(port, 1)
        drops = udp_socket_state(port)[1]
    finally:
        nfcapd.terminate()
        nfcapd.communicate(timeout=60)
    return drops


def wait_queue_below(port, limit):
    deadline = time.monotonic() + 60
    while udp_socket_state(port)[0] >= limit:
        if time.monotonic() > deadline:
            raise RunError("nfcapd stopped reading its socket")
        time.sleep(0.0005)


# ------------------------------------------------------------------------------------------
# The tools. Each run() takes the pcap path, a fresh work directory and the trace's ground
# truth, and returns a Result.


class Tool:
    key = ""
    name = ""
    programs = ()  # what must be installed
    exe = ""  # instead: a program of weir's build, as a path in the build directory
    semantics = ""  # one line: what a flow (a record) is for this tool

    def missing(self, build):
        if self.exe:
            return [] if (build / self.exe).exists() else [str(build / self.exe)]
        return [p for p in self.programs if shutil.which(p) is None]

    def notes(self, summary, truth):
        """Lines to print under the table about this tool's figures."""
        return []

    def timed(self, work, argv, until=None):
        """Runs argv timed (see timed()) with its output in work/KEY.log; a non-zero exit is
        an error. Returns the usage and the log's path."""
        log = work / ("%s.log" % self.key)
        usage = timed(argv, log, until)
        check_exit(usage, self.name, log)
        return usage, log


class Bare(Tool):
    # No flows: pcap_next_ex over the file and a counter, the cost of reading alone.
    key, name = "bare", "bare libpcap loop"
    exe = "bench/bench_pipeline"
    semantics = "no flows: libpcap's pcap_next_ex and a counter, the read bound"

    def run(self, build, pcap, work, truth):
        usage, log = self.timed(work, [str(build / self.exe), "--count-pcap", str(pcap)])
        return Result(usage, int(log.read_text().split()[-1]), None)


class Weir(Tool):
    # Unidirectional flows keyed by the 5-tuple (and VLANs), in one flow cache; the flows
    # still open at the end of the file are exported then (end reason forced end). Idle
    # timeout 15 s, active 1800 s (defaults): the 4 s trace is never split.
    key, name = "weir", "weir"
    exe = "probe/weir"
    semantics = "unidirectional 5-tuple flows; all flows exported at the end of the file"

    def run(self, build, pcap, work, truth):
        summary = work / "weir.json"
        usage, _ = self.timed(work, [str(build / self.exe), "--allow-root", "-q", "-i",
                                     "pcap:%s" % pcap, "-o",
                                     "ipfix:file:%s" % (work / "weir.ipfix"),
                                     "--summary-json", str(summary)])
        s = load_summary(str(summary), "weir on %s" % pcap.name)
        notes = []
        if s["records_exported"] != s["flows_created"]:
            notes.append("weir exported %d records for %d flows it created"
                         % (s["records_exported"], s["flows_created"]))
        return Result(usage, s["packets_read"], s["records_exported"], notes)


class Softflowd(Tool):
    # Unidirectional flows (-b would make them bidirectional) keyed by the 5-tuple
    # ("full" tracking). Reading a file it expires flows only when -m is exceeded, and
    # exports every flow at the end of the file. -m is set above the trace's flows so that
    # no flow is expired early; timeouts (udp 300 s) do not matter on a 4 s trace. IPFIX
    # (-v 10) to a loopback port, decoded by nfcapd; only softflowd is timed. -c none: with
    # its control socket, softflowd 1.1.0 reading a file can block in accept() on that socket
    # before its first packet, for good (here every time it was started from Python, never
    # from a shell), so the socket is turned off.
    key, name = "softflowd", "softflowd"
    programs = ("softflowd", "nfcapd", "nfdump")
    semantics = "unidirectional 5-tuple flows, exported as IPFIX at the end of the file"

    def run(self, build, pcap, work, truth):
        sink = UdpSink()
        try:
            usage, log = self.timed(work, [
                "softflowd", "-r", str(pcap), "-n", "127.0.0.1:%d" % sink.port, "-v", "10",
                "-m", str(max(2000000, 2 * truth["flows"])), "-d", "-p",
                str(work / "softflowd.pid"), "-c", "none"])
            m = re.search(r"Flows exported: (\d+) \(\d+ records\) in (\d+) packets",
                          log.read_text())
            if not m:
                raise RunError("softflowd printed no export statistics:\n%s" % log.read_text())
            exported, sent = int(m.group(1)), int(m.group(2))
            datagrams = sink.collect(sent)
        finally:
            drops = sink.close()
        notes = []
        if len(datagrams) != sent:
            notes.append("%d of the %d export datagrams softflowd sent arrived"
                         % (len(datagrams), sent))
        if drops:
            notes.append("the receiving socket dropped %d datagrams" % drops)
        nfcapd_drops = forward_to_nfcapd(datagrams, work / "softflowd.flows")
        if nfcapd_drops:
            notes.append("nfcapd's socket dropped %d datagrams" % nfcapd_drops)
        flows, packets, _ = nfdump_totals(str(work / "softflowd.flows"))
        if flows != exported:
            notes.append("softflowd says it exported %d flows, nfcapd stored %d"
                         % (exported, flows))
        return Result(usage, packets, flows, notes)


class Nfpcapd(Tool):
    # nfdump's pcap reader: unidirectional flows keyed by the 5-tuple, written to nfcapd
    # files in 5-minute slots of packet time (one file here); active/inactive timeouts
    # 300/60 s by default, so the 4 s trace is not split. Read back with nfdump.
    key, name = "nfpcapd", "nfpcapd"
    programs = ("nfpcapd", "nfdump")
    semantics = "unidirectional 5-tuple flows, written to nfcapd files"

    def run(self, build, pcap, work, truth):
        flowdir = work / "nfpcapd.flows"
        flowdir.mkdir()
        usage, _ = self.timed(work, ["nfpcapd", "-r", str(pcap), "-w", str(flowdir)])
        flows, packets, _ = nfdump_totals(str(flowdir))
        return Result(usage, packets, flows)


class Pmacctd(Tool):
    # Not a flow probe as such: pmacct aggregates packets by the primitives configured (here
    # the 5-tuple) in its plugin's cache and writes the cache out at each purge. No flow
    # timeouts; one CSV line per key per purge. Its core process reads the file and hands the
    # packets to a plugin process over a shared-memory queue. It is sized for the trace here,
    # or it loses packets (without a warning, in these runs):
    #  - the cache: when it is full the plugin purges early and drops packets meanwhile;
    #    print_cache_entries is a prime above the trace's flows / 7.7 (CONFIG-KEYS: 259991
    #    for 2M entries);
    #  - the queue: reading a file, the core outruns the plugin (by seconds on the 1M-flow
    #    trace); with a queue of less than about 200 bytes a packet of that trace the plugin
    #    stalled, its last packets lost. plugin_pipe_size is 384 bytes a packet, and its RSS
    #    includes the queue, which is touched at start;
    #  - plugin_buffer_size 4 MiB: after each buffer it hands over, the core sleeps 1 ms
    #    (with the default, 31 packets: 2 minutes for 4M packets).
    # Stopping it: with pcap_savefile_wait false the core, at the end of the file, sleeps a
    # fixed 2 s and then stops the plugin (SIGINT), which drops what it has not taken from
    # the queue (whole seconds of packets on the large traces). With pcap_savefile_wait true
    # the core hands over its last buffer and waits; stopping the core then hands the same
    # buffer over a second time (packets counted twice). So the core waits, and this script
    # sends the plugin the SIGINT the core would send, once the plugin has been idle for
    # 0.2 s after the core logged the end of the file: it writes its cache out and exits, and
    # the core then sleeps its 2 s and exits. The wall time includes those 2 s, the 1 s
    # start-up delay (pcap_savefile_delay: 1, the least: 0 means 2 s) and the 0.2 s idle
    # wait, which the other tools do not have (see the note under the table).
    key, name = "pmacctd", "pmacctd"
    programs = ("pmacctd",)
    semantics = "5-tuple aggregates, one CSV line per key per cache purge"
    sleeps_s = 3.0  # the start-up delay and the wait before exiting
    buffer_size = 4 << 20
    conf = """daemonize: false
pcap_savefile: {pcap}
pcap_savefile_wait: true
pcap_savefile_delay: 1
plugins: print
aggregate: src_host,dst_host,src_port,dst_port,proto
print_output: csv
print_output_file: {csv}
print_output_file_append: true
print_refresh_time: 3600
print_cache_entries: {entries}
plugin_buffer_size: {buf}
plugin_pipe_size: {pipe}
"""

    def run(self, build, pcap, work, truth):
        out, conf = work / "pmacctd.csv", work / "pmacctd.conf"
        conf.write_text(self.conf.format(pcap=pcap, csv=out, buf=self.buffer_size,
                                         pipe=self.pipe_size(truth),
                                         entries=next_prime(max(16411, truth["flows"] * 10
                                                                // 77))))
        usage, log = self.timed(work, ["pmacctd", "-f", str(conf)],
                                until=self.stop_when_drained(work / "pmacctd.log"))
        notes = []
        if "Missing data detected" in log.read_text():
            notes.append("pmacctd's plugin queue overflowed (Missing data detected)")
        flows, packets = self.count(out)
        return Result(usage, packets, flows, notes)

    def pipe_size(self, truth):
        """A queue of 384 bytes a packet of the trace, in whole buffers."""
        return max(64, -(-truth["packets"] * 384 // self.buffer_size)) * self.buffer_size

    def notes(self, summary, truth):
        net = summary.wall - self.sleeps_s
        return ["its wall time includes %.0f s of fixed sleeps (its start-up delay and its "
                "wait before exiting) and 0.2 s for this script to see its plugin idle; "
                "without the sleeps: %.3f s, %.2f Mpps"
                % (self.sleeps_s, net, truth["packets"] / net / 1e6 if net > 0 else 0),
                "its peak RSS includes its packet queue (%d MiB, sized to the trace)"
                % (self.pipe_size(truth) >> 20)]

    @staticmethod
    def stop_when_drained(log):
        """Waits for the end of the file and an idle plugin, then stops the plugin."""
        def until(proc, watch, deadline):
            while "finished reading PCAP capture file" not in log.read_text(errors="replace"):
                if exited(proc) or time.monotonic() > deadline:
                    return
                time.sleep(0.05)
            idle_since, ticks = time.monotonic(), watch.cpu_ticks()
            while time.monotonic() - idle_since < 0.2:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
                now = watch.cpu_ticks()
                if now != ticks:
                    idle_since, ticks = time.monotonic(), now
            for core in watch.tools():
                for plugin in children_of(core):
                    os.kill(plugin, signal.SIGINT)
        return until

    @staticmethod
    def count(out):
        if not out.exists():
            raise RunError("pmacctd wrote no %s" % out)
        flows = packets = 0
        col = None
        with open(out, newline="") as fh:
            for row in csv.reader(fh):
                if row and row[0] == "SRC_IP":
                    col = row.index("PACKETS")
                elif row and col is not None:
                    flows += 1
                    packets += int(row[col])
        return flows, packets


def next_prime(n):
    """The smallest prime >= n (pmacct wants a prime number of cache buckets)."""
    def prime(k):
        return k > 1 and all(k % d for d in range(2, int(k ** 0.5) + 1))
    while not prime(n):
        n += 1
    return n


class Argus(Tool):
    # Bidirectional flows: both directions of a 5-tuple in one record. This traffic is
    # one-way UDP, so one record per flow. -X ignores /etc/argus.conf (the packaged one
    # writes to /var/log/argus); -S 60 keeps the status interval (a record for every flow
    # every S seconds) beyond the trace. Read back with ra, management records left out.
    key, name = "argus", "argus"
    programs = ("argus", "ra")
    semantics = "bidirectional 5-tuple flows (one per flow here: the traffic is one-way)"

    def run(self, build, pcap, work, truth):
        out = work / "out.argus"
        usage, _ = self.timed(work, ["argus", "-X", "-r", str(pcap), "-w", str(out), "-S", "60"])
        p = subprocess.run(["ra", "-X", "-r", str(out), "-n", "-L", "-1", "-s", "pkts",
                            "-", "ip"], capture_output=True, text=True)
        if p.returncode != 0:
            raise RunError("ra -r %s: %s" % (out, p.stderr.strip()))
        counts = [int(x) for x in p.stdout.split()]
        return Result(usage, sum(counts), len(counts))


TOOLS = [Bare(), Weir(), Softflowd(), Nfpcapd(), Pmacctd(), Argus()]


# ------------------------------------------------------------------------------------------
# Traces, runs and the report


def machine_line():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "machine: %d cores, %s" % (os.cpu_count(), model)


def write_trace(build, trace, packets, path):
    """Writes the trace with gen_pcap; returns its ground truth {packets, flows, bytes}."""
    spec = "%s,packets=%d" % (trace.spec, packets)
    p = subprocess.run([str(build / "bench" / "gen_pcap"), spec, str(path)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("compare: gen_pcap %s: %s" % (spec, p.stderr.strip()))
    words = p.stdout.split()
    truth = {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}
    with open(path, "rb") as fh:  # into the page cache before anything is timed
        while fh.read(1 << 24):
            pass
    return truth


def run_trace(build, tools, trace, packets, runs, tmp):
    """Every tool `runs` times on one trace, round robin; returns (truth, results, errors)."""
    pcap = tmp / ("%s.pcap" % trace.key)
    truth = write_trace(build, trace, packets, pcap)
    results, errors = {t.key: [] for t in tools}, {}
    for rep in range(runs):
        for tool in tools:
            if tool.key in errors:
                continue
            print("compare: %s, run %d/%d: %s" % (trace.title, rep + 1, runs, tool.name),
                  file=sys.stderr, flush=True)
            work = Path(tempfile.mkdtemp(prefix=tool.key + ".", dir=tmp))
            try:
                results[tool.key].append(tool.run(build, pcap, work, truth))
            except (RunError, OSError, ValueError, KeyError, AssertionError) as e:
                errors[tool.key] = str(e)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    pcap.unlink()
    return truth, results, errors


@dataclass
class Summary:
    """Medians over the runs of one tool on one trace."""
    wall: float
    cpu: float
    rss_mib: float
    mpps: float
    packets: list
    flows: list
    notes: list
    helpers: int  # the most helper processes seen in one run
    helper_names: list


def summarise(runs, packets):
    wall = statistics.median(r.usage.wall for r in runs)
    notes = []
    for r in runs:
        notes += [n for n in r.notes if n not in notes]
    return Summary(wall, statistics.median(r.usage.cpu for r in runs),
                   statistics.median(r.usage.maxrss_kib for r in runs) / 1024,
                   packets / wall / 1e6, sorted({r.packets for r in runs}),
                   sorted({r.flows for r in runs if r.flows is not None}), notes,
                   max(len(r.usage.helpers) for r in runs),
                   sorted({n for r in runs for n in r.usage.helpers.values()}))


def one_or_range(values):
    if not values:
        return "-"
    if len(values) == 1:
        return str(values[0])
    return "%d..%d (varies)" % (values[0], values[-1])


def ratio_text(tool_wall, weir_wall):
    r = tool_wall / weir_wall
    return "weir %.1fx faster" % r if r >= 1 else "weir %.1fx slower" % (1 / r)


def table(tools, sums, errors):
    lines = ["| tool | median Mpps | median wall s | CPU s | peak RSS MiB | flows | packets | "
             "weir vs this tool |", "|---|---|---|---|---|---|---|---|"]
    weir = sums.get("weir")
    for t in tools:
        if t.key in errors:
            lines.append("| %s | failed | | | | | | |" % t.name)
            continue
        s = sums[t.key]
        vs = "-" if t.key == "weir" or weir is None else ratio_text(s.wall, weir.wall)
        lines.append("| %s | %.2f | %.3f | %.3f | %.1f | %s | %s | %s |"
                     % (t.name, s.mpps, s.wall, s.cpu, s.rss_mib, one_or_range(s.flows),
                        one_or_range(s.packets), vs))
    return lines


def tool_notes(tools, sums, truth):
    """Lines about each tool: its own notes, flows unlike the ground truth, helpers."""
    lines = []
    for t in tools:
        s = sums.get(t.key)
        if s is None:
            continue
        notes = list(s.notes)
        if t.key not in ("bare", "weir") and s.flows and s.flows != [truth["flows"]]:
            notes.append("%s flows for %d distinct flows in the trace (%s)"
                         % (one_or_range(s.flows), truth["flows"], t.semantics))
        notes += t.notes(s, truth)
        if s.helpers:
            notes.append("forked %d helper process(es) a run (%s): their CPU time is counted "
                         "(waited for by the tool or by this script); peak RSS is that of the "
                         "largest single process" % (s.helpers, ", ".join(s.helper_names)))
        lines += ["- %s: %s" % (t.name, n) for n in notes]
    return lines


def checks(tools, sums, errors, truth):
    """PASS/FAIL lines: packets of every tool, flows of weir."""
    lines = []
    for t in tools:
        if t.key in errors:
            lines.append("FAIL %s: %s" % (t.name, errors[t.key].splitlines()[0]))
            continue
        s = sums[t.key]
        ok = s.packets == [truth["packets"]]
        lines.append("%s %s saw %s packets (generator wrote %d)"
                     % ("PASS" if ok else "FAIL", t.name, one_or_range(s.packets),
                        truth["packets"]))
        if t.key == "weir":
            ok = s.flows == [truth["flows"]]
            lines.append("%s weir exported %s flows (generator: %d distinct flows)"
                         % ("PASS" if ok else "FAIL", one_or_range(s.flows), truth["flows"]))
    return lines


def report_trace(tools, trace, truth, results, errors, runs):
    """The Markdown section of one trace, its checks and its summaries."""
    sums = {k: summarise(v, truth["packets"]) for k, v in results.items() if v}
    out = ["### %s" % trace.title, "",
           "%s. %d packets, %d distinct flows, %d bytes; gen_pcap SPEC `%s,packets=%d`; "
           "median of %d run(s)." % (trace.about, truth["packets"], truth["flows"],
                                     truth["bytes"], trace.spec, truth["packets"], runs), ""]
    out += table(tools, sums, errors)
    if "weir" in sums and "bare" in sums:
        out += ["", "weir vs bare libpcap loop: %.2fx (weir Mpps / bare loop Mpps)"
                % (sums["weir"].mpps / sums["bare"].mpps)]
    notes = tool_notes(tools, sums, truth)
    if notes:
        out += [""] + notes
    results_checks = checks(tools, sums, errors, truth)
    out += [""] + ["    " + c for c in results_checks] + [""]
    return out, results_checks, sums


def write_dat(path, rows):
    with open(path, "w") as fh:
        fh.write("# weir and peer flow probes on the same pcap files (bench/compare.py)\n")
        fh.write("# trace_no \"trace\" \"tool\" median_Mpps median_wall_s cpu_s peak_rss_MiB\n")
        for no, trace, tool, s in rows:
            fh.write('%d "%s" "%s" %.4f %.4f %.4f %.1f\n'
                     % (no, trace, tool, s.mpps, s.wall, s.cpu, s.rss_mib))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=4000000, help="packets per trace")
    ap.add_argument("--runs", type=int, default=5, help="runs of each tool on each trace")
    ap.add_argument("--quick", action="store_true",
                    help="200000 packets, 1 run: a functional check, not a measurement")
    ap.add_argument("--out", help="directory to write compare.md and compare.dat into")
    ap.add_argument("--only", help="comma-separated tools: " + ",".join(t.key for t in TOOLS))
    ap.add_argument("--build", default=str(ROOT / "build"), help="weir's build directory")
    a = ap.parse_args()
    if a.quick:
        a.packets, a.runs = 200000, 1
    if a.packets < 1 or a.runs < 1:
        ap.error("--packets and --runs must be at least 1")
    return a


def pick_tools(only, build):
    tools = TOOLS
    if only:
        keys, known = only.split(","), [t.key for t in TOOLS]
        unknown = [k for k in keys if k not in known]
        if unknown:
            sys.exit("compare: unknown tool(s) %s (tools: %s)"
                     % (",".join(unknown), ",".join(known)))
        tools = [t for t in TOOLS if t.key in keys]
    for t in tools:
        missing = t.missing(build)
        if missing:
            sys.exit("compare: %s needs %s, not found (bench/compare.sh builds weir and "
                     "installs the peers)" % (t.name, ", ".join(missing)))
    return tools


def main():
    args = parse_args()
    build = Path(args.build).resolve()
    tools = pick_tools(args.only, build)
    if not os.access(TIME, os.X_OK):
        sys.exit("compare: %s not found (Debian package time)" % TIME)
    if not (build / "bench" / "gen_pcap").exists():
        sys.exit("compare: %s not found: build weir first (bash scripts/build.sh build)"
                 % (build / "bench" / "gen_pcap"))
    become_subreaper()
    report = [machine_line(), "",
              "weir and peer flow probes on the same pcap files (bench/compare.py). "
              "Wall time, CPU time (user + system, with any processes the tool forks) and "
              "peak RSS (of its largest process), median of the runs; "
              "Mpps = packets / wall time. "
              "\"weir vs this tool\" = this tool's wall time / weir's.", ""]
    if args.quick:
        report += ["--quick: %d packets and one run, a check that every tool runs and counts "
                   "right: its timings say little." % args.packets, ""]
    print("\n".join(report), flush=True)
    failed, dat = False, []
    with tempfile.TemporaryDirectory(prefix="weir-compare.") as tmp:
        for no, trace in enumerate(TRACES, 1):
            truth, results, errors = run_trace(build, tools, trace, args.packets, args.runs,
                                               Path(tmp))
            section, result_checks, sums = report_trace(tools, trace, truth, results, errors,
                                                        args.runs)
            print("\n".join(section), flush=True)
            report += section
            failed |= any(c.startswith("FAIL") for c in result_checks)
            dat += [(no, trace.title, t.name, sums[t.key]) for t in tools if t.key in sums]
    verdict = "compare: %s" % ("FAIL" if failed else "PASS (all checks)")
    print(verdict)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        Path(args.out, "compare.md").write_text("\n".join(report + [verdict]) + "\n")
        write_dat(Path(args.out, "compare.dat"), dat)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
