#!/usr/bin/env bash
# Measures a room spread over three nodes against the same room on one node, in one sitting:
#   bash cmd/parley/testdata/bench/cluster.sh [PARLEY_BINARY] [SECONDS] [MEMBERS]
# Starts a throwaway PostgreSQL (Debian's postgresql, run as the user postgres when this runs as
# root) and a NATS server with JetStream (nats-server, built from the Go module proxy), all on
# loopback. Rows, each with the direct bound of the same run, the load tool pinned to CPU 0:
#   one node, no relay (SQLite, as README's Performance table);
#   one node of the cluster (PostgreSQL store, every message through JetStream);
#   three nodes, the members joining each in turn.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$here/../../../..
bin=${1:-}
secs=${2:-5}
members=${3:-100}
work=$(mktemp -d)
chmod 755 "$work"
if [ -z "$bin" ]; then
  bin=$work/parley
  (cd "$repo" && go build -o "$bin" ./cmd/parley)
fi
GOBIN=$work go install github.com/nats-io/nats-server/v2@v2.15.3

pids=()
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
mkdir "$work/pg" && [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg/data" -A trust -U parley >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -o "-k $work/pg -c listen_addresses=''" -w start >/dev/null
"${as_pg[@]}" "$pgbin/createdb" -h "$work/pg" -U parley parley
dsn="host=$work/pg user=parley dbname=parley"

"$work/nats-server" -js -a 127.0.0.1 -p 24222 -sd "$work/nats" >"$work/nats.log" 2>&1 &
pids+=($!)

{ cat "$here/parley-bench.yaml"; printf 'store:\n  driver: postgres\n'; } >"$work/cluster.yaml"
serve() { # name sip-port msrp-port http-port [env...]
  local name=$1 sip=$2 msrp=$3 http=$4
  shift 4
  env "$@" "$bin" serve --node-id "$name" --sip 127.0.0.1:$sip --msrp 127.0.0.1:$msrp --http 127.0.0.1:$http \
    --data "$work/$name" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$http/healthz >/dev/null && return; sleep 0.1; done
  echo "$name did not start:"; cat "$work/$name.log"; exit 1
}
bench() { taskset -c 0 "$bin" bench -d "${secs}s" --room open -n "$members" -s 1 --direct "$@" 2>/dev/null; }

echo "## one node, no relay (SQLite)"
serve single 25070 22870 28070 PARLEY_CONFIG="$here/parley-bench.yaml"
bench --sip 127.0.0.1:25070
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

cluster=(PARLEY_CONFIG="$work/cluster.yaml" PARLEY_STORE_DSN="$dsn" PARLEY_NATS_URL=nats://127.0.0.1:24222)
serve n1 25071 22871 28071 "${cluster[@]}"
serve n2 25072 22872 28072 "${cluster[@]}"
serve n3 25073 22873 28073 "${cluster[@]}"
echo; echo "## one node of three, every member on it (each message through JetStream)"
bench --sip 127.0.0.1:25071
echo; echo "## three nodes, members joining each in turn"
bench --sip 127.0.0.1:25071,127.0.0.1:25072,127.0.0.1:25073
