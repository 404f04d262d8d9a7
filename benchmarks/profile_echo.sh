#!/usr/bin/env bash
# Where an echo server's CPU goes at a fixed offered rate: netlab's epoll EchoServer or the
# minimal C server (build/bench/echo_server, see benchmarks/c/echo_server.c), on CPU 0,
# under netlab's load generator on CPU 1 (40,000 req/s over 100 connections, 64 B, open
# loop). perf stat counts the server's task-clock and context switches over 5 s; with
# --record, perf record samples it for `perf report --sort dso` / `--sort sym`.
#
#     PYTHONPATH=python bash benchmarks/profile_echo.sh c|netlab [--record OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
which=$1
record=${3:-}
out=$(mktemp)
if [ "$which" = c ]; then
  taskset -c 0 build/bench/echo_server 0 >"$out" &
else
  taskset -c 0 python3 -m netlab serve echo --model epoll --port 0 >"$out" 2>&1 &
fi
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$out" | head -1 | cut -d: -f2)
if [ -n "$record" ]; then
  perf record -o "$record" -F 20000 -p "$server" -- sleep 5 2>/dev/null &
else
  perf stat -e task-clock,context-switches -p "$server" -- sleep 5 &
fi
perf=$!
taskset -c 1 python3 -c "
import netlab
r = netlab.LoadGenerator('127.0.0.1', $port, connections=100, rate=40000, duration=5.5,
                         scenario='echo', size=64, threads=1).run()
print(f'{r.responses_per_s:,.0f} resp/s, {r.errors} errors')"
wait $perf
