"""A minimal IPFIX-over-UDP collector (RFC 7011: template sets and data sets) that measures
how late records arrive. Used by bench/soak.py and bench/loss_matrix.py, each running it in a
process of its own:

    python3 bench/ipfixlate.py PORT OUT [--first-only]

It receives until SIGTERM and writes one line per record: arrival minus flowStart and minus
flowEnd (ms), and the end reason. With --first-only it decodes only the first record of each
data set (the records of one message leave together), so it keeps up with a fast exporter.
"""
import signal
import socket
import struct
import sys
import time

IDLE, ACTIVE = 1, 2  # flowEndReason values


def collect(port, out, first_only=False):
    """Receives IPFIX over UDP until SIGTERM and writes the lines described above to out."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.2)
    templates = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "w") as fh:
        while not stop:
            try:
                msg = s.recv(65536)
            except socket.timeout:
                continue
            now_ms = time.time() * 1000.0
            for start, end, reason in records(msg, templates, first_only):
                fh.write("%.1f %.1f %d\n" % (now_ms - start, now_ms - end, reason))


def records(msg, templates, first_only):
    """(flowStart, flowEnd, end reason) of each flow record of one IPFIX message that has both
    times (ms; reason 0 when absent), learning the message's templates into templates; with
    first_only, of the first record of each data set only. A minimal RFC 7011 reader."""
    off = 16
    while off + 4 <= len(msg):
        sid, slen = struct.unpack_from("!HH", msg, off)
        body, end = off + 4, off + slen
        if slen < 4:
            break
        if sid == 2:
            while body + 4 <= end:
                tid, n = struct.unpack_from("!HH", msg, body)
                body += 4
                fields = []
                for _ in range(n):
                    ie, ln = struct.unpack_from("!HH", msg, body)
                    body += 4
                    if ie & 0x8000:
                        body += 4
                    fields.append((ie & 0x7FFF, ln))
                templates[tid] = fields
        elif sid >= 256 and sid in templates:
            fields = templates[sid]
            size = sum(ln for _, ln in fields)
            while body + size <= end:
                rec, p = {}, body
                for ie, ln in fields:
                    if ie in (152, 153, 136):
                        rec[ie] = int.from_bytes(msg[p:p + ln], "big")
                    p += ln
                body += size
                if 153 in rec and 152 in rec:
                    yield rec[152], rec[153], rec.get(136, 0)
                if first_only:
                    break
        off = end


def lateness(path, idle_s, active_s):
    """Lateness (ms) of each idle- or active-ended record in a collect() file: arrival minus
    the moment it was due (flowEnd + idle timeout, flowStart + active timeout), sorted, and the
    count of records that ended otherwise."""
    late, other = [], 0
    with open(path) as fh:
        for line in fh:
            since_start, since_end, reason = line.split()
            if int(reason) == IDLE:
                late.append(float(since_end) - idle_s * 1000.0)
            elif int(reason) == ACTIVE:
                late.append(float(since_start) - active_s * 1000.0)
            else:
                other += 1
    late.sort()
    return late, other


def percentile(xs, q):
    """The q-quantile (0..1) of a sorted list, by rank; NaN for an empty list."""
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


if __name__ == "__main__":
    collect(int(sys.argv[1]), sys.argv[2], "--first-only" in sys.argv[3:])
