#!/usr/bin/env bash
# verdicts.sh: can tracebench's verdicts be trusted? Four bounded checks, each repeating real
# `tracebench run`s of the demo stack on 127.0.0.1 and summarising them (scripts/bench/README.md
# explains each check and its pass criterion).
#
#   scripts/bench/verdicts.sh aa [N=10]             N runs of scripts/bench/aa.toml (A/A mode)
#   scripts/bench/verdicts.sh stable [N=5]          N runs of scenarios/quick.toml
#   scripts/bench/verdicts.sh sharp [N=5]           N runs of scripts/bench/sharp.toml (+1 ms)
#   scripts/bench/verdicts.sh compare [N=10] [M=1]  N A/A pairs of scenarios/ci.toml through
#                                                   `tracebench compare`, then M pairs whose
#                                                   candidate has 2 ms added to mode `on`
#
# BUILDS, once at the start (nothing else is built):
#   cargo build --release --bin tracebench -p tracebench
#   cargo build --release -p demo --bins
# SKIP_BUILD=1 skips both and uses the binaries already in target/release/ (it fails if they are
# missing). quick.toml and ci.toml keep their own `build` step, which tracebench runs before each
# of their runs (a no-op cargo call once the demo is built).
#
# OUTPUT: each run in reports/bench-runs/<check>-<UTC timestamp>/ (run directory, its log
# <dir>.log, manifest.tsv); the Markdown summary is printed at the end and written to
# reports/bench-<check>-<UTC timestamp>.md.
#
# EXIT: 0 when the check's criterion is met, 1 when it is not (or runs broke), 2 on a usage
# error, a bad scenario (tracebench exit 2) or busy ports. `tracebench run` exiting 1 (a budget
# failed) or 3 (inconclusive) is a normal outcome here; exit 4 (the run broke) is recorded, the
# check continues, and the summary reports it. Ctrl-C stops after the current run (tracebench
# restores its services) and summarises what was gathered.
#
# SEEDS: by default no run gets --seed: tracebench draws a new order seed per run (stored in
# each summary.json). SEED_FROM=K makes aa, stable and sharp pass `--seed K`, K+1, ... to
# reproduce a series. compare never passes --seed: ci.toml is run as CI runs it.
#
# TRAFFIC: only 127.0.0.1 (the scenarios' loopback addresses; tracebench refuses any other).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN="$ROOT/target/release/tracebench"
SUMMARIZE=(python3 "$HERE/summarize.py")
SEED_FROM=${SEED_FROM:-none}

