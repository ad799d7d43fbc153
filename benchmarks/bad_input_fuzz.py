"""Fuzz the public API with kinds of bad input and count how each call ends (issue #30).

    NUMBA_NUM_THREADS=2 python benchmarks/bad_input_fuzz.py [-v] [--kind KIND]

Every public function registered in ``tests/bad_input_registry.py`` is called once valid (that
call must work) and then with each bad value of every kind its signature takes (complex data, a
dtype other than float32/float64, None or another object as an operand, NaN/inf, an empty batch,
a non-integer size, a bad seed, a wrong target), plus hand-made calls for the kinds that need one
(a NaN loss in ``layers.fit``, IDX files, t-SNE's sample count, precomputed distances, memory).
Each call is classified clear / unclear / silent / crash (see the registry's docstring) and the
counts are printed per kind. Target: 0 silent, at most 2% unclear.
"""
import argparse
import collections
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]  # benchmarks/layers.py is not `layers`
sys.path[:0] = [os.path.join(_HERE, "..", "tests"), os.path.join(_HERE, "..")]

import bad_input_registry as reg  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="print every call that is not clear")
    ap.add_argument("--kind", help="only this kind")
    args = ap.parse_args()
    t0 = time.perf_counter()
    broken = []
    for qn, (fn, base) in reg.BASE.items():
        if qn in reg.BIG:
            continue
        outcome, msg = reg.classify(lambda: fn(**base), qn, must_accept=True)
        if outcome != "clear":
            broken.append((qn, msg))
    counts = collections.defaultdict(collections.Counter)
    bad = []
    for kind, case, call, name, must_accept in reg.cases():
        if args.kind and kind != args.kind:
            continue
        outcome, msg = reg.classify(call, name, must_accept)
        counts[kind][outcome] += 1
        if outcome != "clear":
            bad.append((kind, outcome, case, msg))
    print(f"{'kind':14s} {'calls':>6s} {'clear':>6s} {'unclear':>8s} {'silent':>7s} {'crash':>6s}")
    total = collections.Counter()
    for kind in sorted(counts):
        c = counts[kind]
        total.update(c)
        print(f"{kind:14s} {sum(c.values()):6d} {c['clear']:6d} {c['unclear']:8d} {c['silent']:7d} {c['crash']:6d}")
    n = sum(total.values())
    print(f"{'TOTAL':14s} {n:6d} {total['clear']:6d} {total['unclear']:8d} {total['silent']:7d} {total['crash']:6d}"
          f"   unclear {100 * total['unclear'] / max(n, 1):.1f}%   ({time.perf_counter() - t0:.0f} s)")
    missing = reg.public_functions_missing_a_base_call()
    if missing:
        print("public functions taking a walked kind but without a base call:", ", ".join(missing))
    for qn, msg in broken:
        print(f"BASE CALL FAILS {qn}: {msg[:200]}")
    if args.verbose:
        for kind, outcome, case, msg in bad:
            print(f"[{kind}] {outcome:8s} {case}: {msg.splitlines()[0][:200] if msg else ''}")


if __name__ == "__main__":
    main()
