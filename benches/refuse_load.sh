#!/usr/bin/env bash
# CPU per refused INVITE: overload control with `max_setup = 1` and a callee that never
# answers, so every call after the first is refused with 503 + Retry-After (and its ACK
# absorbed). Prints vozbox's CPU time (utime+stime from /proc) per refusal: what a call
# offered past capacity costs.
#
#   cargo build --release && benches/refuse_load.sh [RATE] [SECONDS]
#   e.g. benches/refuse_load.sh 3000 10
#   VOZBOX_BIN=/path/to/vozbox runs another build (an A/B comparison)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rate=${1:-3000}
secs=${2:-10}
. "$here/benches/lib.sh"
bin=${VOZBOX_BIN:-$here/target/release/vozbox}
work=$(mktemp -d /tmp/vozbox-refuse.XXXXXX)
port=27060
bench_friends "$work/provision.toml" 27070 "$work/numbers.csv"
bench_config "$work/config.toml" "$port" "$work/vozbox.redb" <<CFG
workers = 1
[overload]
max_setup = 1
CFG
start_vozbox "$work/config.toml" "$work/provision.toml" "$work/vozbox"
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 0.5
c0=$(cpu)
(cd "$work" && sipp -sf "$here/benches/sipp/uac_bench.xml" -inf "$work/numbers.csv" \
  -t u1 -i 127.0.0.3 -p 5060 -buff_size 16777216 -r "$rate" -m $((rate * secs)) \
  -nostdin -timeout $((secs + 20))s -trace_stat -stf "$work/uac.csv" -fd 1 \
  127.0.0.1:$port > "$work/uac.out" 2>&1) || true
c1=$(cpu)
n=$((rate * secs))
echo "refused ~$n: $(echo "($c1 - $c0) * 1000000 / $tck / $n" | bc -l | cut -c1-5) us each"
