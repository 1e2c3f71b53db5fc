#!/usr/bin/env python3
"""Check a Saghat draw yourself, without trusting the server.

Download the draw's proof (the fund page's "verify this draw" view has a link, or
GET /api/loans/{id}/proof), then run:

    python3 verify_draw.py saghat-draw-proof-1405-09.json
    python3 verify_draw.py proof.json --commitment <the hash you saw before the draw>

It recomputes every step from the proof's inputs alone, exactly as docs/draw.md describes,
and says which step fails and why. Standard library only (Python 3.8 or newer). Exit status:
0 when the draw verifies, 1 when a step fails, 2 when the file cannot be read.
"""

import argparse
import hashlib
import json
import math
import sys

PROOF_VERSION = 1
UNITS = 100_000_000  # an amount's units: 10^-8 USDT
I64_MAX_AS_FLOAT = float(2**63)


def units(text):
    """An amount written as a decimal string ("20.00000000", "-3", "0.5") as integer units."""
    if text is None:
        return None
    text = str(text).strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() and not (whole == "" and fraction.isdigit()):
        raise ValueError("not an amount: %r" % text)
    if len(fraction) > 8 and set(fraction[8:]) - {"0"}:
        raise ValueError("more than 8 decimals: %r" % text)
    fraction = (fraction + "0" * 8)[:8]
    return sign * (int(whole or "0") * UNITS + int(fraction or "0"))


def to_float(amount_units):
    # As the server does: the units as a double, divided by 10^8.
    return float(amount_units) / float(UNITS)


def ln(amount_units):
    """ln of an amount in whole USDT; None for an amount <= 0."""
    if amount_units is None or amount_units <= 0:
        return None
    return math.log(to_float(amount_units))


def round_half_away(x):
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


UNLIMITED = "unlimited"


def score(m):
    """A participant's score: "unlimited" or integer points of 10^-8 (docs/draw.md)."""
    if m["last_payment_total"] is None:
        return UNLIMITED
    denominator_factors = [
        to_float(units(m["last_payment_total"])),
        float(m["repayment_count"]),
        ln(units(m["loans_received_total"])) or 0.0,
        float(m["loans_received_count"]),
        ln(units(m["loan_request"])) or 0.0,
    ]
    if any(f <= 0.0 for f in denominator_factors):
        return UNLIMITED
    numerator_factors = [
        ln(units(m["last_loan_amount"])) or 0.0,
        ln(units(m["balance"])) or 0.0,
        float(m["months_without_repayment"]),
    ]
    numerator = 1.0
    for f in numerator_factors:
        numerator *= max(f, 0.0)
    denominator = 1.0
    for f in denominator_factors:
        denominator *= f
    scaled = round_half_away(numerator / denominator * 1e8)
    if not math.isfinite(scaled) or scaled >= I64_MAX_AS_FLOAT:
        return UNLIMITED
    return max(int(scaled), 0)


def exclusion(m):
    """Why a member sits out, or None."""
    request, balance = units(m["loan_request"]), units(m["balance"])
    if m["has_active_loan"]:
        return "active_loan"
    if request <= 0:
        return "no_request"
    if not m["is_main"] and request > balance:
        return "request_above_balance"
    return None


def rank(s):
    # "unlimited" outranks every finite score.
    return (1, 0) if s == UNLIMITED else (0, s)


def published_score(point):
    return UNLIMITED if point == UNLIMITED else units(point)


def canonical_inputs(year, month, cash, participants, pool):
    lines = ["saghat-draw 1", "month %d/%02d" % (year, month), "available_cash %d" % cash]
    for user_id, s, request in sorted(participants):
        lines.append("participant %d %s %d" % (user_id, s, request))
    lines.append("pool " + ",".join(str(i) for i in sorted(pool)))
    return "".join(line + "\n" for line in lines)


def choose(seed, digest, n):
    """The index into a pool of n, and the numbers drawn: rejection sampling, no modulo bias."""
    limit = 2**64 - (2**64 % n)
    draws = []
    counter = 0
    while True:
        block = hashlib.sha256(seed + digest + counter.to_bytes(4, "big")).digest()
        x = int.from_bytes(block[:8], "big")
        accepted = x < limit
        draws.append({"counter": counter, "value": str(x), "accepted": accepted})
        if accepted:
            return x % n, draws
        counter += 1


class Failure(Exception):
    def __init__(self, step, reason):
        super().__init__(reason)
        self.step = step
        self.reason = reason


