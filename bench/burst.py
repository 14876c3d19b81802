#!/usr/bin/env python3
"""A burst of N simultaneous POST /execute on fresh connections (issue 19, item 8).

Usage: burst.py HOST PORT KEY N [SOURCES [CODE]]
SOURCES > 1 spreads the clients over that many loopback source addresses (127.0.0.2, ...), so
that the per-address connection limit is not what answers.
All threads start at once (a barrier), then each connects and sends its request. Prints one JSON object:
counts by status, how many 429/503 lacked Retry-After, transport errors (resets, timeouts) by
kind, the latency percentiles of all answers and of the 200s, and the outputs seen."""
import http.client
import json
import sys
import threading
import time

host, port, key, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sources = int(sys.argv[5]) if len(sys.argv) > 5 else 1
code = sys.argv[6] if len(sys.argv) > 6 else "print(1)"
body = json.dumps({"request": {"code": code, "runtime": "python"}})
barrier = threading.Barrier(n)
results = [None] * n


def one(i):
    barrier.wait()
    t0 = time.monotonic()
    src = ("127.0.0.%d" % (2 + i % sources), 0) if sources > 1 else None
    c = http.client.HTTPConnection(host, port, timeout=120, source_address=src)
    try:
        c.connect()
    except Exception as e:  # noqa: BLE001 - every failure is a finding
        results[i] = ("connect:" + type(e).__name__, 0, None, None)
        return
    try:
        c.request("POST", "/execute", body, {"Content-Type": "application/json", "Authorization": "Bearer " + key})
        r = c.getresponse()
        data = r.read()
        ms = (time.monotonic() - t0) * 1000
        out = None if r.status == 200 else data[:200].decode("utf-8", "replace")
        if r.status == 200:
            try:
                j = json.loads(data)
                out = "%s|%s" % (j.get("exitCode"), j.get("stdout"))
            except ValueError:
                out = "bad json"
        results[i] = (r.status, ms, r.getheader("Retry-After"), out)
    except Exception as e:  # noqa: BLE001
        results[i] = ("request:" + type(e).__name__, (time.monotonic() - t0) * 1000, None, None)
    finally:
        c.close()


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return round(v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))], 1)


threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
t0 = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = (time.monotonic() - t0) * 1000
status, no_retry, errors, outs, bodies = {}, 0, {}, {}, {}
lat_all, lat_ok = [], []
for s, ms, ra, out in results:
    if isinstance(s, str):
        errors[s] = errors.get(s, 0) + 1
        continue
    status[str(s)] = status.get(str(s), 0) + 1
    lat_all.append(ms)
    if s == 200:
        lat_ok.append(ms)
        outs[out] = outs.get(out, 0) + 1
    if s != 200:
        bodies.setdefault(str(s), {})
        bodies[str(s)][out] = bodies[str(s)].get(out, 0) + 1
    if s in (429, 503) and not ra:
        no_retry += 1
summary = {"n": n, "status": status, "busy_without_retry_after": no_retry, "transport_errors": errors,
           "outputs_200": outs, "bodies": bodies, "wall_ms": round(wall), "all_ms": {p: pct(lat_all, int(p[1:])) for p in ("p50", "p95", "p99")},
           "ok_ms": {p: pct(lat_ok, int(p[1:])) for p in ("p50", "p95", "p99")},
           "max_ms": round(max(lat_all), 1) if lat_all else None}
print(json.dumps(summary, sort_keys=True))
