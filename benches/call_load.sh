#!/usr/bin/env bash
# Calls per second through the B2BUA: SIPp caller (a direct friend on 127.0.0.3, trusted by
# address) → vozbox → SIPp callee (a direct friend on 127.0.0.2 chosen by pattern). Each
# call is INVITE/100/180/200/ACK on both legs, then BYE/200 on both legs, and a CDR
# committed to redb. For each rate: goodput (answered calls per second), calls answered,
# new calls refused with 503 by overload control, failed calls, retransmissions (caller
# and callee side), vozbox's CPU time per answered call (utime+stime from /proc over the
# step) and peak RSS. Past capacity (e.g. 1.5x and 3x the measured rate) the goodput should
# hold near capacity while the excess is refused.
#
#   cargo build --release && benches/call_load.sh [RATES] [SECONDS]
#   e.g. benches/call_load.sh "1000 2000 3000 4000" 15
#   HOLD=30000 benches/call_load.sh 400 30    # ~12,000 calls held open: RSS per active call
#   VOZBOX_BIN=/path/to/vozbox runs another build (an A/B comparison)
#   VOZBOX_CPU=25 benches/call_load.sh "1000 1300 2000 4000" 15   # vozbox held to 25 % of
#       a core (a cgroup's quota): its capacity, then 1.5x and 3x of it offered
#   benches/call_load.sh --anchor "1000 2000 3000" 15   # then the bare Kamailio stateful
#       proxy and Kamailio + rtpengine with the same call load (../shared/anchors/kamailio,
#       benches/anchor.sh), and the CPU ratio per call for each
set -euo pipefail
anchor=0
if [ "${1:-}" = --anchor ]; then anchor=1; shift; fi
rates=${1:-"1000 2000 3000 4000 5000"}
secs=${2:-15}
hold=${HOLD:-0}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
bin=${VOZBOX_BIN:-"$here/target/release/vozbox"}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
work=$(mktemp -d /tmp/vozbox-calls.XXXXXX)
port=26060
uas_port=26070
api_port=26080
trap 'kill $pid $uas 2>/dev/null || true; wait 2>/dev/null || true' EXIT

bench_friends "$work/provision.toml" "$uas_port" "$work/numbers.csv"
bench_config "$work/config.toml" "$port" "$work/vozbox.redb" <<CFG
workers = ${WORKERS:-1}
[api]
listen = "127.0.0.1:$api_port"
[calls]
# the teardown kills the SIPp peers too: no drain to wait for
shutdown_grace = 0
CFG

start_vozbox "$work/config.toml" "$work/provision.toml" "$work/vozbox"
# VOZBOX_CPU=P: vozbox gets P % of one core, so that its capacity, not the generator's,
# is what the offered load exceeds (overload runs).
[ -z "${VOZBOX_CPU:-}" ] || limit_cpu "$pid" "$VOZBOX_CPU"

# New calls refused by overload control so far (503 + Retry-After), from /metrics.
refused() { metric "$api_port" vozbox_overload_refused_total "$work/api-token"; }

echo "rss before the load: $(rss) kB"
printf '%8s %9s %8s %7s %7s %13s %12s %10s %9s\n' offered goodput answered 503s failed "retrans(a/b)" cpu_us/call rss_kB cdrs
for rate in $rates; do
  total=$((rate * secs))
  (cd "$work" && exec sipp -sf "$here/tests/sipp/uas_answer.xml" -t u1 -i 127.0.0.2 -p $uas_port \
      -buff_size 16777216 -nostdin -trace_stat -stf "$work/uas-$rate.csv" -fd 1 \
      > "$work/uas-$rate.out" 2>&1) &
  uas=$!
  sleep 0.5
  s0=$(refused)
  c0=$(cpu); t0=$(date +%s.%N)
  peak=0
  # the caller's end time is taken when SIPp exits (the loop below looks once a second),
  # whatever its exit status (a failed call makes it 1)
  rm -f "$work/end-$rate"
  (cd "$work" && sipp -sf "$here/benches/sipp/uac_bench.xml" -inf "$work/numbers.csv" \
      -t u1 -i 127.0.0.3 -p 5060 -buff_size 16777216 -r "$rate" -m "$total" -d "$hold" \
      -l $((rate * (hold / 1000 + 4))) -nostdin -timeout $((secs + hold / 1000 + 40))s \
      -trace_stat -stf "$work/uac-$rate.csv" -fd 1 127.0.0.1:$port > "$work/uac-$rate.out" 2>&1 || true
   date +%s.%N > "$work/end-$rate") &
  uac=$!
  while kill -0 $uac 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    sleep 1
  done
  wait $uac || true
  c1=$(cpu); t1=$(cat "$work/end-$rate" 2>/dev/null || date +%s.%N)
  kill $uas 2>/dev/null || true; wait $uas 2>/dev/null || true
  shed=$(( $(refused) - s0 ))
  # SIPp counts a call refused with 503 as a completed scenario: goodput is the rest
  ok=$(( $(stat_col "$work/uac-$rate.csv" 'SuccessfulCall(C)') - shed ))
  failed=$(stat_col "$work/uac-$rate.csv" 'FailedCall(C)')
  ra=$(stat_col "$work/uac-$rate.csv" 'Retransmissions(C)')
  rb=$(stat_col "$work/uas-$rate.csv" 'Retransmissions(C)')
  elapsed=$(echo "$t1 - $t0 - $hold / 1000" | bc -l)
  achieved=$(echo "$ok / $elapsed" | bc)
  us=$(echo "($c1 - $c0) * 1000000 / $tck / ($ok + 0.000001)" | bc)
  printf '%8s %9s %8s %7s %7s %13s %12s %10s %9s\n' "$rate" "$achieved" "$ok" "$shed" "$failed" "$ra/$rb" "$us" "$peak" \
    "$("$bin" cdrs --config "$work/config.toml" --limit 100000000 | tail -n 1)"
  echo "$rate $us" >> "$work/ours.txt"
done
if [ "$anchor" = 1 ]; then
  . "$here/benches/anchor.sh"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "anchor: the bare Kamailio stateful proxy (tm, dialog, no media), the same calls"
  anchor_ratio "CPU per call" "$work/ours.txt" "$(anchor_run run.sh call "$rates" "$secs")"
  echo "anchor: Kamailio + rtpengine (offer, answer, delete per call), the same calls"
  anchor_ratio "CPU per call" "$work/ours.txt" "$(anchor_run run-rtpengine.sh call "$rates" "$secs")"
  exit 0
fi
echo "rss when idle: $(rss) kB"
