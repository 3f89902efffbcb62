#!/usr/bin/env python3
"""Mutated captures through the whole probe: no crash, no hang, no sanitizer report, counters
that add up.

Every capture of TRACES/MANIFEST.csv is mutated with zzuf (random bit flips at a ratio, from a
seed, so that any mutant can be made again) into the test's temporary directory, in turn in
three ways:

  file     the whole file, its header included: some mutants are no capture file any more;
  header   everything after the file header (pcap: 24 bytes, pcapng: the first section header
           block, ERF: the first record), so the reader starts and then meets broken records;
  packets  as header, then the framing copied back from the original (pcap captured lengths;
           pcapng block types, lengths, interface ids, captured lengths, section and interface
           blocks; ERF types, lengths and extension headers): every record is still read, and
           packet bytes, timestamps and wire lengths are mangled.

Mutant i of a file uses mode i % 3, ratio RATIOS[i // 3 % 4] and seed SEED + i + the file's
offset (from its name: zzuf flips the same bits of every input for the same seed and ratio, so
each file gets seeds of its own), and weir options OPTIONS[i % 4] (two workers behind the
software steering hash, a flow cache small enough to evict, or biflow records), so that 12
mutants a file try every mode at every ratio and with every option. Each mutant is read by weir
(its own file reader, IPFIX to a file, --summary-json) under a hang timeout, and weir must:

  - exit 0, or exit 1 with a message naming the file: a file that is no capture file any more
    (refused before reading; documented exit status 1 for an input error), or broken framing
    in the middle (the flows read before it are exported); never die of a signal;
  - write no sanitizer report on stderr (the test also runs in the ASan+UBSan build);
  - when it read the file: balance its counters (weirtest.load_summary), and write an IPFIX
    file that ipfixDump decodes without complaint, whose flow records are the records weir
    exported and hold exactly the packets it counted in flows (weirtest.check_ipfix_file);
  - in packets mode: end as it ends on the original (exit status, packets read).

REGRESSIONS names mutants that once found a bug; they run on every run, whatever --count.

Usage: mutate_test.py --weir WEIR --traces DIR [--count N] [--seed S] [--only FILE]
(bench/mutate.sh runs many more mutants per file than the test's default.)
"""
import argparse
import os
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest as wt  # noqa: E402

MODES = ("file", "header", "packets")
RATIOS = (0.0002, 0.001, 0.004, 0.02)  # zzuf bit-flip ratios
OPTIONS = ([], ["--workers", "2"], ["--max-flows", "16"], ["--biflow"])
HANG_S = 120  # a run that takes this long is a hang (a run takes well under a second)
SANITIZER = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

# Mutants that found a bug, run on every run: (file, mode, seed, ratio, weir options, what it
# found).
REGRESSIONS = [
    ("ndpi__alexa-app.pcapng", "packets", 510362206, 0.001, ["--workers", "2"],
     "mangled timestamps make one worker close over 4096 bins while the other holds the "
     "oldest; the alert engine forced that one bin out, put the new bin over the full queue's "
     "head and later read it freed (heap-use-after-free in detect/engine.c ready_bin)"),
]


def _pcapng_order(data, o):
    """The byte order ('<' or '>') of the pcapng section whose header block is at o."""
    return "<" if data[o + 8:o + 12] == b"\x4d\x3c\x2b\x1a" else ">"


def framing(data):
    """Parses an original capture; returns (header length, byte ranges of its framing). The
    header is what header mode keeps; the framing is what packets mode
    copies back so that every record is read again."""
    keep = []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                 b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        o = 24
        while o + 16 <= len(data):
            keep.append((o + 8, o + 12))  # captured length
            o += 16 + struct.unpack(e + "I", data[o + 8:o + 12])[0]
        return 24, keep
    if magic == b"\x0a\x0d\x0d\x0a":
        o, e, hdr = 0, "<", None
        while o + 12 <= len(data):
            if data[o:o + 4] == b"\x0a\x0d\x0d\x0a":
                e = _pcapng_order(data, o)
            btype, blen = struct.unpack(e + "II", data[o:o + 8])
            if blen < 12:
                break  # a broken original: the framing ends here
            hdr = hdr or blen
            if btype in (2, 3, 6):  # packet blocks: type, length, trailing length, ...
                keep += [(o, o + 8), (o + blen - 4, o + blen)]
                if btype != 3:  # ... interface id and captured length
                    keep += [(o + 8, o + 12), (o + 20, o + 24)]
            else:  # section, interface and other blocks whole
                keep.append((o, o + blen))
            o += blen
        return hdr or 0, keep
    o, hdr = 0, None  # ERF: no file header, records of a length given in each
    while o + 16 <= len(data):
        rtype, rlen = data[o + 8], struct.unpack(">H", data[o + 10:o + 12])[0]
        if rlen < 16:
            break  # a broken original: the framing ends here
        hdr = hdr or rlen
        keep.append((o + 8, o + 12))  # type, flags, record length
        off, more = 16, rtype & 0x80
        # extension headers, each flagging whether another follows
        while more and o + off + 8 <= len(data):
            keep.append((o + off, o + off + 8))
            more = data[o + off] & 0x80
            off += 8
        o += rlen
    return hdr or 0, keep


