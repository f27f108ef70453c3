#!/usr/bin/env python3
"""Summaries for scripts/bench/verdicts.sh (Python 3.11+, standard library only).

verdicts.sh runs tracebench and writes a manifest (TSV with a header line) of what it ran; this
script reads the manifest and the runs' summary.json files and prints a Markdown report to
stdout. Exit status: 0 when the check's pass criterion is met, 1 when it is not (or runs broke,
so it cannot be judged), 2 on a usage or input error.

    summarize.py aa       MANIFEST    A/A: does off-again's interval contain 0, does anything fail
    summarize.py stable   MANIFEST    does any budget pass in one run and fail in another
    summarize.py sharp    MANIFEST    does slow's p50 budget fail in every run
    summarize.py compare  MANIFEST    do A/A pairs compare clean, does the delayed candidate regress
    summarize.py delayed-scenario CI_TOML OUT_TOML
                                      write ci.toml's copy whose `on` mode has DEMO_EXTRA_DELAY_MS=2
    summarize.py ports    SCENARIO    exit 1 if something already listens on the scenario's ports

Run manifest columns: run, seed, rc, seconds, dir (dir holds summary.json).
Compare manifest columns: kind (pair|delayed), index, base_rc, cand_rc, cmp_rc, seconds,
base_dir, cand_dir, cmp_out (compare's stdout).

summary.json fields used (README "Run directory and summary.json"): results.seed,
analysis.outcome, analysis.budgets[] {mode, rate, budget {kind, percentile|service}, limit,
overhead {value, low, high} | null, verdict, note}, analysis.noise_floor[] {rate, budget,
estimate, verdict}. Anything missing is reported as "-", never guessed.

The report header takes BENCH_COMMAND, BENCH_STARTED and BENCH_SCENARIO from the environment
(verdicts.sh sets them).
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

NORMAL_RUN_EXITS = {0, 1, 3}  # pass, a budget failed, inconclusive
VERDICTS = ("pass", "inconclusive", "fail")


class InputError(Exception):
    pass


# ---------------------------------------------------------------- reading


def read_manifest(path: str) -> list[dict]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f, delimiter="\t"))
    except OSError as e:
        raise InputError(f"cannot read manifest {path}: {e}") from e


def load_summary(run_dir: str) -> dict | None:
    """The run's summary.json, or None when the run left none (or an unreadable one)."""
    path = Path(run_dir) / "summary.json"
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def budget_label(budget: dict) -> str:
    """`latency p50`, `cpu gateway`, `memory auth`, `trace_volume api-gateway`, `errors`."""
    kind = str(budget.get("kind", "?"))
    rest = [str(v) for k, v in sorted(budget.items()) if k != "kind"]
    return " ".join([kind, *rest])


def fmt_num(x, digits: int = 3, signed: bool = True) -> str:
    """A figure: signed (an overhead) or plain (a limit, a width), trailing zeros kept short."""
    if x is None:
        return "-"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_rate(rate) -> str:
    return "-" if rate is None else f"{float(rate):g}"


def rate_key(rate: str) -> float:
    try:
        return float(rate)
    except ValueError:
        return float("inf")


def fmt_interval(ov: dict | None, digits: int = 3) -> str:
    if not ov:
        return "no interval"
    try:
        return f"{ov['value']:+.{digits}f} [{ov['low']:+.{digits}f}, {ov['high']:+.{digits}f}]"
    except (KeyError, TypeError, ValueError):
        return "malformed"


def contains_zero(ov: dict | None) -> bool | None:
    if not ov:
        return None
    try:
        return float(ov["low"]) <= 0.0 <= float(ov["high"])
    except (KeyError, TypeError, ValueError):
        return None


def fmt_secs(s) -> str:
    try:
        s = int(s)
    except (TypeError, ValueError):
        return "-"
    return f"{s // 60}m {s % 60:02d}s"


def pct(x: int, y: int) -> str:
    return f"{100.0 * x / y:.1f}%" if y else "n/a"


def table(header: list[str], rows: list[list], align: str | None = None) -> str:
    out = ["| " + " | ".join(header) + " |"]
    out.append("| " + " | ".join(align or ["---"] * len(header)) + " |")
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


