#!/usr/bin/env python3
"""NAB scoring of weir's detector on the labelled series in ../shared/timeseries/nab.

Each series goes through bench/detect_replay (weir's detect_series_update(), one 5-minute
sample per bin); every raise is a detection at its detected_at. The score follows NAB's
rules (Lavin and Ahmad, ICMLA 2015): the first 15 % of a file is probationary (detections
there are ignored); the first detection in a window is a true positive worth
A_TP * sigmoid(position), earlier in the window scoring higher; later detections in the same
window count nothing; a detection outside every window is a false positive worth
A_FP * sigmoid(distance after the preceding window's end) (-A_FP before any window); a window
with no detection costs A_FN. Raw scores are normalised per profile between the null
detector (no detections: 0) and the perfect one (every window at its start: 100).

Usage: score_nab.py [--replay build/bench/detect_replay] [--nab ../shared/timeseries/nab]
                    [KEY=VALUE ...]   (detector parameters; defaults below)
"""
import argparse
import csv
import datetime
import json
import math
import os
import subprocess
import sys

PROFILES = {"standard": (1.0, 0.11, 1.0), "reward_low_FP": (1.0, 0.22, 1.0),
            "reward_low_FN": (1.0, 0.11, 2.0)}
# The brief's defaults are for per-second series; these 5-minute series get the same rules on
# their own time scale: a one-hour baseline half-life, warm-up over the probationary period.
DEFAULTS = ["baseline_half_life_s=3600", "min_window_count=0", "max_window_s=300",
            "update_s=3600", "rebaseline_s=21600", "flap_window_s=21600", "gap_s=1800",
            "clear_drop_s=900", "clear_surge_s=900"]


def epoch(text):
    text = text.split(".")[0]
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def sigmoid(y):
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def score_file(times, windows, detections, a_tp, a_fp, a_fn):
    """NAB's scoring of one file: times are the rows' timestamps (indexes matter)."""
    n = len(times)
    index = {t: i for i, t in enumerate(times)}
    prob = int(math.floor(0.15 * n))
    wins = [(index[min(times, key=lambda t: abs(t - a))], index[min(times, key=lambda t: abs(t - b))])
            for a, b in windows]
    score, hit = 0.0, [False] * len(wins)
    for d in sorted(detections):
        i = index.get(d)
        if i is None:
            i = min(range(n), key=lambda k: abs(times[k] - d))
        if i < prob:
            continue
        inside = [w for w, (a, b) in enumerate(wins) if a <= i <= b]
        if inside:
            w = inside[0]
            if not hit[w]:
                a, b = wins[w]
                hit[w] = True
                score += a_tp * sigmoid((i - b) / float(b - a + 1))
            continue
        before = [(a, b) for a, b in wins if b < i]
        if before:
            a, b = before[-1]
            score += a_fp * sigmoid((i - b) / float(b - a + 1))
        else:
            score += -a_fp
    score -= a_fn * hit.count(False)
    perfect = sum(a_tp * sigmoid((a - b) / float(b - a + 1)) for a, b in wins)
    null = -a_fn * len(wins)
    return score, null, perfect


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--replay", default=os.path.join(here, "..", "build", "bench",
                                                     "detect_replay"))
    ap.add_argument("--nab", default=os.path.join(here, "..", "..", "shared", "timeseries",
                                                  "nab"))
    ap.add_argument("params", nargs="*")
    a = ap.parse_args()
    windows = json.load(open(os.path.join(a.nab, "labels", "combined_windows.json")))
    files = []
    print("file, rows, windows, raises (after probation), windows hit")
    for name, wins in sorted(windows.items()):
        rows = list(csv.DictReader(open(os.path.join(a.nab, name))))
        times = [epoch(r["timestamp"]) for r in rows]
        prob_end = times[int(math.floor(0.15 * len(times)))]
        # warm-up: the probationary period, within the detector's bound (16 h)
        params = DEFAULTS + ["warmup_s=%d" % min(prob_end - times[0], 59000)] + a.params
        feed = "".join("%d %s\n" % (t, r["value"]) for t, r in zip(times, rows))
        out = subprocess.run([a.replay, "300"] + params, input=feed, capture_output=True,
                             text=True, check=True).stdout
        # (detected_at, score) of every raise
        raises = [(float(l.split()[3]), float(l.split()[7])) for l in out.splitlines()
                  if l.startswith("raise ")]
        wspan = [(epoch(s), epoch(e)) for s, e in wins]
        hit = sum(1 for s, e in wspan if any(s <= d <= e for d, _ in raises))
        print("  %s, %d, %d, %d, %d" % (name, len(rows), len(wins),
                                         sum(1 for d, _ in raises if d >= prob_end), hit))
        files.append((times, wspan, raises))

    def normalised(profile, threshold):
        s = null = perfect = 0.0
        for times, wspan, raises in files:
            r = score_file(times, wspan, [d for d, sc in raises if sc >= threshold],
                           *PROFILES[profile])
            s, null, perfect = s + r[0], null + r[1], perfect + r[2]
        return 100.0 * (s - null) / (perfect - null)

    # NAB optimises each detector's threshold on its anomaly score once per profile; here the
    # anomaly score is the raise's score (0..100). Threshold 0 counts every raise.
    cuts = sorted({0.0} | {sc for _, _, raises in files for _, sc in raises})
    print("NAB score (0 = no detections, 100 = perfect):")
    print("  %-14s %13s %22s" % ("profile", "every raise", "score >= best threshold"))
    for p in PROFILES:
        best = max(cuts, key=lambda c: (normalised(p, c), -c))
        print("  %-14s %13.1f %15.1f (>= %.1f)" % (p, normalised(p, 0.0), normalised(p, best),
                                                 best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
