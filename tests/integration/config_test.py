#!/usr/bin/env python3
"""Tests of weir's config file (-c FILE), its check mode (-t) and the option table.

  errors      every kind of bad config file is refused before anything starts, exit 2, with a
              message naming the file, the line, the key and the bad value
  precedence  the command line wins over the file: values, lists (replaced) and detector
              parameters (merged key by key); -t prints the settings in effect, and that
              output is itself a config file giving the same settings
  docs        docs/CONFIG.md holds exactly what `weir --help-config` prints, etc/weir.yaml
              names every key and passes -t
  run         a config file drives a whole run: generated packets, IPFIX file export decoded
              by ipfixDump, the summary JSON where the file says, every packet accounted for
"""
import json
import os
import re
import sys

import weirtest as wt

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

HEAD = 'input:\n  - "gen:flows=10,packets=100"\noutput:\n  - "ipfix:file:/dev/null"\n'

# (config text after HEAD, line of the error, words the message must contain). HEAD is four
# lines, so the first line of the case is line 5.
ERROR_CASES = [
    ("idle-timout: 3\n", 5, ["unknown key", "idle-timout", "did you mean 'idle-timeout'"]),
    ("idle-timeout: 0\n", 5, ["idle-timeout", "'0'", "[1, 86400]"]),
    ("idle-timeout: soon\n", 5, ["idle-timeout", "'soon'"]),
    ("max-flows: 99999999999\n", 5, ["max-flows", "'99999999999'"]),
    ("udp-mtu: 100\n", 5, ["udp-mtu", "'100'", "[512, 65000]"]),
    ("biflow: maybe\n", 5, ["biflow", "'maybe'", "true or false"]),
    ("workers:\n  - 1\n  - 2\n", 6, ["workers", "not a list"]),
    ("odid:\n  a: 1\n", 6, ["odid", "not a mapping"]),
    ("filter:\n", 5, ["filter", "no value"]),
    ("redis-prefix: ''\n", 5, ["redis-prefix", "empty value"]),
    ("input:\n  - \"gen:\"\n", 5, ["input", "given twice", "first at line 1"]),
    ("config: other.yaml\n", 5, ["config", "only on the command line"]),
    ("check: true\n", 5, ["check", "only on the command line"]),
    ("timestamps: us\n", 5, ["timestamps", "'us'", "ms or ns"]),
    ("sample:\n  - \"count:10\"\n  - \"nope:3\"\n", 7, ["sample nope:3", "unknown selector"]),
    ("sample: \"3=count:4\"\n", 5, ["sample 3=", "only 1 input"]),
    ("detect:\n  drop_warnin: 0.3\n", 6,
     ["detect drop_warnin=0.3", "unknown key 'drop_warnin'", "did you mean 'drop_warning'"]),
    ("detect:\n  sig_z: lots\n", 6, ["detect sig_z=lots", "'lots'", "not a number"]),
    ("detect:\n  warmup_s: 60\n  drop_warning: 3\n", 7, ["drop_warning", "out of range"]),
    ("redis: \"http://127.0.0.1:6379\"\n", 5, ["redis", "redis://"]),
    ("watch:\n  - proto\n  - colour\n", 7, ["watch", "'colour'", "prefixes:FILE"]),
    ("watch:\n  - \"prefixes:@BADPFX@\"\n", 6, ["badpfx.txt:2", "prefix length", "'40'"]),
    ("eal: --no-huge\n", 5, None),  # a single EAL argument is a list of one: accepted
    ("- a\n", 5, ["not valid YAML"]),
    ("idle-timeout: [1\n", 6, ["not valid YAML"]),
    ("output:\n  - \"ipfix:file:/tmp/x\"\n", 5, ["output", "given twice"]),
    ("---\nworkers: 2\n", 6, ["second YAML document"]),
    # a value longer than any buffer is refused whole, not cut to something valid
    ("detect:\n  drop_warning: \"0.5" + "0" * 300 + "x\"\n", 6,
     ["detect drop_warning=0.5000", "not a number"]),
]


