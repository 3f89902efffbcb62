#!/usr/bin/env python3
"""Writes a pcap of steady UDP traffic to four /24 prefixes in which three things happen:

  10.1.0.0/24 drops to zero in [200 s, 260 s),
  10.2.0.0/24 falls to 40 % in [200 s, 300 s),
  10.3.0.0/24 surges eight-fold in [220 s, 260 s),
  10.4.0.0/24 is left alone.

300 packets per second per prefix for six minutes of packet time (480,000 packets, 29 MB),
in flows of ten packets, starting at 2023-11-14T22:13:20Z. With `--detect warmup_s=60
--detect baseline_half_life_s=60` weir raises and clears exactly those three.

Usage: genoutage.py OUT.pcap [--prefixes OUT.txt]
"""
import argparse
import struct

DURATION = 360
BASE_PPS = 300
T0 = 1_700_000_000
PREFIXES = {"A": "10.1.0.0/24", "B": "10.2.0.0/24", "C": "10.3.0.0/24", "D": "10.4.0.0/24"}
EVENTS = {"A": ("rate_drop", "critical", 200, 260), "B": ("rate_drop", "warning", 200, 300),
          "C": ("rate_surge", "warning", 220, 260)}


def level(name, t):
    if name == "A" and 200 <= t < 260:
        return 0.0
    if name == "B" and 200 <= t < 300:
        return 0.4
    if name == "C" and 220 <= t < 260:
        return 8.0
    return 1.0


def write_trace(path):
    """Evenly spaced UDP packets per prefix; the rate follows level(). Flows of ten packets
    each (by source port), so new flows keep coming at a steady rate. Returns the count."""
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    pkts = []
    for i, name in enumerate("ABCD"):
        for t in range(DURATION):
            n = int(round(BASE_PPS * level(name, t)))
            for k in range(n):
                pkts.append((t * 1_000_000 + (k * 1_000_000) // max(n, 1) + i, i,
                             t * BASE_PPS + k))
    pkts.sort()
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for us, i, k in pkts:
            src = bytes([192, 168, 0, 1 + k % 50])
            dst = bytes([10, 1 + i, 0, 1 + k % 200])
            udp = struct.pack("!HHHH", 1024 + (k // 10) % 60000, 53, 8 + 18, 0) + b"\0" * 18
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             src, dst)
            frame = eth + ip + udp
            sec = T0 + us // 1_000_000
            f.write(struct.pack("<IIII", sec, us % 1_000_000, len(frame), len(frame)))
            f.write(frame)
    return len(pkts)


def write_prefixes(path):
    with open(path, "w") as f:
        f.write("# the four prefixes of genoutage.py's trace\n")
        for v in PREFIXES.values():
            f.write(v + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--prefixes")
    a = ap.parse_args()
    n = write_trace(a.out)
    if a.prefixes:
        write_prefixes(a.prefixes)
    print("%s: %d packets" % (a.out, n))


if __name__ == "__main__":
    main()
