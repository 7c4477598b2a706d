#!/usr/bin/env bash
# Measures the README's performance table on this machine, in one sitting:
#   bash cmd/parley/testdata/bench/perf-table.sh [PARLEY_BINARY] [SECONDS]
# The focus runs unpinned on loopback with parley-bench.yaml and a fresh data directory; the
# load tool (`parley bench`) is pinned to CPU 0. Every row prints the focus figure and the
# direct bound measured by the same tool in the same run. Nothing leaves 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-}
secs=${2:-5}
if [ -z "$bin" ]; then
  bin=$(mktemp -d)/parley
  (cd "$here/../../../.." && go build -o "$bin" ./cmd/parley)
fi
load=${LOAD_TOOL:-$bin}   # the load tool; an older focus binary may lack `bench`
data=$(mktemp -d)
sip=127.0.0.1:25060
pid=
start_focus() {
  [ -n "$pid" ] && { kill $pid; wait $pid 2>/dev/null || true; }
  rm -rf "$data"/db; mkdir -p "$data"/db
  "$bin" serve --config "$here/parley-bench.yaml" --sip $sip --msrp 127.0.0.1:22855 --http 127.0.0.1:28080 \
    --data "$data/db" >"$data/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:28080/healthz >/dev/null && break; sleep 0.1; done
}
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
start_focus
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
bench() { taskset -c 0 "$load" bench --sip $sip -d "${secs}s" "$@" 2>/dev/null; }
row() { echo; echo "## $1"; shift; bench "$@"; }

row "unlogged room, 2 members both sending (window 64, 256 B)" --room open -n 2 -s 2 --direct
row "logged lobby, 2 members both sending" --room lobby -n 2 -s 2 --direct
row "unlogged, 100 members, 1 sender: deliveries/s" --room open -n 100 -s 1 --direct
full=$(bench --room open -n 100 -s 1 --json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)[-1]["acked_per_sec"]))')
row "unlogged, 100 members, 1 sender at half that load ($((full / 2)) msgs/s)" --room open -n 100 -s 1 --rate $((full / 2))
row "unlogged, 2 members, window 1 (unloaded)" --room open -n 2 -s 2 --window 1 --direct
before=$(rss)
echo; echo "## unlogged, 2,000 members, 1 sender; RSS under load"
bench --room open -n 2000 -s 1 &
b=$!; sleep $((secs / 2 + 2)); during=$(rss); wait $b
echo "RSS $before kB before, $during kB under load: $(( (during - before) / 2000 )) kB per member"
echo; echo "## 10,000 idle members (a fresh focus)"
start_focus
before=$(rss)
# Sampled twice: 15 s after the joins began, and after 150 s, once the runtime's periodic GC (every
# 2 minutes when nothing allocates) has run and returned what the joins left behind.
bench --room open -n 10000 -s 0 -d 160s &
b=$!; sleep 15; idle=$(rss); sleep 135; steady=$(rss); wait $b || true
echo "RSS $before kB before, $idle kB with 10,000 idle members: $(( (idle - before) * 1024 / 10000 )) bytes per member"
echo "after 150 s: $steady kB: $(( (steady - before) * 1024 / 10000 )) bytes per member"