def make_mutant(path, out, mode, seed, ratio, orig, fr):
    """Writes mutant (mode, seed, ratio) of the capture at path (bytes orig, framing fr)."""
    hdr, keep = fr
    cmd = ["zzuf", "-s", str(seed), "-r", str(ratio)]
    if mode != "file":
        cmd += ["-b", "%d-" % hdr]
    with open(path, "rb") as src, open(out, "wb") as dst:
        p = subprocess.run(cmd, stdin=src, stdout=dst, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        wt.fail("%s failed: %s" % (" ".join(cmd), p.stderr.strip()))
    if mode == "packets":
        data = bytearray(open(out, "rb").read())
        for a, b in keep:
            data[a:b] = orig[a:b]
        with open(out, "wb") as fh:
            fh.write(data)


def run_one(weir, path, tmp, options, what):
    """Runs weir on the capture at path; checks the run and returns (kind, summary or None):
    kind is 'ok' (exit 0), 'refused' (not a capture file) or 'broken' (framing broken in the
    middle, the flows before it exported)."""
    out = os.path.join(tmp, "out.ipfix")
    js = os.path.join(tmp, "summary.json")
    for f in (out, js):
        if os.path.exists(f):
            os.unlink(f)
    args = ["-i", "pcap:" + path, "-o", "ipfix:file:" + out, "--summary-json", js]
    args += options
    try:
        p = wt.run_weir(weir, args, check=False, timeout=HANG_S)
    except subprocess.TimeoutExpired:
        wt.fail("%s: weir still running after %d s (killed)" % (what, HANG_S))
    for s in SANITIZER:
        if s in p.stderr:
            wt.fail("%s: sanitizer report (exit %d):\n%s" % (what, p.returncode, p.stderr))
    if p.returncode < 0:
        wt.fail("%s: weir died of signal %d:\n%s" % (what, -p.returncode, p.stderr))
    if p.returncode not in (0, 1):
        wt.fail("%s: weir exited %d:\n%s" % (what, p.returncode, p.stderr))
    named = "weir: input 'pcap:%s': " % path
    if p.returncode == 1 and named not in p.stderr:
        wt.fail("%s: exit 1 without a message naming the file:\n%s" % (what, p.stderr))
    written = os.path.exists(js) and os.path.getsize(js) > 0
    if p.returncode == 1 and not written:
        return "refused", None  # stopped before reading: no summary, nothing to check
    if not written:
        wt.fail("%s: exit %d but no --summary-json" % (what, p.returncode))
    if p.returncode == 1 and "(flows read before it were exported)" not in p.stderr:
        wt.fail("%s: exit 1 after reading, but not for an input error:\n%s" % (what, p.stderr))
    summary = wt.load_summary(js, what)
    wt.check_ipfix_file(summary, out, what)
    return ("ok" if p.returncode == 0 else "broken"), summary


class Tally:
    """Mutants run and how they ended, over all files."""

    def __init__(self):
        self.mutants = self.packets = 0
        self.kinds = {"ok": 0, "refused": 0, "broken": 0}

    def add(self, kind, summary):
        self.mutants += 1
        self.kinds[kind] += 1
        self.packets += summary["packets_read"] if summary else 0

    def text(self):
        return "%d mutants: %d exit 0, %d refused (exit 1), %d broken mid-file (exit 1); " \
               "%d packets read" % (self.mutants, self.kinds["ok"], self.kinds["refused"],
                                    self.kinds["broken"], self.packets)


def mutant_plan(name, count, seed0):
    """The (mode, seed, ratio, options) of a file's mutants: the regressions first."""
    plan = [(m, s, r, o) for f, m, s, r, o, _ in REGRESSIONS if f == name]
    offset = zlib.crc32(name.encode()) % 1000000 * 1000
    for i in range(count):
        plan.append((MODES[i % len(MODES)], offset + seed0 + i, RATIOS[i // 3 % len(RATIOS)],
                     OPTIONS[i % len(OPTIONS)]))
    return plan


def check_file(weir, traces, row, tmp, count, seed0, total):
    name = row["file"]
    path = os.path.join(traces, name)
    orig = open(path, "rb").read()
    fr = framing(orig)
    base_kind, base = run_one(weir, path, tmp, [], "original")
    tally = Tally()
    mutant = os.path.join(tmp, name)
    for mode, seed, ratio, options in mutant_plan(name, count, seed0):
        what = "mutant zzuf -s %d -r %s, %s mode%s" % (seed, ratio, mode,
                                                       "".join(" " + o for o in options))
        make_mutant(path, mutant, mode, seed, ratio, orig, fr)
        kind, summary = run_one(weir, mutant, tmp, options, what)
        if mode == "packets":
            if kind != base_kind:
                wt.fail("%s: ended %s, the original %s" % (what, kind, base_kind))
            if base and summary["packets_read"] != base["packets_read"]:
                wt.fail("%s: read %d packets, the original %d" %
                        (what, summary["packets_read"], base["packets_read"]))
        tally.add(kind, summary)
        total.add(kind, summary)
    return tally.text()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weir", required=True)
    ap.add_argument("--traces", required=True)
    ap.add_argument("--count", type=int, default=12, help="mutants per file [12]")
    ap.add_argument("--seed", type=int, default=1, help="seed of each file's first mutant [1]")
    ap.add_argument("--only", help="mutate one file")
    a = ap.parse_args()
    if subprocess.run(["zzuf", "-V"], capture_output=True).returncode != 0:
        print("FAIL mutate: zzuf not found (scripts/deps.sh installs it)")
        return 1
    total = Tally()
    start = time.monotonic()
    counts = wt.for_each_trace(
        a.traces,
        lambda row, tmp: check_file(a.weir, a.traces, row, tmp, a.count, a.seed, total),
        only=a.only, prefix="weir-mutate-")
    if counts is None:
        return 1
    passed, failed = counts
    status = "ok  " if failed == 0 and passed > 0 else "FAIL"
    print("%s mutate: %d files (%d failed), %s, %d regression mutants; %.0f s" %
          (status, passed + failed, failed, total.text(), len(REGRESSIONS),
           time.monotonic() - start))
    return 0 if status == "ok  " else 1


if __name__ == "__main__":
    sys.exit(main())