def test_errors(weir, tmp):
    badpfx = os.path.join(tmp, "badpfx.txt")
    open(badpfx, "w").write("10.0.0.0/8\n10.1.0.0/40\n")
    cfg = os.path.join(tmp, "cfg.yaml")
    refused = 0
    for text, line, words in ERROR_CASES:
        open(cfg, "w").write(HEAD + text.replace("@BADPFX@", badpfx))
        for mode in (["-t"], []):  # the check, and a real start: both refuse
            p = wt.run_weir(weir, mode + ["-c", cfg], check=False)
            if words is None:
                if p.returncode != 0:
                    wt.fail("%r: refused: %s" % (text, p.stderr.strip()))
                continue
            if p.returncode != 2:
                wt.fail("%r (%s): exit %d, expected 2: %s" % (text, mode[0], p.returncode,
                                                                p.stderr.strip()))
            where = "cfg.yaml:%d" % line
            for w in [where] + words:
                if w not in p.stderr:
                    wt.fail("%r: message %r lacks %r" % (text, p.stderr.strip(), w))
            if "summary" in p.stderr or p.stdout:
                wt.fail("%r: started or printed settings before refusing" % text)
        refused += words is not None
    # bytes that are not UTF-8: libyaml knows only their offset
    open(cfg, "wb").write(HEAD.encode() + b"probe-id: \xff\n")
    p = wt.run_weir(weir, ["-t", "-c", cfg], check=False)
    if p.returncode != 2 or "byte %d" % (len(HEAD) + 10) not in p.stderr:
        wt.fail("a bad byte at offset %d: exit %d, %r" % (len(HEAD) + 10, p.returncode,
                                                          p.stderr))
    # the file's watch lines still name the line when -i/-o come from the command line
    open(cfg, "w").write(HEAD + "watch:\n  - proto\n  - \"prefixes:/nonexistent/p\"\n")
    p = wt.run_weir(weir, ["-t", "-c", cfg, "-i", "gen:", "-o", "ipfix:file:/dev/null"],
                    check=False)
    if p.returncode != 2 or "cfg.yaml:7" not in p.stderr or "/nonexistent/p" not in p.stderr:
        wt.fail("watch error with -i/-o on the command line: exit %d, %r" % (p.returncode,
                                                                           p.stderr))
    refused += 2
    # a file that cannot be read, and an empty one (no input: refused, not a crash)
    p = wt.run_weir(weir, ["-t", "-c", os.path.join(tmp, "missing.yaml")], check=False)
    if p.returncode != 2 or "missing.yaml" not in p.stderr:
        wt.fail("missing file: exit %d, %r" % (p.returncode, p.stderr))
    open(cfg, "w").write("")
    p = wt.run_weir(weir, ["-t", "-c", cfg], check=False)
    if p.returncode != 2 or "no input" not in p.stderr:
        wt.fail("empty file: exit %d, %r" % (p.returncode, p.stderr))
    return "%d bad config files refused with file, line, key and value" % (refused + 2)


def effective(weir, args):
    """The settings in effect (weir -t's output) as {key: value or list or dict}."""
    p = wt.run_weir(weir, ["-t"] + args)
    out, key = {}, None
    for ln in p.stdout.splitlines():
        if ln.startswith("#"):
            continue
        m = re.match(r'^([a-z-]+):\s*(.*)$', ln)
        if m:
            key = m.group(1)
            v = m.group(2)
            out[key] = [] if v in ("", "[]") else v[1:-1] if v[:1] == '"' == v[-1:] else v
            continue
        m = re.match(r'^  - "(.*)"$', ln)
        if m:
            out[key].append(m.group(1))
            continue
        m = re.match(r'^  ([a-z_]+): (.*)$', ln)
        if m:
            if out[key] == []:
                out[key] = {}
            out[key][m.group(1)] = m.group(2)
            continue
        wt.fail("weir -t printed an unexpected line %r" % ln)
    return p.stdout, out


def test_precedence(weir, tmp):
    cfg = os.path.join(tmp, "cfg.yaml")
    open(cfg, "w").write(
        'input:\n  - "gen:flows=10"\n  - "gen:flows=20"\n'
        'output: "ipfix:file:/tmp/a"\n'
        'idle-timeout: 30\nactive-timeout: 600\nbiflow: yes\n'
        'watch:\n  - proto\n  - dport\n'
        'detect:\n  drop_warning: 0.4\n  raise_critical_s: 7\n'
        'eal:\n  - "--no-huge"\n'
        'sample:\n  - "2=count:5"\n')
    _, file_only = effective(weir, ["-c", cfg])
    want = {"idle-timeout": "30", "active-timeout": "600", "biflow": "true",
            "input": ["gen:flows=10", "gen:flows=20"], "output": ["ipfix:file:/tmp/a"],
            "watch": ["proto", "dport"], "eal": ["--no-huge"], "max-flows": "1048576",
            "udp-rate": "20000", "timestamps": "ms", "sample": ["none", "2=count:5"]}
    for k, v in want.items():
        if file_only.get(k) != v:
            wt.fail("from the file alone, %s is %r, expected %r" % (k, file_only.get(k), v))
    if (file_only["detect"]["drop_warning"], file_only["detect"]["raise_critical_s"],
            file_only["detect"]["sig_z"]) != ("0.4", "7", "5"):
        wt.fail("detect from the file: %r" % file_only["detect"])
    text, both = effective(weir, ["-c", cfg, "--idle-timeout", "5", "-i", "gen:flows=3",
                                  "--watch", "vlan", "--detect", "drop_warning=0.3",
                                  "--timestamps", "ns", "--sample", "count:3",
                                  "--filter", "udp\tand\nport \"53\"",
                                  "--", "--in-memory"])
    want = {"idle-timeout": "5", "active-timeout": "600", "input": ["gen:flows=3"],
            "watch": ["vlan"], "timestamps": "ns", "eal": ["--in-memory"],
            "output": ["ipfix:file:/tmp/a"], "sample": ["count:3"],
            "filter": 'udp\\x09and\\x0aport \\"53\\"'}
    for k, v in want.items():
        if both.get(k) != v:
            wt.fail("with the command line over the file, %s is %r, expected %r" % (
                k, both.get(k), v))
    if (both["detect"]["drop_warning"], both["detect"]["raise_critical_s"]) != ("0.3", "7"):
        wt.fail("detect keys are not merged key by key: %r" % both["detect"])
    # -t's output is itself a config giving the same settings
    again = os.path.join(tmp, "again.yaml")
    open(again, "w").write(text)
    text2, _ = effective(weir, ["-c", again])
    body = lambda t: [ln for ln in t.splitlines() if not ln.startswith("#")]
    if body(text) != body(text2):
        wt.fail("the printed settings read back differently")
    return "file values, command-line values, replaced lists and merged detect keys as " \
           "documented; -t output reads back to the same %d lines" % len(body(text))


