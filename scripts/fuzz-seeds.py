#!/usr/bin/env python3
"""Writes the generated seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/.

    scripts/fuzz-seeds.py [CORPUS_DIR]     (default: tests/fuzz/corpus beside this script)

Every seed is built here from first principles (packet headers, pcap, pcapng and ERF records,
IPFIX inputs, config files, prefix-to-AS files, control lines), small and deterministic, so
the corpus can be made again and reviewed. Seeds are named seed-*; a run rewrites those and
leaves every other file (crash-* regression inputs, for one) alone. The config seeds include
etc/weir.yaml as it is in the tree.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))

# ---------------------------------------------------------------------------------------------
# Packets


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(proto, payload, src=b"\xc0\x00\x02\x01", dst=b"\xc6\x33\x64\x02", frag=0x4000,
         ident=0x1234, ttl=64, tot_len=None, options=b""):
    ihl = 5 + len(options) // 4
    length = 20 + len(options) + len(payload) if tot_len is None else tot_len
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, ident, frag, ttl, proto, 0,
                    src, dst) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


V6_SRC = bytes.fromhex("20010db8000000000000000000000001")
V6_DST = bytes.fromhex("20010db8000000aa0000000000000002")


def ipv6(nh, payload, plen=None, src=V6_SRC, dst=V6_DST):
    length = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 0x60000000, length, nh, 64, src, dst) + payload


def tcp(sport=40000, dport=443, flags=0x02, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport=5353, dport=53, payload=b"hello"):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(t=8, c=0):
    return struct.pack("!BBHHH", t, c, 0, 1, 1) + b"ping"


def ext(nh, body):
    """An IPv6 extension header (hop-by-hop, routing, destination options) of body bytes."""
    body = body + b"\0" * ((-(len(body) + 2)) % 8)
    return struct.pack("!BB", nh, (len(body) + 2) // 8 - 1) + body


def frag6(nh, offset, more, ident=0x11223344):
    return struct.pack("!BBHI", nh, 0, offset << 3 | more, ident)


def eth(etype, payload, dst=b"\x02\0\0\0\0\x02", src=b"\x02\0\0\0\0\x01"):
    return dst + src + struct.pack("!H", etype) + payload


def vlan(vid, etype, payload):
    return struct.pack("!HH", vid, etype) + payload


def mpls(labels, payload):
    out = b""
    for i, lab in enumerate(labels):
        out += struct.pack("!I", lab << 12 | (1 if i == len(labels) - 1 else 0) << 8 | 64)
    return out + payload


def pppoe(proto, payload):
    return struct.pack("!BBHHH", 0x11, 0, 1, len(payload) + 2, proto) + payload


def sll(etype, payload):
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", etype) + payload


def sll2(etype, payload):
    return struct.pack("!HHIHBB8s", etype, 0, 2, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + payload


TCP4 = ipv4(6, tcp())
UDP4 = ipv4(17, udp())
ICMP4 = ipv4(1, icmp())
TCP6 = ipv6(6, tcp(dport=80, flags=0x12))
UDP6 = ipv6(17, udp())
ICMP6 = ipv6(58, icmp(128, 0))
# hop-by-hop -> routing -> destination options -> TCP
CHAIN6 = ipv6(0, ext(43, b"\1\4\0\0\0\0") + ext(60, b"\0\0\0\0\0\0") +
              ext(6, b"\1\4\0\0\0\0") + tcp())
JUMBO6 = ipv6(0, struct.pack("!BBBBI", 17, 0, 0xC2, 4, 8 + 5 + 8) + udp(), plen=0)
FRAG4_FIRST = ipv4(17, udp(payload=b"x" * 32), frag=0x2000, ident=0x77)
FRAG4_NEXT = ipv4(17, b"y" * 16, frag=0x0005, ident=0x77)
FRAG6_FIRST = ipv6(44, frag6(17, 0, 1) + udp(payload=b"z" * 24))
FRAG6_NEXT = ipv6(44, frag6(17, 4, 0) + b"w" * 16)
TSO4 = ipv4(6, tcp(), tot_len=0)
OPTS4 = ipv4(6, tcp(), options=b"\x01\x01\x01\x00")
ARP = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + b"\0" * 20

# link type selector byte of fuzz_parse.c: index into its table
L_NULL, L_ETH, L_RAW, L_LOOP, L_SLL, L_IPV4, L_IPV6, L_SLL2, L_OTHER = range(9)


def parse_seeds():
    s = {}
    for name, ip, et in (("tcp4", TCP4, 0x0800), ("udp4", UDP4, 0x0800), ("icmp4", ICMP4, 0x0800),
                         ("tcp6", TCP6, 0x86DD), ("udp6", UDP6, 0x86DD),
                         ("icmp6", ICMP6, 0x86DD), ("chain6", CHAIN6, 0x86DD),
                         ("jumbo6", JUMBO6, 0x86DD), ("tso4", TSO4, 0x0800),
                         ("opts4", OPTS4, 0x0800), ("frag4", FRAG4_FIRST, 0x0800),
                         ("frag6", FRAG6_FIRST, 0x86DD), ("frag4next", FRAG4_NEXT, 0x0800),
                         ("frag6next", FRAG6_NEXT, 0x86DD)):
        af_le = struct.pack("<I", 2 if et == 0x0800 else 10)
        af_be = struct.pack(">I", 2 if et == 0x0800 else 24)
        s["eth-" + name] = bytes([L_ETH]) + eth(et, ip)
        s["sll-" + name] = bytes([L_SLL]) + sll(et, ip)
        s["sll2-" + name] = bytes([L_SLL2]) + sll2(et, ip)
        s["null-" + name] = bytes([L_NULL]) + af_le + ip
        s["loop-" + name] = bytes([L_LOOP]) + af_be + ip
        s["raw-" + name] = bytes([L_RAW]) + ip
        s["ipvx-" + name] = bytes([L_IPV4 if et == 0x0800 else L_IPV6]) + ip
    s["eth-vlan"] = bytes([L_ETH]) + eth(0x8100, vlan(100, 0x0800, TCP4))
    s["eth-qinq"] = bytes([L_ETH]) + eth(0x88A8, vlan(10, 0x8100, vlan(20, 0x86DD, UDP6)))
    s["eth-qinq-deep"] = bytes([L_ETH]) + eth(0x9100, vlan(1, 0x9200, vlan(2, 0x9300, vlan(
        3, 0x8100, vlan(4, 0x8100, vlan(5, 0x0800, UDP4))))))
    s["eth-mpls"] = bytes([L_ETH]) + eth(0x8847, mpls([16, 17, 18], TCP4))
    s["eth-mpls6"] = bytes([L_ETH]) + eth(0x8848, mpls([100], UDP6))
    s["eth-mpls-pw"] = bytes([L_ETH]) + eth(0x8847, mpls([100], b"\0\0\0\0" + eth(0x0800, UDP4)))
    s["eth-pppoe4"] = bytes([L_ETH]) + eth(0x8864, pppoe(0x0021, TCP4))
    s["eth-pppoe6"] = bytes([L_ETH]) + eth(0x8864, pppoe(0x0057, UDP6))
    s["eth-arp"] = bytes([L_ETH]) + eth(0x0806, ARP)
    s["eth-short"] = bytes([L_ETH]) + eth(0x0800, TCP4)[:30]
    s["eth-l4cut"] = bytes([L_ETH]) + eth(0x0800, TCP4)[:40]
    s["eth-badver"] = bytes([L_ETH]) + eth(0x0800, TCP6)
    s["eth-badihl"] = bytes([L_ETH]) + eth(0x0800, b"\x42" + TCP4[1:])
    s["sll2-vlan"] = bytes([L_SLL2]) + sll2(0x8100, vlan(7, 0x86DD, TCP6))
    s["other"] = bytes([L_OTHER]) + TCP4
    s["empty"] = bytes([L_ETH])
    # several frames through one fragment table: first fragments, then the rest
    multi = bytes([0x80])
    for link, frame in ((L_ETH, eth(0x0800, FRAG4_FIRST)), (L_ETH, eth(0x0800, FRAG4_NEXT)),
                        (L_RAW | 0x10, FRAG6_FIRST), (L_RAW | 0x10, FRAG6_NEXT),
                        (L_SLL, sll(0x0800, FRAG4_NEXT))):
        multi += struct.pack("<BHH", link, len(frame), 0) + frame
    s["multi-frags"] = multi
    return s


# ---------------------------------------------------------------------------------------------
# Capture files

FRAMES = [eth(0x0800, TCP4), eth(0x86DD, TCP6), eth(0x8100, vlan(5, 0x0800, UDP4)),
          eth(0x0800, ICMP4), eth(0x86DD, FRAG6_FIRST), eth(0x0806, ARP)]


def pcap(frames, big=False, nsec=False, link=1, snap=65535, version=(2, 4), cut=0):
    e = ">" if big else "<"
    magic = 0xa1b23c4d if nsec else 0xa1b2c3d4
    out = struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snap, link)
    for i, f in enumerate(frames):
        out += struct.pack(e + "IIII", 1700000000 + i, 123456 + i, len(f), len(f) + 4) + f
    return out[:len(out) - cut]


def pcap_seeds():
    s = {}
    s["le-us"] = pcap(FRAMES)
    s["be-us"] = pcap(FRAMES, big=True)
    s["le-ns"] = pcap(FRAMES, nsec=True)
    s["be-ns"] = pcap(FRAMES, big=True, nsec=True)
    s["raw"] = pcap([TCP4, UDP6, JUMBO6], link=101)
    s["null"] = pcap([struct.pack("<I", 2) + UDP4, struct.pack("<I", 30) + TCP6], link=0)
    s["loop"] = pcap([struct.pack(">I", 2) + UDP4, struct.pack(">I", 24) + TCP6], link=108)
    s["sll"] = pcap([sll(0x0800, TCP4), sll(0x86DD, UDP6)], link=113)
    s["sll2"] = pcap([sll2(0x0800, TCP4), sll2(0x86DD, UDP6)], link=276)
    s["ipv4"] = pcap([TCP4, ICMP4], link=228)
    s["ipv6"] = pcap([TCP6, ICMP6], link=229)
    s["fcs-bits"] = pcap(FRAMES[:2], link=0x10000001)
    s["unknown-link"] = pcap(FRAMES[:2], link=160)
    s["truncated"] = pcap(FRAMES, cut=7)
    s["header-only"] = pcap([])
    s["bad-version"] = pcap(FRAMES[:1], version=(1, 0))
    s["huge-record"] = pcap(FRAMES[:1])[:24] + struct.pack("<IIII", 0, 0, 0x7fffffff, 64)
    return s


def pad4(b):
    return b + b"\0" * ((-len(b)) % 4)


def block(e, btype, body):
    body = pad4(body)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def opt(e, code, val):
    return struct.pack(e + "HH", code, len(val)) + pad4(val)


def shb(e, options=b""):
    return block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + options)


def idb(e, link=1, snap=0, options=b""):
    return block(e, 1, struct.pack(e + "HHI", link, 0, snap) + options)


def epb(e, frame, ifid=0, ts=1700000000000000, orig=None):
    orig = len(frame) if orig is None else orig
    return block(e, 6, struct.pack(e + "IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(frame),
                                   orig) + frame)


def spb(e, frame, orig=None):
    return block(e, 3, struct.pack(e + "I", len(frame) if orig is None else orig) + frame)


def pb(e, frame, ifid=0, ts=1700000000000000):
    return block(e, 2, struct.pack(e + "HHIIII", ifid, 0, ts >> 32, ts & 0xFFFFFFFF,
                                   len(frame), len(frame)) + frame)


def end_opts(e):
    return struct.pack(e + "HH", 0, 0)


def pcapng_seeds():
    s = {}
    for e, tag in (("<", "le"), (">", "be")):
        s["basic-" + tag] = shb(e) + idb(e) + b"".join(epb(e, f) for f in FRAMES)
    e = "<"
    s["tsresol-ns"] = (shb(e) + idb(e, options=opt(e, 9, b"\x09") + end_opts(e)) +
                       epb(e, FRAMES[0], ts=1700000000123456789))
    s["tsresol-bin"] = (shb(e) + idb(e, options=opt(e, 9, b"\x9e") + end_opts(e)) +
                        epb(e, FRAMES[1], ts=1 << 40))
    s["tsresol-ps"] = (shb(e) + idb(e, options=opt(e, 9, b"\x0c") + end_opts(e)) +
                       epb(e, FRAMES[2], ts=(1 << 63) + 5))
    s["tsoffset"] = (shb(e) + idb(e, options=opt(e, 14, struct.pack("<q", -1700000001)) +
                                  end_opts(e)) + epb(e, FRAMES[0]))
    s["multi-iface"] = (shb(e) + idb(e, link=1) + idb(e, link=101, snap=64) +
                        idb(e, link=113) + epb(e, FRAMES[0], 0) + epb(e, TCP4, 1) +
                        epb(e, sll(0x86DD, UDP6), 2))
    s["spb-pb"] = (shb(e) + idb(e, snap=40) + epb(e, FRAMES[0]) + spb(e, FRAMES[1]) +
                   pb(e, FRAMES[2]) + spb(e, FRAMES[3], orig=1500))
    s["two-sections"] = (shb("<") + idb("<") + epb("<", FRAMES[0]) + shb(">") +
                         idb(">", link=101) + epb(">", TCP6))
    s["other-blocks"] = (shb(e) + idb(e) + block(e, 4, b"\1\0\4\0\xc0\0\2\1a.example\0") +
                         block(e, 5, struct.pack("<III", 0, 0, 0)) +
                         block(e, 0x40000BAD, b"custom") + epb(e, FRAMES[0]))
    s["bad-iface"] = shb(e) + idb(e) + epb(e, FRAMES[0], ifid=3)
    s["caplen-beyond"] = (shb(e) + idb(e) +
                          block(e, 6, struct.pack("<IIIII", 0, 0, 0, 9999, 60) + FRAMES[0]))
    s["trailer-mismatch"] = (shb(e) + idb(e) + epb(e, FRAMES[0])[:-4] + struct.pack("<I", 8))
    s["truncated"] = (shb(e) + idb(e) + epb(e, FRAMES[0]) + epb(e, FRAMES[1]))[:-10]
    s["shb-only"] = shb(e, opt(e, 2, b"x86_64") + end_opts(e))
    return s


def erf_rec(rtype, body, wlen=None, ts=0x6553F10000000000, ext=b"", loss=0):
    if ext:
        rtype |= 0x80
    rlen = 16 + len(ext) + len(body)
    return (struct.pack("<Q", ts) + struct.pack("!BBHHH", rtype, 0x04, rlen, loss,
                                                len(body) if wlen is None else wlen) +
            ext + body)


def erf_seeds():
    s = {}
    eth_recs = [erf_rec(2, b"\0\0" + f, wlen=len(f) + 4) for f in FRAMES]
    s["eth"] = b"".join(eth_recs)
    s["ip"] = erf_rec(22, TCP4) + erf_rec(23, UDP6) + erf_rec(22, ICMP4)
    s["colour"] = (erf_rec(11, b"\0\0" + FRAMES[0]) + erf_rec(16, b"\0\0" + FRAMES[1]) +
                   erf_rec(20, b"\0\0" + FRAMES[2]))
    s["ext-headers"] = (erf_rec(2, b"\0\0" + FRAMES[0], ext=b"\x80" + b"\0" * 7 + b"\x01" +
                                b"\0" * 7) + erf_rec(22, TCP4, ext=b"\x01" + b"\0" * 7))
    s["meta-pad"] = (erf_rec(27, b"\0" * 24, wlen=0) + erf_rec(48, b"\0" * 8, wlen=0) +
                     eth_recs[0] + erf_rec(1, b"\0" * 20))
    s["loss"] = erf_rec(2, b"\0\0" + FRAMES[0], loss=5) + eth_recs[1]
    s["snapped"] = erf_rec(2, b"\0\0" + FRAMES[1][:40], wlen=len(FRAMES[1]))
    s["truncated"] = s["eth"][:-9]
    s["one-record"] = eth_recs[0]
    return s


# ---------------------------------------------------------------------------------------------
# IPFIX round trip (fuzz_ipfix.c's input layout)


def ipfix_seed(flags, n_sel, records, cap_extra=0, biflow=None, seed=1):
    import random
    rnd = random.Random(seed)
    biflow = flags & 1 if biflow is None else biflow
    out = struct.pack("<BBI", flags, n_sel, 7)
    for i in range(n_sel % 17):
        alg = (1, 3, 4, 6, 2)[i % 5]
        out += struct.pack("<HIIIIdQQ", alg, 1 + i, 99, 1, 100 + i, 0.01 * (i + 1),
                           (1 << 32) // (i + 2), 0x5eed + i)
    out += struct.pack("<II", 1, 2) + b"".join(struct.pack("<Q", rnd.getrandbits(40))
                                               for _ in range(12))
    out += struct.pack("<HIII", cap_extra, 1700000000, 100, 9)
    for r in range(records):
        v6 = r % 3 == 1
        depth = r % 4
        out += bytes([(1 if v6 else 0) | depth << 1])
        alen = 16 if v6 else 4
        out += bytes(rnd.getrandbits(8) for _ in range(2 * alen))
        out += struct.pack("<HHB", rnd.getrandbits(16), 443, (6, 17, 1, 58)[r % 4])
        out += b"".join(struct.pack("<H", 100 + k) for k in range(min(depth, 4)))
        first = 1700000000000000000 + r * 1000003
        out += struct.pack("<QQQQ", first, first + 999999999, 1 + r, 60 * (1 + r))
        out += struct.pack("<HBBHBBHI", 0x1b, 0, 1 + r % 5, r % 3, 60, 64, 0x0800, r)
        if biflow:
            out += struct.pack("<HQQ", 0x12, r, 40 * r)
    return out


def ipfix_seeds():
    s = {}
    s["empty"] = b""
    s["uni-ms"] = ipfix_seed(0x00, 0, 5)
    s["uni-ns"] = ipfix_seed(0x02, 0, 5)
    s["biflow"] = ipfix_seed(0x01, 0, 5)
    s["biflow-ns-stats"] = ipfix_seed(0x0B, 0, 8)
    s["sampled"] = ipfix_seed(0x08, 3, 6)
    s["sampled-many"] = ipfix_seed(0x19, 16, 4)
    s["many-messages"] = ipfix_seed(0x04, 1, 120, cap_extra=0)
    s["many-messages-stats"] = ipfix_seed(0x1C, 2, 90, cap_extra=300)
    s["big-message"] = ipfix_seed(0x00, 0, 200, cap_extra=65535)
    return s


# ---------------------------------------------------------------------------------------------
# Text inputs

HEAD = 'input:\n  - "gen:flows=10,packets=100"\noutput:\n  - "ipfix:file:/dev/null"\n'


def config_seeds():
    s = {}
    with open(os.path.join(ROOT, "etc", "weir.yaml"), "rb") as f:
        s["etc-weir"] = f.read()
    s["minimal"] = HEAD.encode()
    s["everything"] = (HEAD + """\