def verify(proof, expected_commitment=None, say=print):
    """Checks every step, printing each; raises Failure at the first that fails."""

    def ok(step, what):
        say("  ok   %-12s %s" % (step, what))

    if proof.get("version") != PROOF_VERSION:
        raise Failure("format", "proof version %r (this script reads %d)" % (proof.get("version"), PROOF_VERSION))
    ok("format", "proof version %d" % PROOF_VERSION)

    try:
        year_text, month_text = proof["month"].split("/")
        year, month = int(year_text), int(month_text)
        seed = bytes.fromhex(proof["seed"])
        assert len(seed) == 32 and 1 <= month <= 12
    except (ValueError, AssertionError, AttributeError):
        raise Failure("commitment", "the month or the seed cannot be read")
    commitment = hashlib.sha256(seed + year.to_bytes(2, "big") + bytes([month])).hexdigest()
    if commitment != proof["commitment"].lower():
        raise Failure("commitment", "SHA-256 of the seed, the year and the month is %s, not the commitment %s"
                      % (commitment, proof["commitment"]))
    ok("commitment", "SHA-256(seed | %d | %d) = %s" % (year, month, commitment))

    if expected_commitment is not None:
        if expected_commitment.strip().lower() != commitment:
            raise Failure("published", "the commitment you saw, %s, is not this proof's %s"
                          % (expected_commitment, commitment))
        ok("published", "the commitment you saw before the draw")

    members = proof["members"]
    cash = units(proof["available_cash"])
    out, took_part = {}, []
    for m in members:
        why = exclusion(m)
        if why:
            out[m["user_id"]] = why
        else:
            took_part.append(m)
    published_out = {n["user_id"]: n["code"] for n in proof["not_participated"]}
    for user_id in sorted(set(out) | set(published_out)):
        if out.get(user_id) != published_out.get(user_id):
            raise Failure("eligibility", "member %d sits out (%s) in one and not the other"
                          % (user_id, out.get(user_id) or published_out.get(user_id)))
    ids = sorted(m["user_id"] for m in took_part)
    published_ids = sorted(p["user_id"] for p in proof["participated"])
    if ids != published_ids:
        raise Failure("eligibility", "the participants are %s, not the published %s" % (ids, published_ids))
    ok("eligibility", "%d take part, %d sit out" % (len(ids), len(out)))

    scores = {m["user_id"]: score(m) for m in took_part}
    for p in proof["participated"]:
        if scores[p["user_id"]] != published_score(p["point"]):
            raise Failure("scores", "member %d's score is %s, not the published %s"
                          % (p["user_id"], scores[p["user_id"]], p["point"]))
    ok("scores", "every participant's score recomputed")

    fundable = [m for m in took_part if units(m["loan_request"]) <= cash]
    pool = []
    if fundable:
        best = max(rank(scores[m["user_id"]]) for m in fundable)
        pool = sorted(m["user_id"] for m in fundable if rank(scores[m["user_id"]]) == best)
    if pool != proof["random_pool"]:
        raise Failure("pool", "the pool is %s, not the published %s" % (pool, proof["random_pool"]))
    ok("pool", "%s" % pool)

    participants = [(m["user_id"], scores[m["user_id"]], units(m["loan_request"])) for m in took_part]
    inputs = canonical_inputs(year, month, cash, participants, pool)
    if inputs != proof["inputs"]:
        raise Failure("inputs", "the canonical inputs differ from the published ones")
    digest = hashlib.sha256(inputs.encode("utf-8")).hexdigest()
    if digest != proof["inputs_digest"]:
        raise Failure("inputs", "the inputs' SHA-256 is %s, not %s" % (digest, proof["inputs_digest"]))
    ok("inputs", "SHA-256 = %s" % digest)

    winner, draws = None, []
    if pool:
        index, draws = choose(seed, bytes.fromhex(digest), len(pool))
        winner = pool[index]
    if draws != proof["draws"]:
        raise Failure("choice", "the numbers drawn from the seed differ from the published ones")
    if winner != proof["selected"]:
        raise Failure("choice", "the seed picks member %s, not the published %s"
                      % (winner if winner is not None else "none", proof["selected"] if proof["selected"] is not None else "none"))
    request = next((units(m["loan_request"]) for m in members if m["user_id"] == winner), None)
    if request != units(proof["amount"]):
        raise Failure("choice", "the winner asked for %s, not the published amount %s" % (request, proof["amount"]))
    if winner is None:
        ok("choice", "nobody could be funded: no winner")
    else:
        ok("choice", "draw %d accepted: member %d wins %s" % (len(draws) - 1, winner, proof["amount"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Verify a Saghat draw from its proof.")
    parser.add_argument("proof", help="the proof file (JSON)")
    parser.add_argument("--commitment", help="the commitment you saw published before the draw")
    args = parser.parse_args(argv)
    try:
        with open(args.proof, encoding="utf-8") as f:
            proof = json.load(f)
    except (OSError, ValueError) as e:
        print("cannot read %s: %s" % (args.proof, e), file=sys.stderr)
        return 2
    print("verifying the draw of %s (loan %s)" % (proof.get("month"), proof.get("loan_id")))
    try:
        verify(proof, args.commitment)
    except Failure as failure:
        print("  FAIL %-12s %s" % (failure.step, failure.reason))
        print("the draw does NOT verify: %s" % failure.reason)
        return 1
    except (KeyError, TypeError, ValueError) as e:
        print("  FAIL %-12s the proof is malformed: %r" % ("format", e))
        print("the draw does NOT verify: the proof is malformed")
        return 1
    print("the draw verifies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
