#!/usr/bin/env python3
"""weir.alert.v1 messages checked against docs/alert.schema.json (python3-jsonschema).

The redispub unit test (tests/unit/test_redispub.c) writes every message it formats or reads
back from Redis to a file, one JSON text per line, and runs this script on it:

  redispub_test.py --schema docs/alert.schema.json MESSAGES

Checks: the schema is a valid JSON Schema for its own $schema draft; every line is strict JSON
(no NaN or Infinity, no duplicate keys) and validates; the identifiers agree with each other
(event_id = alert_id:seq, alert_id = fingerprint:run:episode, group_id = parent_alert_id or
alert_id), which a schema cannot say. Then the schema must reject broken copies of a valid
message, so a schema that accepts anything cannot pass. Exit status 0 only when all hold.
"""
import argparse
import copy
import json
import sys

import jsonschema


def strict_pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys in {keys}")
    return dict(pairs)


def no_constant(name):
    raise ValueError(f"{name} is not JSON")


def cross_check(m):
    """Relations between fields; returns a list of problems."""
    bad = []
    if m["event_id"] != f'{m["alert_id"]}:{m["seq"]}':
        bad.append("event_id is not alert_id:seq")
    if not m["alert_id"].startswith(m["fingerprint"] + ":"):
        bad.append("alert_id does not start with fingerprint:")
    want_group = m["parent_alert_id"] if m["parent_alert_id"] is not None else m["alert_id"]
    if m["group_id"] != want_group:
        bad.append("group_id is neither parent_alert_id nor alert_id")
    return bad


# Broken copies of a valid message; the schema must reject each.
MUTATIONS = [
    ("a field missing", lambda m: m.pop("event_id")),
    ("an unknown field", lambda m: m.update(extra=1)),
    ("wrong schema name", lambda m: m.update(schema="weir.alert.v2")),
    ("unknown event", lambda m: m.update(event="bogus")),
    ("unknown kind", lambda m: m.update(kind="rate_wobble")),
    ("score above 100", lambda m: m.update(score=101)),
    ("score not an integer", lambda m: m.update(score=50.5)),
    ("ratio as a string", lambda m: m.update(ratio="NaN")),
    ("time without ms", lambda m: m.update(started_at="2026-11-22T07:49:41Z")),
    ("time not UTC", lambda m: m.update(detected_at="2026-11-22T07:49:41.123+01:00")),
    ("bad fingerprint", lambda m: m.update(fingerprint="xyz")),
    ("negative delay", lambda m: m.update(detection_delay_s=-1)),
    ("threshold not a number", lambda m: m.update(thresholds={"warning": "0.5"})),
    ("raise with cleared_at",
     lambda m: m.update(event="raise", seq=0, cleared_at="2026-11-22T07:49:41.123Z")),
    ("raise with a reason", lambda m: m.update(event="raise", seq=0, reason="recovered")),
    ("raise with seq 1", lambda m: m.update(event="raise", seq=1, cleared_at=None, reason=None)),
    ("clear without cleared_at",
     lambda m: m.update(event="clear", seq=1, cleared_at=None, reason="recovered")),
    ("empty parent_alert_id", lambda m: m.update(parent_alert_id="")),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schema", required=True)
    ap.add_argument("messages")
    args = ap.parse_args()

    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    msgs, bad = [], 0
    with open(args.messages, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            where = f"{args.messages}:{n}"
            try:
                m = json.loads(line, object_pairs_hook=strict_pairs, parse_constant=no_constant)
            except ValueError as e:
                print(f"{where}: not strict JSON: {e}")
                bad += 1
                continue
            errors = sorted(validator.iter_errors(m), key=lambda e: list(e.path))
            for e in errors:
                print(f"{where}: {'/'.join(map(str, e.path)) or '(message)'}: {e.message}")
            problems = [] if errors else cross_check(m)
            for p in problems:
                print(f"{where}: {p}")
            if errors or problems:
                bad += 1
            else:
                msgs.append(m)

    loose = 0
    for base in [m for m in msgs if m["event"] == "update"][:1] + msgs[:1]:
        for what, mutate in MUTATIONS:
            m = copy.deepcopy(base)
            mutate(m)
            if validator.is_valid(m):
                print(f"schema accepts a message with {what}")
                loose += 1

    print(f"{len(msgs)} valid messages, {bad} invalid, {loose} broken copies accepted")
    return 0 if msgs and not bad and not loose else 1


if __name__ == "__main__":
    sys.exit(main())
