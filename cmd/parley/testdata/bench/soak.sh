#!/usr/bin/env bash
# Samples a running `parley serve` while a soak runs: every INTERVAL seconds one line with the
# time, the process's resident memory (VmRSS of /proc/PID/status, KiB) and its goroutines
# (go_goroutines of GET /metrics), until the process exits or DURATION seconds have passed.
#
#   bash cmd/parley/testdata/bench/soak.sh PID [HTTP] [INTERVAL] [DURATION]
#
# HTTP is the focus's HTTP listener (default 127.0.0.1:8080), INTERVAL defaults to 60 and
# DURATION to 3660 (the hour of the soak and its warm-up).
set -euo pipefail
pid=${1:?usage: soak.sh PID [HTTP] [INTERVAL] [DURATION]}
http=${2:-127.0.0.1:8080}
interval=${3:-60}
duration=${4:-3660}
start=$(date +%s)
printf '%-20s %8s %12s %10s\n' time elapsed_s rss_kib goroutines
while kill -0 "$pid" 2>/dev/null; do
	now=$(date +%s)
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
	gor=$(curl -fsS "http://$http/metrics" | awk '$1 == "go_goroutines" {print $2}')
	printf '%-20s %8d %12s %10s\n' "$(date -u +%FT%TZ)" $((now - start)) "$rss" "$gor"
	if (( now - start >= duration )); then
		break
	fi
	sleep "$interval"
done