usage() {
    sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

note() { printf '[verdicts %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'verdicts.sh: %s\n' "$*" >&2; exit 2; }

positive_int() { # NAME VALUE
    [[ $2 =~ ^[0-9]+$ && $2 -ge 1 ]] || die "$1 must be a positive integer, got '$2'"
}

INTERRUPTED=0
trap 'INTERRUPTED=1; note "interrupted: finishing the current step, then summarising"' INT TERM

TMPDIR_BENCH=""
cleanup() { if [[ -n $TMPDIR_BENCH ]]; then rm -rf -- "$TMPDIR_BENCH"; fi; }
trap cleanup EXIT

build() {
    if [[ ${SKIP_BUILD:-0} == 1 ]]; then
        note "SKIP_BUILD=1: not building; using $BIN and $ROOT/target/release/demo-*"
    else
        note "building once: cargo build --release --bin tracebench -p tracebench"
        (cd "$ROOT" && cargo build --release --bin tracebench -p tracebench)
        note "building once: cargo build --release -p demo --bins"
        (cd "$ROOT" && cargo build --release -p demo --bins)
    fi
    for b in "$BIN" "$ROOT/target/release/demo-auth" "$ROOT/target/release/demo-gateway"; do
        [[ -x $b ]] || die "missing binary $b (build it, or drop SKIP_BUILD=1)"
    done
}

# setup CHECK SCENARIO: the run and report locations, and the header facts summarize.py prints.
setup() {
    local check=$1
    TS=$(date -u +%Y%m%dT%H%M%SZ)
    RUNS="$ROOT/reports/bench-runs/$check-$TS"
    REPORT="$ROOT/reports/bench-$check-$TS.md"
    mkdir -p "$RUNS"
    export BENCH_STARTED=$TS BENCH_SCENARIO=$2 BENCH_COMMAND="scripts/bench/verdicts.sh ${ARGS[*]}"
    note "runs in ${RUNS#"$ROOT"/}, report ${REPORT#"$ROOT"/}; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# wait_ports SCENARIO: nothing may already listen on the scenario's ports (a left-over process
# would break the run or be measured instead). Waits up to 15 s for a previous run's services.
wait_ports() {
    local i
    for i in $(seq 1 15); do
        [[ $INTERRUPTED == 0 ]] || return 0
        "${SUMMARIZE[@]}" ports "$1" >/dev/null && return 0
        sleep 1
    done
    "${SUMMARIZE[@]}" ports "$1" >&2 || true
    die "ports of $1 are busy; stop whatever listens there and retry"
}

# run_one SCENARIO OUT SEED LABEL: one `tracebench run`, output in OUT.log. Sets RUN_RC, RUN_SECS.
# Exit 2 (bad scenario) aborts the check: every later run would fail the same way.
run_one() {
    local scenario=$1 out=$2 seed=$3 label=$4
    local args=(run "$scenario" --out "$out" --quiet)
    if [[ -n $seed ]]; then args+=(--seed "$seed"); fi
    wait_ports "$scenario"
    local start=$SECONDS
    RUN_RC=0
    (cd "$ROOT" && "$BIN" "${args[@]}") >"$out.log" 2>&1 || RUN_RC=$?
    RUN_SECS=$((SECONDS - start))
    case $RUN_RC in
        0 | 1 | 3) note "$label: exit $RUN_RC in ${RUN_SECS}s${seed:+ (seed $seed)}" ;;
        2)
            tail -n 20 "$out.log" >&2
            die "$label: tracebench rejected $scenario (exit 2); log $out.log"
            ;;
        *) note "$label: RUN BROKE, exit $RUN_RC in ${RUN_SECS}s; log $out.log (kept going)" ;;
    esac
    if [[ $RUN_RC =~ ^[013]$ && ! -f $out/summary.json ]]; then
        note "$label: exit $RUN_RC but no $out/summary.json"
    fi
}

seed_of() { # run index (1-based) -> seed, or empty for the scenario's own
    if [[ $SEED_FROM == none ]]; then echo ""; else echo $((SEED_FROM + $1 - 1)); fi
}

# summarise CHECK: summarize.py's Markdown to the report file and stdout; its exit is ours.
summarise() {
    local rc=0
    "${SUMMARIZE[@]}" "$1" "$RUNS/manifest.tsv" >"$REPORT" || rc=$?
    if [[ $INTERRUPTED == 1 ]]; then
        printf '\n**Interrupted**: fewer runs than asked for.\n' >>"$REPORT"
        rc=1
    fi
    cat "$REPORT"
    note "report written to ${REPORT#"$ROOT"/} (run directories in ${RUNS#"$ROOT"/})"
    [[ $rc -le 1 ]] || die "summarize.py failed (exit $rc)"
    return "$rc"
}

# repeat CHECK SCENARIO N: N runs of one scenario, manifest columns run/seed/rc/seconds/dir.
repeat_runs() {
    local check=$1 scenario=$2 n=$3 i seed dir
    setup "$check" "${scenario#"$ROOT"/}"
    printf 'run\tseed\trc\tseconds\tdir\n' >"$RUNS/manifest.tsv"
    for ((i = 1; i <= n; i++)); do
        [[ $INTERRUPTED == 0 ]] || break
        seed=$(seed_of "$i")
        dir=$(printf '%s/run-%02d' "$RUNS" "$i")
        run_one "$scenario" "$dir" "$seed" "$check run $i/$n"
        printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$seed" "$RUN_RC" "$RUN_SECS" "$dir" >>"$RUNS/manifest.tsv"
    done
    summarise "$check"
}

