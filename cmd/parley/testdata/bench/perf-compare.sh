#!/usr/bin/env bash
# Compares two focus binaries the way the README's performance table was measured: the rate rows
# run RUNS times (default 5), alternating the binaries, each run with its own direct bound, and
# the medians are printed; then the 100-member room at half of each binary's median maximum.
#   bash cmd/parley/testdata/bench/perf-compare.sh BEFORE_BINARY AFTER_BINARY [SECONDS]
# The load tool is AFTER_BINARY's `parley bench` (LOAD_TOOL overrides), pinned to CPU 0; each run
# starts a fresh focus with parley-bench.yaml and an empty data directory. Nothing leaves
# 127.0.0.1; PORT_BASE (default 25000) moves the listeners (+60 SIP, +55 MSRP, +80 HTTP).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
before=${1:?usage: perf-compare.sh BEFORE AFTER [SECONDS]}
after=${2:?usage: perf-compare.sh BEFORE AFTER [SECONDS]}
secs=${3:-4}
runs=${RUNS:-5}
load=${LOAD_TOOL:-$after}
base=${PORT_BASE:-25000}
sip=127.0.0.1:$((base + 60)) msrp=127.0.0.1:$((base + 55)) http=127.0.0.1:$((base + 80))
data=$(mktemp -d)
out=$data/results
pid=
stop_focus() { [ -n "$pid" ] && { kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; }; pid=; }
start_focus() {
  stop_focus
  rm -rf "$data/db"; mkdir -p "$data/db"
  "$1" serve --config "$here/parley-bench.yaml" --sip $sip --msrp $msrp --http $http --data "$data/db" \
    >"$data/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -sf http://$http/healthz >/dev/null && return; sleep 0.1; done
  echo "the focus $1 did not start:" >&2; tail -3 "$data/serve.log" >&2; exit 1
}
trap 'stop_focus; rm -rf "$data"' EXIT
# One record per run: "row which run" on a line, then the bench's JSON.
measure() { # row which binary bench-args...
  local row=$1 which=$2 bin=$3; shift 3
  start_focus "$bin"
  echo "@@ $row $which" >>"$out"
  taskset -c 0 "$load" bench --sip $sip --json -d "${secs}s" "$@" 2>/dev/null >>"$out" || echo "[]" >>"$out"
}
for r in $(seq "$runs"); do
  for w in before after; do
    bin=$before; [ $w = after ] && bin=$after
    measure unlogged-2x2 $w "$bin" --room open -n 2 -s 2 --direct
    measure logged-2x2 $w "$bin" --room lobby -n 2 -s 2 --direct
    measure members-100 $w "$bin" --room open -n 100 -s 1 --direct
    measure window-1 $w "$bin" --room open -n 2 -s 2 --window 1 --direct
  done
done
summary() {
  python3 - "$out" "$@" <<'PY'
import json, statistics as st, sys
recs, cur = {}, None
for line in open(sys.argv[1]):
    if line.startswith("@@ "):
        cur = tuple(line.split()[1:3]); recs.setdefault(cur, []).append("")
    elif cur:
        recs[cur][-1] += line
want = sys.argv[2] if len(sys.argv) > 2 else None
for (row, which), texts in sorted(recs.items()):
    runs = [json.loads(t) for t in texts if t.strip() not in ("", "[]")]
    if not runs:
        continue
    focus = [r[-1] for r in runs]
    if want:  # the median messages/s of one row and binary, for the half-load rate
        if row == want.split(":")[0] and which == want.split(":")[1]:
            print(int(st.median(f["acked_per_sec"] for f in focus)))
        continue
    direct = [r[0] for r in runs if len(r) > 1]
    key = "delivered_per_sec" if row == "members-100" else "acked_per_sec"
    rate = [f[key] for f in focus]
    line = f"{row:13} {which:6} runs {len(runs)}: median {st.median(rate):,.0f}/s"
    if direct:
        bound = [d["sent_per_sec" if row == "members-100" else "acked_per_sec"] for d in direct]
        ratio = [a / b for a, b in zip(rate, bound)]
        added = [(f["p50_ns"] - d["p50_ns"]) / 1e3 for f, d in zip(focus, direct)]
        line += f" ({st.median(ratio):.2f}x of direct, runs {min(ratio):.2f}-{max(ratio):.2f}; bound {min(bound):,.0f}-{max(bound):,.0f})"
        line += f", added p50 {st.median(added):.0f} us"
    line += f", p99 {st.median(f['p99_ns'] for f in focus) / 1e3:.0f} us"
    print(line)
PY
}
summary
for w in before after; do
  bin=$before; [ $w = after ] && bin=$after
  max=$(summary members-100:$w)
  for r in 1 2 3; do measure half-load $w "$bin" --room open -n 100 -s 1 --rate $((max / 2)); done
  echo "half-load     $w: $((max / 2)) msgs/s (half of its median maximum)"
done
summary | grep '^half-load'
