#!/usr/bin/env bash
# Authenticated REGISTER load over UDP with SIPp at rising rates (1,000 users).
# For each step: achieved rate, failed registrations, retransmissions, and the server's CPU
# time per registration (utime+stime from /proc, over the step). Each registration is the
# full exchange REGISTER → 401 → REGISTER with digest → 200, and every 200 is sent only
# after its binding is durable in redb.
#
#   cargo build --release && benches/register_load.sh [RATES] [SECONDS]
#   e.g. benches/register_load.sh "2000 4000 8000 12000 16000" 15
#   USERS=100000 benches/register_load.sh 8000 13     # RSS with 100,000 bindings
#   VOZBOX_BIN=/path/to/vozbox runs another build (an A/B comparison)
#   benches/register_load.sh --anchor "4000 8000" 15   # then the Kamailio registrar with the
#       same load (../shared/anchors/kamailio, benches/anchor.sh), and the CPU ratio per rate
set -euo pipefail
anchor=0
if [ "${1:-}" = --anchor ]; then anchor=1; shift; fi
rates=${1:-"2000 4000 8000 12000 14000 16000"}
secs=${2:-15}
users=${USERS:-1000}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
bin=${VOZBOX_BIN:-"$here/target/release/vozbox"}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
work=$(mktemp -d /tmp/vozbox-bench.XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
port=25060
api_port=25080

{
  printf '[[brand]]\nname = "bench"\n[[client]]\nbrand = "bench"\nname = "bench"\ndomain = "127.0.0.1"\n'
  for i in $(seq -w 0 $((users - 1))); do
    printf '[[user]]\nclient = "bench"\nname = "u%s"\npassword = "Bench-Pass-%s"\n' "$i" "$i"
  done
} > "$work/provision.toml"
{
  echo SEQUENTIAL
  for i in $(seq -w 0 $((users - 1))); do
    echo "127.0.0.1;[authentication username=u$i password=Bench-Pass-$i];u$i"
  done
} > "$work/users.csv"
bench_config "$work/config.toml" "$port" "$work/vozbox.redb" <<CFG
workers = ${WORKERS:-1}
[api]
listen = "127.0.0.1:$api_port"
CFG

"$bin" run --config "$work/config.toml" --provision "$work/provision.toml" > "$work/vozbox.out" 2> "$work/vozbox.log" &
pid=$!
for _ in $(seq 50); do grep -q "vozbox ready" "$work/vozbox.out" && break; sleep 0.1; done


printf '%8s %10s %8s %8s %10s %10s %9s %10s\n' offered achieved ok failed retrans "cpu_us/reg" "rss_kB" "commits/s"
for rate in $rates; do
  total=$((rate * secs))
  k0=$(metric $api_port vozbox_store_commits_total "$work/api-token"); c0=$(cpu); t0=$(date +%s.%N)
  (cd "$work" && sipp -sf "$here/tests/sipp/register.xml" -inf "$work/users.csv" \
      -t u1 -i 127.0.0.1 -p $((port + 1)) -buff_size 8388608 -r "$rate" -m "$total" -l $((rate * 2)) \
      -nostdin -timeout $((secs + 30))s -max_socket 1000 \
      -trace_stat -stf "$work/stat-$rate.csv" -fd 1 127.0.0.1:$port > "$work/sipp-$rate.out" 2>&1) || true
  t1=$(date +%s.%N); c1=$(cpu); k1=$(metric $api_port vozbox_store_commits_total "$work/api-token")
  ok=$(stat_col "$work/stat-$rate.csv" 'SuccessfulCall(C)')
  failed=$(stat_col "$work/stat-$rate.csv" 'FailedCall(C)')
  retrans=$(stat_col "$work/stat-$rate.csv" 'Retransmissions(C)')
  elapsed=$(echo "$t1 - $t0" | bc -l)
  achieved=$(echo "$ok / $elapsed" | bc)
  us=$(echo "scale=1; ($c1 - $c0) * 1000000 / $tck / ($ok + 0.000001)" | bc)
  commits=$(echo "($k1 - $k0) / $elapsed" | bc)
  printf '%8s %10s %8s %8s %10s %10s %9s %10s\n' "$rate" "$achieved" "$ok" "$failed" "$retrans" "$us" "$(rss)" "$commits"
  echo "$rate $us" >> "$work/ours.txt"
done
if [ "$anchor" = 1 ]; then
  . "$here/benches/anchor.sh"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "anchor: Kamailio registrar (in-memory usrloc), the same authenticated REGISTER load"
  anchor_ratio "CPU per registration" "$work/ours.txt" "$(anchor_run run.sh reg "$rates" "$secs")"
  exit 0
fi
echo "rss right after the load: $(rss) kB"
sleep 35   # past Timer J: the transaction memory is released
echo "rss after the load, idle: $(rss) kB"
echo "bindings: $("$bin" registrations --config "$work/config.toml" | tail -n 1)"
# The same database loaded by a fresh process (no provisioning file to parse): the memory
# of the model plus every binding.
kill "$pid"; wait "$pid" 2>/dev/null || true
"$bin" run --config "$work/config.toml" > "$work/vozbox2.out" 2>> "$work/vozbox.log" &
pid=$!
for _ in $(seq 100); do grep -q "vozbox ready" "$work/vozbox2.out" && break; sleep 0.1; done
sleep 1
echo "rss of a fresh process with these $users users and their bindings: $(rss) kB"
