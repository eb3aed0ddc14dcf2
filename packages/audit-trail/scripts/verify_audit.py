#!/usr/bin/env python3
"""Verify a @beauvoir/audit-trail history: python3 verify_audit.py [--key-env NAME] FILE... (oldest first)."""
import hashlib, hmac, json, os, sys

def verify(files, key=None):
    seq, last_hash, uncovered, pruned = 0, None, None, None
    for index, path in enumerate(files):
        prev, lines = "genesis", open(path, "rb").read().split(b"\n")
        if lines[-1] != b"":
            sys.exit(f"BROKEN at seq {seq + 1}: {path} line {len(lines)} has no newline (a torn write)")
        if len(lines) == 1 and index < len(files) - 1:
            sys.exit(f"BROKEN at seq {seq + 1}: {path} is a rotated file with no record")
        for number, line in enumerate(lines[:-1], 1):
            try:
                rec = json.loads(line)
                tail = b',"hash":"' + rec["hash"].encode() + b'"' + (b',"hmac":"' + rec["hmac"].encode() + b'"' if "hmac" in rec else b"") + b"}"
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                sys.exit(f"BROKEN at seq {seq + 1}: {path} line {number} is not a record")
            body = line[: -len(tail)] + b"}" if line.endswith(tail) else None
            if index == 0 and number == 1 and isinstance(rec.get("seq"), int) and rec["seq"] > 1 and "previousSegmentHash" in rec:
                seq, last_hash = rec["seq"] - 1, rec["previousSegmentHash"]  # pruned: a checkpoint must name the removed file
                pruned = {"lastSeq": seq, "lastHash": last_hash}
            ok = body is not None and hashlib.sha256(body).hexdigest() == rec["hash"] and rec.get("prevHash") == prev and rec.get("seq") == seq + 1
            ok = ok and rec.get("previousSegmentHash") == (last_hash if prev == "genesis" else None)
            pruned = None if rec.get("phase") == "checkpoint" and pruned in rec.get("prunedSegments", []) else pruned
            switch = rec.get("phase") == "signing_started"
            ok = ok and (rec.get("signedFromSeq") == rec.get("seq") and "hmac" in rec if switch else "signedFromSeq" not in rec)
            if key and "hmac" in rec:
                ok = ok and hmac.compare_digest(hmac.new(key, body or b"", "sha256").hexdigest(), rec["hmac"])
                uncovered = None if switch else uncovered
            elif key and uncovered is None:
                uncovered = f"{seq + 1}: {path} line {number}"  # unsigned: fine only if a signing_started record follows
            if not ok:
                sys.exit(f"BROKEN at seq {pruned['lastSeq'] + 1}: the oldest file continues a removed one and no checkpoint record names it" if pruned else f"BROKEN at seq {seq + 1}: {path} line {number}")
            seq, prev, last_hash = rec["seq"], rec["hash"], rec["hash"]
    if pruned:
        sys.exit(f"BROKEN at seq {pruned['lastSeq'] + 1}: the oldest file continues a removed one and no checkpoint record names it")
    if uncovered:
        sys.exit(f"BROKEN at seq {uncovered} is unsigned and no signing_started record covers it")
    print(f"OK: {seq} records")

args = sys.argv[1:]
key = os.environ[args[1]].encode() if args[:1] == ["--key-env"] else None
verify(args[2:] if key else args, key)
