#!/usr/bin/env bash
# SIP load comparison: the same sipp scenario (load-invite.xml: INVITE with an MSRP offer, 200,
# ACK, BYE, no hold) at the same fixed rate, first against a bare sipgo server that answers the
# same INVITEs (sip/internal/bareuas), then against `parley serve`; prints successful calls per
# second for each. Needs sipp (apt-get install sip-tester).
#
#   bash cmd/parley/testdata/sipp/load-compare.sh [RATE [SECONDS]]    # default 6000 calls/s for 5 s
set -euo pipefail
cd "$(dirname "$0")/../../../.."
rate=${1:-6000}
seconds=${2:-5}
calls=$((rate * seconds))
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/parley" ./cmd/parley
go build -o "$work/bareuas" ./sip/internal/bareuas
cat >"$work/parley.yaml" <<EOF
sip:
  listen: 127.0.0.1:5062
msrp:
  listen: 127.0.0.1:2862
  bind_timeout: 10m # the load scenario never opens its MSRP session
http:
  listen: 127.0.0.1:8092
log:
  level: warn
data_dir: $work/data
EOF

run() { # name port
  sipp -sf cmd/parley/testdata/sipp/load-invite.xml -s lobby -t u1 -r "$rate" -rp 1000 -m "$calls" \
    -i 127.0.0.1 -p "$3" -nostdin -timeout 120s "127.0.0.1:$2" >"$work/$1.out" 2>&1 || true
  local took ok failed
  took=$(grep -A1 "Total-time" "$work/$1.out" | tail -1 | awk '{print $4}')
  ok=$(grep "Successful call" "$work/$1.out" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  failed=$(grep "Failed call" "$work/$1.out" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  echo "$1: offered $calls at $rate/s; $ok succeeded, $failed failed in ${took}s: $(echo "$ok / $took" | bc) calls/s"
}

"$work/bareuas" -listen 127.0.0.1:5090 &
bare=$!
sleep 1
run bare 5090 5075
kill $bare; wait $bare 2>/dev/null || true

"$work/parley" serve --config "$work/parley.yaml" >"$work/parley.log" 2>&1 &
parley=$!
sleep 1.5
run parley 5062 5079
kill $parley; wait $parley 2>/dev/null || true
