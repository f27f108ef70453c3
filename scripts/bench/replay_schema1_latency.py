"""Replay of the schema-1 latency method (seconds resampled within each round, 1000 resamples,
percentile interval) on new A/A runs: off-again against off (replicate 0 only, as schema 1 had one
off cell per round). Prints how often its 95% interval contains 0."""
import json, math, random, sys, glob
random.seed(1)
Q = {"p50": 0.5, "p99": 0.99}

def stat(counts, q):
    total = sum(counts.values())
    target = max(1, math.ceil(q * total))
    cum = 0
    for v in sorted(counts):
        cum += counts[v]
        if cum >= target:
            return v / 1000.0

def merged(hists):
    out = {}
    for h in hists:
        for v, c in h:
            out[v] = out.get(v, 0) + c
    return out

def boot(cells, q, n=1000):
    reps = []
    for _ in range(n):
        hs = []
        for c in cells:
            secs = [s["latency_us"]["buckets"] for s in c["seconds"]]
            hs += [random.choice(secs) for _ in secs]
        reps.append(stat(merged(hs), q))
    return reps

res = {"p50": [0, 0], "p99": [0, 0]}
for f in sorted(glob.glob(sys.argv[1] + "/run-*/summary.json")):
    cells = json.load(open(f))["results"]["cells"]
    off = [c for c in cells if c["mode"] == "off" and c["replicate"] == 0]
    again = [c for c in cells if c["mode"] == "off-again"]
    for name, q in Q.items():
        point = stat(merged([c["latency"]["buckets"] for c in again]), q) - stat(merged([c["latency"]["buckets"] for c in off]), q)
        d = sorted(a - b for a, b in zip(boot(again, q), boot(off, q)))
        lo, hi = d[25], d[974]
        res[name][0] += lo <= 0 <= hi
        res[name][1] += 1
        print(f.split("/")[-2], name, f"{point:+.3f} [{lo:+.3f}, {hi:+.3f}]")
for k, (a, b) in res.items():
    print(f"{k}: old method's interval contains 0 in {a} of {b}")
