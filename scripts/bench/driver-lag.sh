#!/usr/bin/env bash
# The driver's lag at a high rate, and whether its thread was waiting for a CPU meanwhile: one
# `tracebench drive` against one nginx worker on loopback (shared/bench/nginx-peer.sh), then
# the lag percentiles and the driver thread's scheduler statistics over the middle of the run
# (/proc/PID/task/TID/schedstat: time on a CPU, time runnable but waiting, timeslices).
# Run from the project root after `cargo build --release` (README, Measured: Driver).
# usage: scripts/bench/driver-lag.sh [RATE=20000] [SECONDS=10] [CONNECTIONS=16]
set -euo pipefail
rate=${1:-20000}; secs=${2:-10}; conns=${3:-16}
peer=${NGINX_PEER:-../shared/bench/nginx-peer.sh}; tb=${TRACEBENCH:-target/release/tracebench}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$peer" "$port" >/dev/null 2>&1 & ngx=$!; trap 'kill $ngx 2>/dev/null' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
out=$(mktemp -d)
"$tb" drive --url "http://127.0.0.1:$port/" --method GET --rate "$rate" --duration "${secs}s" \
  --connections "$conns" --json "$out/drive.json" >"$out/drive.txt" 2>&1 & pid=$!
sleep 1
tid=$(for t in /proc/$pid/task/*; do [ "$(cat "$t/comm")" = tracebench-driv ] && basename "$t"; done)
before=$(cat /proc/$pid/task/$tid/schedstat); sleep $((secs - 2))
after=$(cat /proc/$pid/task/$tid/schedstat); wait $pid
python3 - "$out/drive.json" "$before" "$after" "$rate" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); a = list(map(int, sys.argv[2].split())); b = list(map(int, sys.argv[3].split()))
lag = t["driver_lag_ms"]
print(f"rate {sys.argv[4]}: completed {t['completed']}, lag p50 {lag['p50']} p99 {lag['p99']} p99.9 {lag['p999']} "
      f"max {lag['max']} ms, latency p99 {t['latency_ms']['p99']} ms")
print(f"driver thread, middle of the run: on a CPU {(b[0]-a[0])/1e6:.0f} ms, runnable but waiting "
      f"{(b[1]-a[1])/1e6:.0f} ms, {b[2]-a[2]} timeslices")
PY
rm -rf "$out"