idle-timeout: 30
active-timeout: 600
max-flows: 100000
workers: 2
rx-thread: true
no-pin: yes
biflow: on
sample:
  - "count:100"
  - "1=hash:10,seed=7"
odid: 42
template-refresh: 10
template-refresh-msgs: 100
timestamps: ns
stats-refresh: 30
rotate-size: 1000000
rotate-interval: 3600
udp-rate: 0
udp-mtu: 9000
snaplen: 9000
buffer-mb: 128
filter: "udp and port 53"
mbufs: 4096
mtu: 9000
eal:
  - "--no-huge"
  - "-l"
  - "0-1"
duration: 60
watch:
  - proto
  - vlan
  - dport
  - dst-prefix
bin-ms: 500
detect:
  drop_warning: 0.4
  raise_critical_s: 7
  warmup_s: 60
redis: "redis://:secret@127.0.0.1:6379/2"
redis-prefix: probe
alerts-file: "/tmp/alerts.jsonl"
probe-id: "probe-1"
status-interval: 0
metrics: "127.0.0.1:9465"
control-socket: "/run/weir/weir.sock"
user: root
allow-root: true
log-level: "warning,redis=debug"
summary-json: "/tmp/summary.json"
quiet: false
""").encode()
    s["flow-style"] = (b'{input: ["pcap:a.pcap", "pcap:b.pcap"], output: "ipfix:udp://[::1]:4739",'
                       b' sample: ["2=random:5", "prob:0.25"], metrics: "[::1]:9465"}\n')
    s["anchors"] = (HEAD + "x-common: &c 15\nidle-timeout: *c\n").encode()
    s["quoted"] = (HEAD + 'filter: "udp\\tand\\nport \\"53\\""\nprobe-id: \'it\'\'s\'\n').encode()
    cases = [
        "idle-timout: 3\n", "idle-timeout: 0\n", "max-flows: 99999999999\n", "biflow: maybe\n",
        "workers:\n  - 1\n  - 2\n", "odid:\n  a: 1\n", "filter:\n", "redis-prefix: ''\n",
        "config: other.yaml\n", "timestamps: us\n", 'sample:\n  - "nope:3"\n',
        'sample: "3=count:4"\n', "detect:\n  drop_warnin: 0.3\n", "detect:\n  sig_z: lots\n",
        "detect:\n  warmup_s: 60\n  drop_warning: 3\n", 'redis: "http://127.0.0.1:6379"\n',
        "watch:\n  - colour\n", 'watch:\n  - "asn:/nonexistent/pfx2as"\n', "eal: --no-huge\n",
        "- a\n", "idle-timeout: [1\n", "---\nworkers: 2\n", 'metrics: "10.0.0.1:9465"\n',
        "user: no-such-user-here\n", 'log-level: "loud"\n', "idle-timeout: !!int 5\n",
    ]
    for i, c in enumerate(cases):
        s["case-%02d" % i] = (HEAD + c).encode()
    # characters a YAML reader folds or refuses when they are not escaped
    s["unicode-escapes"] = (HEAD + 'filter: "a\\N\\L\\P\\x80\\u009f\\ufeff\\uffff\\U0001f600"\n'
                            ).encode()
    s["not-utf8"] = HEAD.encode() + b"probe-id: \"\xff\xfe\"\n"
    s["no-inputs"] = b"workers: 2\n"
    return s


def asfile_seeds():
    return {
        "pfx2as": b"1.0.0.0\t24\t13335\n1.0.4.0\t22\t38803\n1.0.16.0\t20\t2519\n"
                  b"8.8.8.0\t24\t15169\n8.0.0.0\t9\t3356\n0.0.0.0\t0\t1\n",
        "v6": b"2001:db8::\t32\t64500\n2001:db8:aa::\t48\t64501\n::\t0\t64502\n"
              b"2001:db8:aa:1::\t64\t64503\n",
        "mixed": b"# prefix\tlength\tasn\n10.0.0.0\t8\t64500  # private\n\n"
                 b"10.1.0.0 16 64501_64502\n10.1.2.0\t24\t64503,64504\r\n"
                 b"10.1.2.0\t24\t64599\n2001:db8::\t48\t64505\n10.1.2.3\t32\t4294967295\n",
        "prefix-list": b"10.0.0.0/8\n10.1.0.0/16\n192.0.2.0 24\n2001:db8::/32\n::/0\n",
        "bad-length": b"10.0.0.0\t33\t64500\n",
        "bad-as": b"10.0.0.0\t8\tAS64500\n",
        "empty": b"",
        "comments-only": b"# nothing\n\n   \n",
        "long-line": b"10.0.0.0\t8\t64500" + b" " * 600 + b"\n",
    }


def control_seeds():
    return {
        "stats": b"stats\n", "alerts": b"alerts\n", "config": b"config\r\n",
        "top": b"flows top\n", "top-5": b"flows top 5\n", "top-0": b"flows top 0\n",
        "top-big": b"flows top 1001\n", "top-junk": b"flows top 5x\n",
        "unknown": b"shutdown now\n", "empty": b"\n", "two-lines": b"stats\nalerts\n",
        "metrics-v4": b"127.0.0.1:9465", "metrics-v6": b"[::1]:9465",
        "metrics-not-loopback": b"192.0.2.1:9465", "long": b"x" * 300,
    }


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fuzz", "corpus")
    targets = {"parse": parse_seeds(), "pcap": pcap_seeds(), "pcapng": pcapng_seeds(),
               "erf": erf_seeds(), "ipfix": ipfix_seeds(), "config": config_seeds(),
               "asfile": asfile_seeds(), "control": control_seeds()}
    total = 0
    for target, seeds in targets.items():
        d = os.path.join(corpus, target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.unlink(os.path.join(d, f))
        for name, data in seeds.items():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
        total += len(seeds)
    print("%d seeds in %d corpora under %s" % (total, len(targets), corpus))


if __name__ == "__main__":
    main()
