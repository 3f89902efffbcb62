#!/usr/bin/env python3
"""Flow accounting on the shared capture corpus, end to end.

For every capture in TRACES/MANIFEST.csv: weir reads it and exports IPFIX to a file; libfixbuf's
ipfixDump decodes the file; the records are summed per key (vlan_stack, src, dst, proto, sport,
dport) and compared with TRACES/flows/<file>.flows.csv: every flow's packets and octets equal,
no extra and no missing flow. Files that must be refused are checked for a clear refusal.
Every run also checks the packet and record accounting of weir's own summary.

Each file is read a second time with --biflow (RFC 5103): the biflow records, split into their
forward and reverse directions, must sum to exactly the uniflow table, and each
conversation's first record must be keyed in the direction of its first packet (the
initiator).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weirtest as wt  # noqa: E402

# Files weir must refuse, with a word the error message must contain.
REFUSED = {
    "libpcap__pcap-invalid-version-1.pcap": "version",
}


def _coarse(got, truth, summary):
    """Sums both tables per (vlan_stack, src, dst, proto)."""
    return _sum_by(got, lambda k: k[:4]), _sum_by(truth, lambda k: k[:4])


def _bad_version_packet(got, truth, summary):
    """Drops the one ground-truth flow of an IPv6 header behind an IPv4 Ethertype, which weir
    must have counted as malformed (ip_bad_version) instead."""
    odd = ("", "8011:4af7:c0a8:102:c0a8:101:b0b:35", "34:4489:e530:100:1::", 4, 0, 0)
    if truth.pop(odd, None) != [1, 27778]:
        wt.fail("the ground truth no longer has the flow this exception is about")
    if summary["verdicts"]["ip_bad_version"] < 1:
        wt.fail("the IPv6-behind-IPv4-Ethertype packet was not counted as ip_bad_version")
    return got, truth


# Files where weir deliberately differs from the ground truth: the reason, and how the two
# tables are made comparable (a function of (weir table, truth table, weir summary)).
DELIBERATE = {
    "ndpi__ip_fragmented_garbage.pcap": (
        "first fragments of different port pairs reuse one IP ID, so which TCP flow a later "
        "fragment belongs to is ambiguous (the corpus README says so); weir gives it to the "
        "most recent first fragment, the ground truth to the nearest in time, which can be a "
        "later one. Compared per (vlan_stack, src, dst, proto), which is exact.",
        _coarse),
    "ndpi__fuzz-2006-06-26-2594.pcap": (
        "frame 669 (fuzzed) has Ethertype IPv4 but an IPv6 version nibble; tshark decodes it "
        "as IPv6, weir trusts the link layer and counts it as malformed (ip_bad_version), so "
        "its one-packet flow is not in weir's table. Every other flow is compared exactly.",
        _bad_version_packet),
}


def check_file(weir, traces, row, tmp):
    name = row["file"]
    path = os.path.join(traces, name)
    if name in REFUSED:
        p = wt.run_weir(weir, ["-i", "pcap:" + path, "-o", "ipfix:file:" + tmp + "/x.ipfix"],
                        check=False)
        if p.returncode == 0:
            wt.fail("weir accepted a file it must refuse")
        if name not in p.stderr or REFUSED[name] not in p.stderr:
            wt.fail("refusal does not name the file and the problem: %r" % p.stderr)
        return "refused: " + p.stderr.strip().splitlines()[-1]

    records, summary, _ = wt.weir_to_ipfix_file(weir, ["pcap:" + path], tmpdir=tmp)
    wt.check_conservation(summary, name)
    if len(records) != summary["records_exported"]:
        wt.fail("ipfixDump decoded %d records, weir exported %d" %
                (len(records), summary["records_exported"]))
    if row["packets"] and summary["packets_read"] != int(row["packets"]):
        wt.fail("read %d packets, the manifest says %s" % (summary["packets_read"],
                                                          row["packets"]))
    truth, _ = wt.load_truth(os.path.join(traces, "flows", name + ".flows.csv"))
    got = wt.sum_records(records)
    note = ""
    uniflow = wt.sum_records(records)
    if name in DELIBERATE:
        reason, adjust = DELIBERATE[name]
        got, truth = adjust(got, truth, summary)
        note = " (deliberate difference: %s)" % adjust.__doc__.split("\n")[0].rstrip(".")
    diffs = wt.diff_tables(got, truth)
    if diffs:
        wt.fail("flow table differs from the ground truth:\n    " + "\n    ".join(diffs))
    in_truth = sum(v[0] for v in truth.values())
    if summary["packets_in_flows"] != in_truth:
        wt.fail("%d packets in flows, ground truth %d" % (summary["packets_in_flows"], in_truth))
    nbi = check_biflow(weir, path, records, uniflow, summary, tmp)
    return "%d flows, %d packets exact%s; %d biflow records merge exactly" % (
        len(truth), in_truth, note, nbi)


def _conversation(k):
    """The direction-free identity of a key."""
    return min(k, wt.reverse_key(k))


def check_biflow(weir, path, uni_records, uniflow, uni_summary, tmp):
    """Reads the file again with --biflow and checks it against the uniflow run."""
    bdir = os.path.join(tmp, "biflow")
    os.mkdir(bdir)
    records, summary, _ = wt.weir_to_ipfix_file(weir, ["pcap:" + path], extra=["--biflow"],
                                                tmpdir=bdir)
    wt.check_conservation(summary, "biflow")
    if not summary["biflow"] or len(records) != summary["records_exported"]:
        wt.fail("biflow: %d records decoded, %d exported" % (len(records),
                                                            summary["records_exported"]))
    if summary["packets_in_flows"] != uni_summary["packets_in_flows"]:
        wt.fail("biflow: %d packets in flows, uniflow %d" % (summary["packets_in_flows"],
                                                            uni_summary["packets_in_flows"]))
    if any(wt.IE_REV_PACKETS not in r for r in records):
        wt.fail("biflow: a record without reversePacketDeltaCount")
    if any(int(r[wt.IE_PACKETS]) + int(r[wt.IE_REV_PACKETS]) == 0 for r in records):
        wt.fail("biflow: a record without packets")
    diffs = wt.diff_tables(wt.split_biflows(records), uniflow)
    if diffs:
        wt.fail("biflow records split by direction differ from the uniflow records:\n    " +
                "\n    ".join(diffs))
    # Initiator: the first record of a conversation is keyed like the earliest uniflow
    # record of that conversation (either, when both directions start in the same ms).
    first_uni = {}
    for r in uni_records:
        k, t = wt.record_key(r), r[wt.IE_START_MS]
        c = _conversation(k)
        if c not in first_uni or t < first_uni[c][0]:
            first_uni[c] = (t, {k})
        elif t == first_uni[c][0]:
            first_uni[c][1].add(k)
    first_bi = {}
    for r in records:
        k, t = wt.record_key(r), r[wt.IE_START_MS]
        c = _conversation(k)
        if c not in first_bi or t < first_bi[c][0]:
            first_bi[c] = (t, k)
    for c, (t, k) in first_bi.items():
        if t != first_uni[c][0] or k not in first_uni[c][1]:
            wt.fail("biflow %s starts at %s, but its first packet is %s at %s" %
                    (k, t, sorted(first_uni[c][1]), first_uni[c][0]))
    return len(records)


def _sum_by(tbl, keyfn):
    acc = {}
    for k, (p, b) in tbl.items():
        a = acc.setdefault(keyfn(k), [0, 0])
        a[0] += p
        a[1] += b
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weir", required=True)
    ap.add_argument("--traces", required=True)
    ap.add_argument("--only", help="check one file")
    a = ap.parse_args()
    counts = wt.for_each_trace(a.traces, lambda row, tmp: check_file(a.weir, a.traces, row, tmp),
                               only=a.only, prefix="weir-corpus-")
    if counts is None:
        return 1
    passed, failed = counts
    print("corpus: %d files exact or refused as required, %d failed, %d deliberate "
          "differences (%s)" % (passed, failed, len(DELIBERATE), ", ".join(DELIBERATE)))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
