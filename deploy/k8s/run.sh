#!/usr/bin/env bash
# Runs the drivers of job.yaml in the current kubectl context and merges their outputs here:
#   deploy/k8s/run.sh [OUT_DIR=tracebench-k8s] [LEAD_S=30]
# LEAD_S: how far ahead the shared start is set: enough for every pod to be scheduled and start
# (a driver that starts more than 1 s after START_AT refuses to run rather than start late).
set -euo pipefail
out=${1:-tracebench-k8s}; lead=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
kubectl apply -f "$here/setup.yaml"
# Pods read the ConfigMap when they are created: set the start, then create the Job.
start=$(( $(date +%s) + lead ))
kubectl patch configmap tracebench-drivers --type merge -p "{\"data\":{\"START_AT\":\"$start\"}}"
kubectl delete job tracebench-drivers --ignore-not-found --wait=true
kubectl apply -f "$here/job.yaml"
kubectl wait --for=condition=complete job/tracebench-drivers --timeout=30m
kubectl wait --for=condition=Ready pod/tracebench-collect --timeout=5m
mkdir -p "$out"
kubectl cp tracebench-collect:/out "$out"
tracebench merge "$out"/shard-*.json --json "$out/merged.json" --hlog "$out/merged.hlog"
