#!/usr/bin/env python3
"""Writes a deterministic synthetic capture (pcap, microseconds) and its ground-truth flows.

The trace mixes what a capture host sees: IPv4 and IPv6, TCP (with handshakes and FIN/RST),
UDP, ICMP, 802.1Q and QinQ tags, ARP and a few damaged frames, with heavy-tailed flow sizes
spread over a couple of minutes of packet time so that idle timers fire. Frames are cut to a
snap length like a header capture; IP lengths keep the real packet size.

The ground truth has the columns of ../shared/traces/flows/*.flows.csv (unidirectional flows
keyed by vlan_stack, src, dst, proto, sport, dport; no timeouts), plus a JSON line of counts
(--counts) for the packets that are not in any flow.
"""
import argparse
import csv
import ipaddress
import json
import random
import struct

EPOCH = 1700000000


def ether(vlans, etype):
    """Ethernet header; two tags are an 802.1ad S-tag then an 802.1Q C-tag."""
    tpids = [0x88A8, 0x8100] if len(vlans) == 2 else [0x8100] * len(vlans)
    out = bytes.fromhex("020000000002020000000001")
    for tpid, vid in zip(tpids, vlans):
        out += struct.pack("!HH", tpid, vid)
    return out + struct.pack("!H", etype)


def l4(proto, sport, dport, flags, paylen):
    if proto == 6:
        return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0), 20
    if proto == 17:
        return struct.pack("!HHHH", sport, dport, 8 + paylen, 0), 8
    return struct.pack("!BBHI", 8, 0, 0, 0), 8  # ICMP / ICMPv6 echo


def packet(flow, flags, paylen):
    hdr4, l4len = l4(flow["proto"], flow["sport"], flow["dport"], flags, paylen)
    if flow["v"] == 4:
        tot = 20 + l4len + paylen
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, 0, 0x4000, 64, flow["proto"], 0,
                         flow["src"].packed, flow["dst"].packed)
        return ether(flow["vlans"], 0x0800) + ip + hdr4, tot
    plen = l4len + paylen
    proto = 58 if flow["proto"] == 1 else flow["proto"]
    ip = struct.pack("!IHBB16s16s", 0x60000000, plen, proto, 64, flow["src"].packed,
                     flow["dst"].packed)
    return ether(flow["vlans"], 0x86DD) + ip + hdr4, plen + 40


def make_flows(rng, n_flows, duration):
    flows = []
    for i in range(n_flows):
        v = 6 if rng.random() < 0.25 else 4
        if v == 4:
            src = ipaddress.IPv4Address(0x0A000000 + rng.randrange(1, 4000))
            dst = ipaddress.IPv4Address(0xC0A80000 + rng.randrange(1, 200))
        else:
            src = ipaddress.IPv6Address((0x20010DB8 << 96) + rng.randrange(1, 4000))
            dst = ipaddress.IPv6Address((0x20010DB8 << 96) + (1 << 64) + rng.randrange(1, 200))
        r = rng.random()
        proto = 6 if r < 0.6 else 17 if r < 0.92 else 1
        r = rng.random()
        vlans = [] if r < 0.7 else [rng.choice([10, 20, 30])] if r < 0.92 else [100, rng.choice([7, 8])]
        sport = rng.randrange(1024, 65535) if proto != 1 else 0
        dport = rng.choice([80, 443, 53, 123, 8080, 25]) if proto != 1 else 0
        size = min(int(rng.paretovariate(1.1) * 3), 4000)
        start = rng.uniform(0, duration * 0.8)
        length = rng.uniform(0, duration - start) if size > 1 else 0
        flows.append(dict(v=v, src=src, dst=dst, proto=proto, sport=sport, dport=dport,
                          vlans=vlans, size=size, start=start, length=length,
                          end_rst=rng.random() < 0.1))
    return flows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--truth", help="write ground-truth flows CSV here")
    ap.add_argument("--counts", help="write packet counts (JSON) here")
    ap.add_argument("--flows", type=int, default=600)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--snaplen", type=int, default=96)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    events = []  # (time, frame, wirelen, flow or None, l3 length, tcp flags)
    for f in make_flows(rng, a.flows, a.duration):
        times = sorted(f["start"] + rng.uniform(0, f["length"]) for _ in range(f["size"]))
        for k, t in enumerate(times):
            flags = 0
            if f["proto"] == 6:
                flags = 0x02 if k == 0 else 0x10 | (0x08 if rng.random() < 0.5 else 0)
                if k == len(times) - 1 and k > 0:
                    flags = 0x04 if f["end_rst"] else 0x11
            paylen = rng.choice([0, 0, 40, 512, 1200, 1400]) if f["proto"] != 1 else 56
            frame, l3 = packet(f, flags, paylen)
            wire = len(frame) + paylen
            events.append((t, frame, wire, f, l3, flags))
    n_arp, n_bad = a.flows // 20, a.flows // 50
    for _ in range(n_arp):
        frame = ether([], 0x0806) + bytes(28)
        events.append((rng.uniform(0, a.duration), frame, len(frame), None, 0, 0))
    for _ in range(n_bad):  # Ethernet says IPv4, frame ends inside the IPv4 header
        frame = ether([], 0x0800) + bytes([0x45, 0, 0, 40, 0, 0])
        events.append((rng.uniform(0, a.duration), frame, 60, None, 0, 0))
    events.sort(key=lambda e: e[0])

    truth = {}
    with open(a.pcap, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, a.snaplen, 1))
        for t, frame, wire, f, l3, flags in events:
            usec = int(round(t * 1e6))
            sec, us = EPOCH + usec // 1000000, usec % 1000000
            cap = frame[: a.snaplen]
            out.write(struct.pack("<IIII", sec, us, len(cap), max(wire, len(cap))) + cap)
            if f is None:
                continue
            vlan_stack = "/".join(str(v) for v in f["vlans"])
            proto = 58 if (f["proto"] == 1 and f["v"] == 6) else f["proto"]
            key = (vlan_stack, str(f["src"]), str(f["dst"]), proto, f["sport"], f["dport"])
            ts = "%d.%06d000" % (sec, us)
            e = truth.setdefault(key, dict(packets=0, bytes=0, frame_bytes=0, first=ts, last=ts,
                                           flags=0, v=f["v"]))
            e["packets"] += 1
            e["bytes"] += l3
            e["frame_bytes"] += wire
            e["last"] = ts
            e["flags"] |= flags
    if a.truth:
        with open(a.truth, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["src", "dst", "proto", "sport", "dport", "vlan", "vlan_stack",
                        "ip_version", "packets", "bytes", "frame_bytes", "first_ts", "last_ts",
                        "tcp_flags", "nonfirst_frag_packets"])
            for k, e in sorted(truth.items(), key=lambda kv: -kv[1]["packets"]):
                vs, src, dst, proto, sport, dport = k
                w.writerow([src, dst, proto, sport, dport, vs.split("/")[0] if vs else "", vs,
                            e["v"], e["packets"], e["bytes"], e["frame_bytes"], e["first"],
                            e["last"], "0x%03x" % e["flags"] if proto == 6 else "", 0])
    if a.counts:
        with open(a.counts, "w") as fh:
            json.dump(dict(packets=len(events), ip_packets=len(events) - n_arp - n_bad,
                           non_ip_packets=n_arp, undecoded_ip_packets=n_bad,
                           flows=len(truth)), fh)


if __name__ == "__main__":
    main()
