#!/usr/bin/env python3
"""Verify a @beauvoir/audit-trail history: python3 verify_audit.py [--key-env NAME] FILE... (oldest first)."""
import hashlib, hmac, json, os, sys

def verify(files, key=None):
    seq, last_hash, signed = 0, None, False
    for path in files:
        prev = "genesis"
        for number, line in enumerate(open(path, "rb").read().split(b"\n")[:-1], 1):
            try:
                rec = json.loads(line)
                tail = b',"hash":"' + rec["hash"].encode() + b'"' + (b',"hmac":"' + rec["hmac"].encode() + b'"' if "hmac" in rec else b"") + b"}"
            except (ValueError, KeyError, TypeError, AttributeError):
                sys.exit(f"BROKEN at seq {seq + 1}: {path} line {number} is not a record")
            body = line[: -len(tail)] + b"}" if line.endswith(tail) else None
            ok = body is not None and hashlib.sha256(body).hexdigest() == rec["hash"] and rec.get("prevHash") == prev and rec.get("seq") == seq + 1
            ok = ok and rec.get("previousSegmentHash") == (last_hash if prev == "genesis" else None)
            if key and "hmac" in rec:
                ok, signed = ok and hmac.compare_digest(hmac.new(key, body or b"", "sha256").hexdigest(), rec["hmac"]), True
            elif key and signed:
                ok = False  # an unsigned record after signed ones: the chain was rewritten without the key
            if not ok:
                sys.exit(f"BROKEN at seq {seq + 1}: {path} line {number}")
            seq, prev, last_hash = rec["seq"], rec["hash"], rec["hash"]
    print(f"OK: {seq} records")

args = sys.argv[1:]
key = os.environ[args[1]].encode() if args[:1] == ["--key-env"] else None
verify(args[2:] if key else args, key)