def header(title: str) -> list[str]:
    lines = [f"# {title}", ""]
    git = "-"
    try:
        here = Path(__file__).resolve().parent
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(here), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10)
        if rev.returncode == 0:
            git = rev.stdout.strip() + (" (src/ modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "-"
    facts = [
        ("command", f"`{os.environ.get('BENCH_COMMAND', '-')}`"),
        ("scenario", f"`{os.environ.get('BENCH_SCENARIO', '-')}`"),
        ("started (UTC)", os.environ.get("BENCH_STARTED", "-")),
        ("commit", git),
        ("cores", os.cpu_count()),
        ("load average 1/5/15 min at the end", load),
    ]
    lines += [f"- {k}: {v}" for k, v in facts]
    lines.append("")
    return lines


def run_status(row: dict, summary: dict | None) -> str:
    rc = int(row["rc"])
    if rc not in NORMAL_RUN_EXITS:
        return f"broken (exit {rc})"
    if summary is None:
        return f"exit {rc} but no readable summary.json"
    return "ok"


def load_runs(manifest: str):
    """[(row, summary-or-None, status)], and the number of usable runs."""
    runs = []
    for row in read_manifest(manifest):
        summary = load_summary(row["dir"])
        runs.append((row, summary, run_status(row, summary)))
    return runs


def runs_table(runs, extra_header: list[str], extra) -> str:
    rows = []
    for row, summary, status in runs:
        seed = (summary or {}).get("results", {}).get("seed", row.get("seed") or "scenario's")
        outcome = (summary or {}).get("analysis", {}).get("outcome", "-")
        rows.append([row["run"], seed, row["rc"], outcome, fmt_secs(row.get("seconds")), status,
                     *extra(summary)])
    return table(["run", "seed", "exit", "outcome", "wall time", "status", *extra_header], rows)


def budgets_of(summary: dict | None) -> list[dict]:
    if not summary:
        return []
    return summary.get("analysis", {}).get("budgets", []) or []


def broken_note(runs) -> tuple[int, list[str]]:
    broken = [(r, s) for r, _, s in runs if s != "ok"]
    lines = []
    if broken:
        lines.append(f"**{len(broken)} of {len(runs)} runs broke or left no summary**: "
                     + "; ".join(f"run {r['run']}: {s} (log {r['dir']}.log)" for r, s in broken)
                     + ". Figures below cover the other runs only.")
        lines.append("")
    return len(broken), lines


def criterion(text: str, problems: list[str]) -> str:
    """The verdict line: MET when there are no problems, else NOT MET and why."""
    if not problems:
        return f"**Criterion MET**: {text}."
    return f"**Criterion NOT MET**: {text}. Not met because: " + "; ".join(problems) + "."


# ---------------------------------------------------------------- aa


def cmd_aa(manifest: str) -> int:
    runs = load_runs(manifest)
    out = header("A/A check: `off-again` (exactly `off`'s environment) against `off`")
    n_broken, notes = broken_note(runs)
    out += notes

    mode = "off-again"
    total = Counter()            # contains, nulls, fails, n
    per_kind = defaultdict(Counter)
    per_label = defaultdict(lambda: {"c": Counter(), "values": [], "widths": [], "limit": None})
    seen_mode = False

    def per_run(summary):
        c = Counter()
        for b in budgets_of(summary):
            if b.get("mode") != mode or (b.get("budget") or {}).get("kind") == "trace_volume":
                continue
            c["n"] += 1
            z = contains_zero(b.get("overhead"))
            c["contains"] += z is True
            c["fail"] += b.get("verdict") == "fail"
        return [f"{c['contains']} of {c['n']}", c["fail"]]

    for row, summary, status in runs:
        if status != "ok":
            continue
        for b in budgets_of(summary):
            if b.get("mode") != mode:
                continue
            seen_mode = True
            budget = b.get("budget") or {}
            kind = budget.get("kind", "?")
            if kind == "trace_volume":
                continue  # a ratio observed/expected, not a difference: 0 is not "no effect"
            ov = b.get("overhead")
            z = contains_zero(ov)
            verdict = b.get("verdict")
            for c in (total, per_kind[kind]):
                c["n"] += 1
                c["contains"] += z is True
                c["null"] += z is None
                c["fail"] += verdict == "fail"
                c[f"v:{verdict}"] += 1
            key = (fmt_rate(b.get("rate")), budget_label(budget))
            entry = per_label[key]
            entry["c"]["n"] += 1
            entry["c"]["contains"] += z is True
            entry["c"]["fail"] += verdict == "fail"
            entry["c"][f"v:{verdict}"] += 1
            entry["limit"] = b.get("limit")
            if ov and z is not None:
                entry["values"].append(float(ov["value"]))
                entry["widths"].append(float(ov["high"]) - float(ov["low"]))

    x, y, f = total["contains"], total["n"], total["fail"]
    out.append("## Runs")
    out.append("")
    out.append(runs_table(runs, [f"{mode}: contains 0", f"{mode}: fails"], per_run))
    out.append("")
    out.append("## Per budget kind (`off-again`, trace volume excluded)")
    out.append("")
    rows = []
    for kind in sorted(per_kind):
        c = per_kind[kind]
        rows.append([kind, c["n"], f"{c['contains']} ({pct(c['contains'], c['n'])})", c["null"],
                     c["v:pass"], c["v:inconclusive"], c["fail"]])
    rows.append(["**all**", y, f"{x} ({pct(x, y)})", total["null"], total["v:pass"],
                 total["v:inconclusive"], f])
    out.append(table(["kind", "budgets", "interval contains 0", "no interval", "pass",
                      "inconclusive", "fail"], rows))
    out.append("")
    out.append("## Per budget (`off-again`)")
    out.append("")
    rows = []
    for (rate, label), e in sorted(per_label.items(), key=lambda kv: (rate_key(kv[0][0]), kv[0][1])):
        c = e["c"]
        med = statistics.median(e["values"]) if e["values"] else None
        width = statistics.median(e["widths"]) if e["widths"] else None
        rows.append([rate, label, f"{c['contains']} of {c['n']}", c["v:pass"],
                     c["v:inconclusive"], c["fail"], fmt_num(med), fmt_num(width, signed=False),
                     fmt_num(e["limit"], signed=False)])
    out.append(table(["rate", "budget", "contains 0", "pass", "inconclusive", "fail",
                      "median overhead", "median CI width", "limit"], rows))
    out.append("")
    out.append("An interval that is missing (overhead null) counts in Y but not in X. Units as in "
               "summary.json: ms (latency), pp of one core (cpu), MB (memory), percentage points "
               "(errors).")
    out.append("")

    # For context: verdict counts of every mode, and the noise floor's own verdicts.
    ctx = defaultdict(Counter)
    nf = Counter()
    for row, summary, status in runs:
        if status != "ok":
            continue
        for b in budgets_of(summary):
            ctx[b.get("mode", "?")][b.get("verdict", "?")] += 1
        for n in (summary.get("analysis", {}).get("noise_floor") or []):
            nf[n.get("verdict", "?")] += 1
    out.append("## Context: verdicts of every mode (all budgets, trace volume included)")
    out.append("")
    out.append(table(["mode", "pass", "inconclusive", "fail"],
                     [[m, c["pass"], c["inconclusive"], c["fail"]] for m, c in sorted(ctx.items())]
                     + [["noise floor (the baseline's two cells per round)", nf["pass"], nf["inconclusive"],
                         nf["fail"]]]))
    out.append("")

    out.append("## Result")
    out.append("")
    out.append(f"contains 0 in {x} of {y} budgets ({pct(x, y)}), fails: {f}")
    out.append("")
    problems = []
    if not seen_mode or not y:
        problems.append("no budget of mode off-again found in any summary")
    elif x < 0.9 * y:
        problems.append(f"intervals contain 0 in only {pct(x, y)}")
    if f:
        problems.append(f"{f} off-again budgets fail")
    if n_broken:
        problems.append(f"{n_broken} runs broke")
    out.append(criterion("off-again's intervals contain 0 in >= 90% of its budgets (trace volume "
                         "excluded), none fails, every run complete", problems))
    print("\n".join(out))
    return 1 if problems else 0


# ---------------------------------------------------------------- stable


def cmd_stable(manifest: str) -> int:
    runs = load_runs(manifest)
    out = header("Stability check: verdicts of the same scenario over repeated runs")
    n_broken, notes = broken_note(runs)
    out += notes
    n_ok = sum(1 for _, _, s in runs if s == "ok")

    verdicts = defaultdict(list)     # (mode, rate, label) -> [verdict per run]
    values = defaultdict(list)
    for row, summary, status in runs:
        if status != "ok":
            continue
        for b in budgets_of(summary):
            key = (b.get("mode", "?"), fmt_rate(b.get("rate")), budget_label(b.get("budget") or {}))
            verdicts[key].append(b.get("verdict", "?"))
            ov = b.get("overhead")
            if ov and contains_zero(ov) is not None:
                values[key].append(float(ov["value"]))

    def per_run(summary):
        c = Counter(b.get("verdict") for b in budgets_of(summary))
        return [c["pass"], c["inconclusive"], c["fail"]]

    out.append("## Runs")
    out.append("")
    out.append(runs_table(runs, ["pass", "inconclusive", "fail"], per_run))
    out.append("")

    flips = [k for k, v in verdicts.items() if "pass" in v and "fail" in v]
    rows = []
    for key in sorted(verdicts, key=lambda k: (k not in flips, k[0], rate_key(k[1]), k[2])):
        v = Counter(verdicts[key])
        vals = values.get(key) or []
        spread = f"{min(vals):+.3f} .. {max(vals):+.3f}" if vals else "-"
        rows.append([*key, v["pass"], v["inconclusive"], v["fail"],
                     f"{len(verdicts[key])}/{n_ok}", spread,
                     "**FLIP**" if key in flips else ""])
    out.append("## Verdict counts per budget")
    out.append("")
    out.append(table(["mode", "rate", "budget", "pass", "inconclusive", "fail", "runs",
                      "overhead range", "pass and fail?"], rows))
    out.append("")
    out.append("Overhead range: smallest .. largest point estimate over the runs (ms, pp, MB; "
               "trace volume: observed/expected).")
    out.append("")
    out.append("## Result")
    out.append("")
    out.append(f"{len(flips)} of {len(verdicts)} budgets pass in one run and fail in another"
               + (": " + "; ".join(" ".join(k) for k in sorted(flips)) if flips else ""))
    out.append("")
    problems = []
    if not n_ok:
        problems.append("no run completed")
    if flips:
        problems.append(f"{len(flips)} budgets flip between pass and fail")
    if n_broken:
        problems.append(f"{n_broken} runs broke")
    out.append(criterion("no budget passes in one run and fails in another, every run complete",
                         problems))
    print("\n".join(out))
    return 1 if problems else 0


# ---------------------------------------------------------------- sharp


def cmd_sharp(manifest: str) -> int:
    runs = load_runs(manifest)
    out = header("Sensitivity check: `slow` = `off` + 1 ms in the gateway, p50 budget 0.5 ms")
    n_broken, notes = broken_note(runs)
    out += notes

    def find(summary, pctl):
        return [b for b in budgets_of(summary)
                if b.get("mode") == "slow"
                and (b.get("budget") or {}).get("kind") == "latency"
                and (b.get("budget") or {}).get("percentile") == pctl]

    rows = []
    fails = 0
    for row, summary, status in runs:
        seed = (summary or {}).get("results", {}).get("seed", row.get("seed") or "scenario's")
        p50s = find(summary, "p50") if status == "ok" else []
        p99s = find(summary, "p99") if status == "ok" else []
        if status == "ok" and p50s and all(b.get("verdict") == "fail" for b in p50s):
            fails += 1
        for i, b in enumerate(p50s or [None]):
            p99 = next((p for p in p99s if b and p.get("rate") == b.get("rate")), None)
            rows.append([
                row["run"], seed, row["rc"], status,
                fmt_rate(b.get("rate")) if b else "-",
                fmt_interval(b.get("overhead")) if b else "-",
                fmt_num(b.get("limit"), signed=False) if b else "-",
                b.get("verdict", "-") if b else "missing",
                fmt_interval(p99.get("overhead")) if p99 else "-",
                p99.get("verdict", "-") if p99 else "-",
            ])
    out.append("## slow's latency overhead per run (ms, 95% CI)")
    out.append("")
    out.append(table(["run", "seed", "exit", "status", "rate", "p50 overhead [95% CI]",
                      "p50 limit", "p50 verdict", "p99 overhead [95% CI]", "p99 verdict"], rows))
    out.append("")
    out.append("The injected delay is 1 ms, so the p50 overhead should be close to +1.0 ms; p99 "
               "(limit 1.0 ms, at the injected delay) is for information.")
    out.append("")
    out.append("## Result")
    out.append("")
    out.append(f"slow's p50 budget fails in {fails} of {len(runs)} runs")
    out.append("")
    problems = []
    if not runs:
        problems.append("no runs")
    elif fails < len(runs):
        problems.append(f"p50 did not fail in {len(runs) - fails} runs")
    if n_broken:
        problems.append(f"{n_broken} runs broke")
    out.append(criterion("slow's p50 budget fails in every run (5/5 by default)", problems))
    print("\n".join(out))
    return 1 if problems else 0


# ---------------------------------------------------------------- compare


def regression_rows(cmp_out: str) -> list[str]:
    """Table rows of compare's Markdown that report a regression."""
    try:
        text = Path(cmp_out).read_text()
    except OSError:
        return []
    return [line.strip() for line in text.splitlines()
            if line.lstrip().startswith("|") and "regression" in line.lower()]


def row_figure(line: str) -> str:
    """`mode rate: figure` from a compare table row (columns mode | rate | figure | ...)."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return f"{cells[0]} {cells[1]} rps: {cells[2]}" if len(cells) >= 3 else line


def is_latency_overhead(line: str) -> bool:
    low = line.lower()
    return "latency" in low and "overhead" in low


def cmd_compare(manifest: str) -> int:
    rows_in = read_manifest(manifest)
    out = header("Compare check: A/A pairs of scenarios/ci.toml, then a delayed candidate")
    pairs = [r for r in rows_in if r["kind"] == "pair"]
    delayed = [r for r in rows_in if r["kind"] == "delayed"]

    def rc(r, k):
        return int(r[k]) if r.get(k, "") not in ("", "-") else None

    def run_ok(r, k):
        return rc(r, k) in NORMAL_RUN_EXITS and load_summary(r[k.replace("rc", "dir")]) is not None

    def describe(rows, kind_title):
        table_rows = []
        for r in rows:
            regs = regression_rows(r["cmp_out"])
            cmp_rc = rc(r, "cmp_rc")
            broken = [k for k in ("base_rc", "cand_rc") if not run_ok(r, k)]
            status = "ok" if not broken and cmp_rc in (0, 1) else (
                "runs broke: " + ", ".join(f"{k[:4]} exit {r[k]}" for k in broken) if broken
                else f"compare error (exit {cmp_rc})")
            table_rows.append([r["index"], r["base_rc"], r["cand_rc"],
                               "-" if cmp_rc is None else cmp_rc, fmt_secs(r.get("seconds")),
                               status, len(regs),
                               "; ".join(row_figure(x) for x in regs) or "-"])
        return table(["#", "baseline run exit", "candidate run exit", "compare exit",
                      "wall time", "status", "regression rows", "regressions"], table_rows)

    clean = sum(1 for r in pairs if rc(r, "cmp_rc") == 0)
    pair_errors = sum(1 for r in pairs
                      if rc(r, "cmp_rc") not in (0, 1) or not run_ok(r, "base_rc")
                      or not run_ok(r, "cand_rc"))
    caught = 0
    for r in delayed:
        regs = regression_rows(r["cmp_out"])
        if rc(r, "cmp_rc") == 1 and any(is_latency_overhead(x) for x in regs):
            caught += 1

    out.append("## A/A pairs (scenarios/ci.toml twice, back to back)")
    out.append("")
    out.append(describe(pairs, "pair") if pairs else "(none)")
    out.append("")
    out.append("## Delayed candidate (ci.toml's copy, `on` mode with DEMO_EXTRA_DELAY_MS=2)")
    out.append("")
    out.append(describe(delayed, "delayed") if delayed else "(none)")
    out.append("")
    out.append("A delayed try counts as caught when compare exits 1 and a regression row names "
               "the latency overhead (a row mentioning both `latency` and `overhead`).")
    out.append("")
    out.append("## Result")
    out.append("")
    out.append(f"A/A pairs: compare exit 0 in {clean} of {len(pairs)} pairs"
               + (f" ({pair_errors} with a broken run or a compare error)" if pair_errors else ""))
    out.append(f"delayed candidate: exit 1 with a latency-overhead regression row in {caught} of "
               f"{len(delayed)} tries")
    out.append("")
    problems = []
    if not pairs and not delayed:
        problems.append("nothing ran")
    if clean < len(pairs):
        problems.append(f"{len(pairs) - clean} A/A pairs did not exit 0")
    if caught < len(delayed):
        problems.append(f"{len(delayed) - caught} delayed tries were not caught")
    out.append(criterion("every A/A pair's compare exits 0 (10/10 by default) and every delayed "
                         "candidate's exits 1 with a latency-overhead regression row", problems))
    print("\n".join(out))
    return 1 if problems else 0


# ---------------------------------------------------------------- delayed scenario

DELAYED_MODES = '''
# ---- added by scripts/bench/summarize.py delayed-scenario ----
# ci.toml leaves [modes] out (defaults: off, on, sampled 0.1). Spelled out here exactly as the
# defaults (src/scenario/file/modes.rs), except that `on` also gets DEMO_EXTRA_DELAY_MS = "2":
# demo-gateway sleeps 2 ms per register request (demo-auth ignores the variable).
[modes]
baseline = "off"

[[modes.mode]]
name = "off"
env = { OTEL_SDK_DISABLED = "true", OTEL_TRACES_SAMPLER = "always_off" }

[[modes.mode]]
name = "on"
env = { OTEL_TRACES_SAMPLER = "always_on", DEMO_EXTRA_DELAY_MS = "2" }

[[modes.mode]]
name = "sampled"
env = { OTEL_TRACES_SAMPLER = "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG = "0.1" }
'''

EXPECTED_MODES = {
    "baseline": "off",
    "mode": [
        {"name": "off", "env": {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_SAMPLER": "always_off"}},
        {"name": "on", "env": {"OTEL_TRACES_SAMPLER": "always_on", "DEMO_EXTRA_DELAY_MS": "2"}},
        {"name": "sampled", "env": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                    "OTEL_TRACES_SAMPLER_ARG": "0.1"}},
    ],
}


def cmd_delayed_scenario(ci_toml: str, out_toml: str) -> int:
    """Copy ci.toml to OUT_TOML with its relative paths made absolute (the copy lives elsewhere)
    and the three default modes spelled out, `on` delayed. Verified by parsing both files."""
    src = Path(ci_toml).resolve()
    base = src.parent
    text = src.read_text()
    orig = tomllib.loads(text)
    if "modes" in orig:
        raise InputError(f"{src} now has a [modes] table; update delayed-scenario in "
                         f"{__file__} to add the delay to its `on` mode instead")

    # Relative paths tracebench resolves against the scenario's directory: a program containing
    # "/" (command[0], build[0]) and cwd. Replace each as an exact quoted TOML string.
    def resolve(p: str) -> str:
        return str((base / p).resolve())

    expected = json.loads(json.dumps(orig))
    replacements = {}
    for svc in expected.get("target", {}).get("services", []):
        for key in ("command", "build"):
            prog = (svc.get(key) or [None])[0]
            if isinstance(prog, str) and "/" in prog and not prog.startswith("/"):
                replacements[prog] = resolve(prog)
                svc[key][0] = resolve(prog)
        cwd = svc.get("cwd")
        if isinstance(cwd, str) and not cwd.startswith("/"):
            replacements[cwd] = resolve(cwd)
            svc["cwd"] = resolve(cwd)
    for rel, absolute in replacements.items():
        quoted = f'"{rel}"'
        if quoted not in text:
            raise InputError(f"{src}: cannot find {quoted} to rewrite (is it single-quoted?)")
        text = text.replace(quoted, json.dumps(absolute))

    banner = (f"# GENERATED by scripts/bench/summarize.py delayed-scenario from {src}:\n"
              "# relative paths made absolute, modes spelled out, `on` delayed by 2 ms.\n")
    text = banner + text.rstrip("\n") + "\n" + DELAYED_MODES
    expected["modes"] = EXPECTED_MODES

    got = tomllib.loads(text)
    if got != expected:
        raise InputError("the delayed copy does not parse to ci.toml + the delayed modes; "
                         "refusing to write it")
    for svc in got.get("target", {}).get("services", []):
        prog = svc["command"][0]
        if "/" in prog and not Path(prog).is_absolute():
            raise InputError(f"relative program left in the copy: {prog}")
    Path(out_toml).write_text(text)
    print(f"wrote {out_toml}: ci.toml with {len(replacements)} paths made absolute; modes off, "
          "on (+DEMO_EXTRA_DELAY_MS=2), sampled")
    return 0


# ---------------------------------------------------------------- ports


def cmd_ports(scenario: str) -> int:
    """Exit 1 (listing them) when something already accepts on a loopback port the scenario
    names: a left-over demo process or sink would make the run break or measure the wrong thing."""
    text = Path(scenario).read_text()
    ports = sorted({int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)})
    busy = []
    for port in ports:
        with socket.socket() as s:
            s.settimeout(0.3)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    if busy:
        print(f"{scenario}: already in use on 127.0.0.1: {', '.join(map(str, busy))}")
        return 1
    return 0


# ---------------------------------------------------------------- main

COMMANDS = {
    "aa": (cmd_aa, 1),
    "stable": (cmd_stable, 1),
    "sharp": (cmd_sharp, 1),
    "compare": (cmd_compare, 1),
    "delayed-scenario": (cmd_delayed_scenario, 2),
    "ports": (cmd_ports, 1),
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS or len(argv) - 2 != COMMANDS[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = COMMANDS[argv[1]]
    try:
        return fn(*argv[2:])
    except InputError as e:
        print(f"summarize.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