# compare_pair KIND INDEX BASE_SCENARIO CAND_SCENARIO LABEL: two runs back to back, then compare.
compare_pair() {
    local kind=$1 i=$2 base_scn=$3 cand_scn=$4 label=$5
    local stem base cand base_rc cand_rc cmp_rc=- start=$SECONDS
    stem=$(printf '%s/%s-%02d' "$RUNS" "$kind" "$i")
    base="$stem-base" cand="$stem-cand"
    run_one "$base_scn" "$base" "" "$label baseline"
    base_rc=$RUN_RC
    if [[ $INTERRUPTED == 0 ]]; then
        run_one "$cand_scn" "$cand" "" "$label candidate"
        cand_rc=$RUN_RC
    else
        cand_rc=-
    fi
    : >"$stem-compare.md"
    if [[ -f $base/summary.json && -f $cand/summary.json ]]; then
        cmp_rc=0
        # GITHUB_STEP_SUMMARY unset: compare would append every table to a CI job summary.
        (cd "$ROOT" && env -u GITHUB_STEP_SUMMARY "$BIN" compare "$base" "$cand") \
            >"$stem-compare.md" 2>"$stem-compare.err" || cmp_rc=$?
        note "$label: compare exit $cmp_rc"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$i" "$base_rc" "$cand_rc" "$cmp_rc" \
        $((SECONDS - start)) "$base" "$cand" "$stem-compare.md" >>"$RUNS/manifest.tsv"
}

check_compare() {
    local n=$1 m=$2 i ci="$ROOT/scenarios/ci.toml" delayed
    setup compare "scenarios/ci.toml (+ a copy with 2 ms in mode on)"
    # The delayed candidate: ci.toml copied to a temp dir, relative paths made absolute, the three
    # default modes spelled out with DEMO_EXTRA_DELAY_MS=2 in `on` (the gateway alone reads it).
    TMPDIR_BENCH=$(mktemp -d)
    delayed="$TMPDIR_BENCH/ci-delayed.toml"
    "${SUMMARIZE[@]}" delayed-scenario "$ci" "$delayed" >&2 || die "could not write the delayed copy"
    cp "$delayed" "$RUNS/ci-delayed.toml" # kept for the record; the runs use the temp copy
    printf 'kind\tindex\tbase_rc\tcand_rc\tcmp_rc\tseconds\tbase_dir\tcand_dir\tcmp_out\n' \
        >"$RUNS/manifest.tsv"
    for ((i = 1; i <= n; i++)); do
        [[ $INTERRUPTED == 0 ]] || break
        compare_pair pair "$i" "$ci" "$ci" "compare A/A pair $i/$n"
    done
    for ((i = 1; i <= m; i++)); do
        [[ $INTERRUPTED == 0 ]] || break
        compare_pair delayed "$i" "$ci" "$delayed" "compare delayed try $i/$m"
    done
    summarise compare
}

ARGS=("$@")
[[ $# -ge 1 ]] || usage
check=$1
shift
case $check in
    aa | stable | sharp)
        [[ $# -le 1 ]] || usage
        ;;
    compare)
        [[ $# -le 2 ]] || usage
        ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
[[ $SEED_FROM == none || $SEED_FROM =~ ^[0-9]+$ ]] || die "SEED_FROM must be a number or 'none'"
command -v python3 >/dev/null || die "python3 is needed (standard library only, 3.11+)"
python3 -c 'import sys, tomllib; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "python3 3.11+ is needed (tomllib)"

case $check in
    aa)
        n=${1:-10}
        positive_int N "$n"
        note "aa: $n runs of scripts/bench/aa.toml (about 3.5-4 min each: ~$((n * 4)) min)"
        build
        repeat_runs aa "$HERE/aa.toml" "$n"
        ;;
    stable)
        n=${1:-5}
        positive_int N "$n"
        note "stable: $n runs of scenarios/quick.toml (about 3.5-4 min each: ~$((n * 4)) min)"
        build
        repeat_runs stable "$ROOT/scenarios/quick.toml" "$n"
        ;;
    sharp)
        n=${1:-5}
        positive_int N "$n"
        note "sharp: $n runs of scripts/bench/sharp.toml (about 2 min each: ~$((n * 2)) min)"
        build
        repeat_runs sharp "$HERE/sharp.toml" "$n"
        ;;
    compare)
        n=${1:-10}
        m=${2:-1}
        positive_int N "$n"
        [[ $m =~ ^[0-9]+$ ]] || die "M must be a non-negative integer, got '$m'"
        note "compare: $n A/A pairs + $m delayed tries of scenarios/ci.toml, 2 runs of ~2 min each: ~$(((n + m) * 4)) min"
        build
        check_compare "$n" "$m"
        ;;
esac
