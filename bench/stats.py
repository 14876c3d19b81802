#!/usr/bin/env python3
"""Timing and statistics helper for bench/run.sh (standard library only).

  stats.py timeit OUT N [--append] [--gap MS] [--expect TEXT] -- CMD...
        run CMD N times (stdin /dev/null), write each wall time in ms to OUT, failures to OUT.fail
  stats.py jsontimings PREFIX N -- CMD...          run `isol8 run --json ...` N times; write the
        worker's timings to PREFIX.<field>.ms and the wall time to PREFIX.wall.ms
  stats.py table SPEC                               print the markdown result table

SPEC is a file of lines "kind|label|file|baseline-label" written by run.sh. kind: lat (file of
ms values), rate (file "runs/s ok failed wall_s"), rss (file of kB values), note (a section
heading; the third field is an optional paragraph), goal (label|row|condition, where condition
is "median<=X", "ratio<=X", "rate>=X" or "maxmb<X"). A baseline label names another row whose
median (for rate rows: rate) is the denominator of the ratio.
"""
import math
import os
import statistics
import subprocess
import sys
import time


def timeit(argv):
    out, n = argv[0], int(argv[1])
    rest = argv[2:]
    expect, mode, gap = None, "w", 0.0
    if rest and rest[0] == "--append":
        mode, rest = "a", rest[1:]
    if rest and rest[0] == "--gap":
        gap, rest = float(rest[1]) / 1e3, rest[2:]
    if rest and rest[0] == "--expect":
        expect, rest = rest[1].encode(), rest[2:]
    if rest and rest[0] == "--":
        rest = rest[1:]
    times, fails = [], []
    with open(os.devnull, "rb") as devnull:
        for i in range(n):
            if gap and i:
                time.sleep(gap)
            t0 = time.perf_counter()
            p = subprocess.run(rest, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            dt = (time.perf_counter() - t0) * 1e3
            if p.returncode != 0 or (expect is not None and p.stdout != expect):
                fails.append("run %d: exit %d stdout %r stderr %r" % (i, p.returncode, p.stdout[:200],
                                                                        p.stderr[-300:]))
                continue
            times.append(dt)
    with open(out, mode) as f:
        f.write("".join("%.3f\n" % t for t in times))
    if fails:
        with open(out + ".fail", mode) as f:
            f.write("\n".join(fails) + "\n")
        sys.stderr.write("bench: %s: %d of %d runs failed, first: %s\n" % (out, len(fails), n, fails[0]))
    return 0


def jsontimings(argv):
    import json
    prefix, n, rest = argv[0], int(argv[1]), argv[2:]
    if rest and rest[0] == "--":
        rest = rest[1:]
    series = {}
    with open(os.devnull, "rb") as devnull:
        for _ in range(n):
            t0 = time.perf_counter()
            p = subprocess.run(rest, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            dt = (time.perf_counter() - t0) * 1e3
            try:
                res = json.loads(p.stdout)
            except ValueError:
                continue
            if res.get("exitCode") != 0:
                continue
            series.setdefault("wall", []).append(dt)
            for k, v in (res.get("timings") or {}).items():
                if isinstance(v, (int, float)):
                    series.setdefault(k, []).append(float(v))
    for k, xs in series.items():
        with open("%s.%s.ms" % (prefix, k), "w") as f:
            f.write("".join("%.3f\n" % x for x in xs))
    return 0


def load(path):
    try:
        with open(path) as f:
            return [float(x) for x in f.read().split()]
    except OSError:
        return []


def nfail(path):
    try:
        with open(path + ".fail") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def pct(xs, p):
    """Nearest-rank percentile (no interpolation: with 5 samples p95 is the maximum)."""
    s = sorted(xs)
    k = max(1, math.ceil(p / 100.0 * len(s)))
    return s[k - 1]


def fmt(x):
    return "%.1f" % x if x < 100 else "%.0f" % x


def goal(rows, medians, target, cond):
    """(measured text, "yes"/"NO"/"-") for one goal line."""
    row = next((r for r in rows if r[1] == target and r[0] != "goal"), None)
    if row is None or target not in medians and row[0] != "rss":
        return ("no data", "-")
    kind, _, path, base = row
    what, limit = cond.replace("<=", "<").replace(">=", ">").replace("<", " < ").replace(">", " > ").split()[0::2]
    limit = float(limit)
    if what == "median":
        v = medians[target]
        return ("%s ms median" % fmt(v), "yes" if v <= limit else "NO")
    if what == "rate":
        v = medians[target]
        return ("%.1f runs/s" % v, "yes" if v >= limit else "NO")
    if what == "ratio":
        if base not in medians:
            return ("no baseline", "-")
        v = medians[target] / medians[base]
        return ("%.2fx (%s / %s ms)" % (v, fmt(medians[target]), fmt(medians[base])), "yes" if v <= limit else "NO")
    if what == "maxmb":
        xs = load(path)
        if not xs:
            return ("no data", "-")
        v = max(xs) / 1024.0
        return ("%.1f MB max" % v, "yes" if v < limit else "NO")
    return ("bad condition " + cond, "-")


def table(spec_path):
    rows = []
    with open(spec_path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append(line.split("|"))
    medians = {}
    for kind, label, path, _ in rows:
        xs = load(path)
        if kind == "lat" and xs:
            medians[label] = statistics.median(xs)
        elif kind == "rate" and xs:
            medians[label] = xs[0]
    out = [""]
    for kind, label, path, base in rows:
        if kind == "goal":
            if out[-1] == "" or not out[-1].startswith("|"):
                out.append("| goal | measured | met |")
                out.append("|---|---|---|")
            out.append("| %s | %s | %s |" % ((label,) + goal(rows, medians, path, base)))
            continue
        if kind == "note":
            out.append("")
            out.append("### " + label)
            out.append("")
            if path:
                out.append(path)
                out.append("")
            continue
        xs = load(path)
        fails = nfail(path)
        if kind == "lat":
            if out[-1] == "" or not out[-1].startswith("|"):
                out.append("| measurement | n | fail | min ms | median ms | p95 ms | max ms | ratio |")
                out.append("|---|---:|---:|---:|---:|---:|---:|---|")
            if not xs:
                out.append("| %s | 0 | %d | - | - | - | - | - |" % (label, fails))
                continue
            med = statistics.median(xs)
            ratio = "-"
            if base and base in medians and medians[base] > 0:
                ratio = "%.2fx %s" % (med / medians[base], base)
            out.append("| %s | %d | %d | %s | %s | %s | %s | %s |" % (
                label, len(xs), fails, fmt(min(xs)), fmt(med), fmt(pct(xs, 95)), fmt(max(xs)), ratio))
        elif kind == "rate":
            if out[-1] == "" or not out[-1].startswith("|"):
                out.append("| measurement | runs ok | fail | wall s | runs/s | ratio |")
                out.append("|---|---:|---:|---:|---:|---|")
            if len(xs) < 4:
                out.append("| %s | - | - | - | - | - |" % label)
                continue
            rate, ok, failed, wall = xs[0], int(xs[1]), int(xs[2]), xs[3]
            ratio = "-"
            if base and base in medians and medians[base] > 0:
                ratio = "%.2fx %s" % (rate / medians[base], base)
            out.append("| %s | %d | %d | %.2f | %.1f | %s |" % (label, ok, failed, wall, rate, ratio))
        elif kind == "rss":
            if out[-1] == "" or not out[-1].startswith("|"):
                out.append("| process | samples | VmRSS min MB | VmRSS median MB | VmRSS max MB | RssAnon max MB |")
                out.append("|---|---:|---:|---:|---:|---:|")
            if not xs:
                out.append("| %s | 0 | - | - | - | - |" % label)
                continue
            mb = [x / 1024.0 for x in xs]
            anon = load(path + ".anon")
            out.append("| %s | %d | %.1f | %.1f | %.1f | %s |" % (
                label, len(mb), min(mb), statistics.median(mb), max(mb),
                "%.1f" % (max(anon) / 1024.0) if anon else "-"))
    print("\n".join(out).strip("\n"))
    return 0


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, argv = sys.argv[1], sys.argv[2:]
    if cmd == "timeit":
        return timeit(argv)
    if cmd == "jsontimings":
        return jsontimings(argv)
    if cmd == "table":
        return table(argv[0])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