def test_docs(weir, tmp):
    gen = wt.run_weir(weir, ["--help-config"]).stdout
    doc = open(os.path.join(SRC, "docs", "CONFIG.md")).read()
    m = re.search(r"<!-- keys: weir --help-config -->\n(.*?)<!-- end of keys -->", doc, re.S)
    if m is None:
        wt.fail("docs/CONFIG.md has no generated key table")
    if m.group(1) != gen:
        wt.fail("docs/CONFIG.md's key table differs from weir --help-config; paste it again")
    keys = [ln.split("`")[1] for ln in gen.splitlines()[2:] if ln.startswith("| `")]
    if len(keys) < 30:
        wt.fail("weir --help-config lists %d file keys; the table has more than 30" % len(keys))
    sample = os.path.join(SRC, "etc", "weir.yaml")
    text = open(sample).read()
    missing = [k for k in keys if not re.search(r"^(# )?%s:" % re.escape(k), text, re.M)]
    if missing:
        wt.fail("etc/weir.yaml does not mention %s" % missing)
    p = wt.run_weir(weir, ["-t", "-c", sample])
    if "settings OK" not in p.stdout:
        wt.fail("etc/weir.yaml: %r" % p.stdout[:200])
    return "%d keys: docs/CONFIG.md matches the table, etc/weir.yaml names them all and " \
           "passes -t" % len(keys)


def test_run(weir, tmp):
    out = os.path.join(tmp, "flows.ipfix")
    js = os.path.join(tmp, "summary.json")
    cfg = os.path.join(tmp, "cfg.yaml")
    open(cfg, "w").write(
        "# a whole run from a file\n"
        'input:\n  - "gen:flows=200,packets=20000,seed=3"\n'
        'output:\n  - "ipfix:file:%s"\n'
        'summary-json: "%s"\nquiet: true\nworkers: 2\n' % (out, js))
    p = wt.run_weir(weir, ["-c", cfg])
    if p.stderr.strip():
        wt.fail("quiet: true in the file, yet stderr says %r" % p.stderr[:200])
    summary = wt.load_summary(js, "config run")
    records = wt.decode_ipfixdump(out)
    packets = sum(int(r[wt.IE_PACKETS]) for r in records)
    if summary["packets_read"] != 20000 or packets != 20000:
        wt.fail("read %d packets, exported %d in flows; expected 20000" % (
            summary["packets_read"], packets))
    # a Redis password is never printed: not by -t, not in the summary
    url = "redis://:s3cret-pw@127.0.0.1:%d/2" % wt.free_tcp_port()  # nothing listens there
    p = wt.run_weir(weir, ["-t", "-i", "gen:flows=1", "--redis", url])
    run = wt.run_weir(weir, ["-i", "gen:flows=10,packets=100", "--redis", url, "-o",
                             "ipfix:file:" + out], timeout=60)
    for what, text in (("weir -t", p.stdout), ("the summary", run.stderr)):
        if "s3cret-pw" in text or "redis://:****@127.0.0.1" not in text:
            wt.fail("%s shows the Redis password or no masked URL: %r" % (what, text[-600:]))
    return "20000 generated packets through 2 workers into %d flow records, as the file " \
           "said; the Redis password masked in -t and the summary" % len(records)


if __name__ == "__main__":
    sys.exit(wt.main(__doc__, {"errors": test_errors, "precedence": test_precedence,
                               "docs": test_docs, "run": test_run}, "config"))
