#!/usr/bin/env bash
# Soak (not CI): mixed REGISTER and call load for a long time at about half of the measured
# capacity, sampling vozbox's RSS, open file descriptors and CPU once a minute; the samples
# go to soak.csv in the work directory and to stdout. Registrations: 1,000 users at REG/s
# (default 2,500: a quarter of the 11,000/s measured alone); calls: SIPp caller → vozbox
# (relay ports opened for each call) → SIPp callee at CPS/s (default 500: a quarter of the
# 2,000/s measured alone), each held HOLD ms. Together about half of the box.
#
#   cargo build --release && benches/soak.sh [MINUTES]      (default 60)
set -euo pipefail
minutes=${1:-60}
reg=${REG:-2500}
cps=${CPS:-500}
hold=${HOLD:-2000}
secs=$((minutes * 60))
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
bin="$here/target/release/vozbox"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d /tmp/vozbox-soak.XXXXXX)
port=27060
uas_port=27070
trap 'kill ${pid:-} ${uas:-} ${uac:-} ${regs:-} 2>/dev/null || true; wait 2>/dev/null || true' EXIT

bench_friends "$work/provision.toml" "$uas_port" "$work/numbers.csv"
{
  echo SEQUENTIAL
  for i in $(seq -w 0 999); do
    printf '[[user]]\nclient = "bench"\nname = "u%s"\npassword = "Soak-Pass-%s"\n' "$i" "$i" >> "$work/provision.toml"
    echo "127.0.0.1;[authentication username=u$i password=Soak-Pass-$i];u$i"
  done
} > "$work/users.csv"
bench_config "$work/config.toml" "$port" "$work/vozbox.redb" <<CFG
[api]
listen = ""
[calls]
# the teardown kills the SIPp peers too: no drain to wait for
shutdown_grace = 0
CFG
start_vozbox "$work/config.toml" "$work/provision.toml" "$work/vozbox"

(cd "$work" && exec sipp -sf "$here/tests/sipp/uas_answer.xml" -t u1 -i 127.0.0.2 -p $uas_port \
    -buff_size 16777216 -nostdin -trace_stat -stf "$work/uas.csv" -fd 60 > "$work/uas.out" 2>&1) &
uas=$!
sleep 0.5
(cd "$work" && exec sipp -sf "$here/benches/sipp/uac_bench.xml" -inf "$work/numbers.csv" \
    -t u1 -i 127.0.0.3 -p 5060 -buff_size 16777216 -r "$cps" -m $((cps * secs)) -d "$hold" \
    -l $((cps * (hold / 1000 + 4))) -nostdin -timeout $((secs + 60))s \
    -trace_stat -stf "$work/uac.csv" -fd 60 127.0.0.1:$port > "$work/uac.out" 2>&1) &
uac=$!
(cd "$work" && exec sipp -sf "$here/tests/sipp/register.xml" -inf "$work/users.csv" \
    -t u1 -i 127.0.0.1 -p $((port + 1)) -buff_size 8388608 -r "$reg" -m $((reg * secs)) \
    -l $((reg * 2)) -nostdin -timeout $((secs + 60))s -max_socket 1000 \
    -trace_stat -stf "$work/reg.csv" -fd 60 127.0.0.1:$port > "$work/reg.out" 2>&1) &
regs=$!

echo "minute,rss_kB,fds,cpu_s,calls_ok,calls_failed,regs_ok,regs_failed" | tee "$work/soak.csv"
for m in $(seq 0 "$minutes"); do
  [ "$m" -gt 0 ] && sleep 60
  kill -0 "$pid" 2>/dev/null || { echo "vozbox died" >&2; exit 1; }
  fds=$(ls "/proc/$pid/fd" | wc -l)
  c=$(( $(cpu) / tck ))
  col() { [ -s "$1" ] && stat_col "$1" "$2" || echo 0; }
  echo "$m,$(rss),$fds,$c,$(col "$work/uac.csv" 'SuccessfulCall(C)'),$(col "$work/uac.csv" 'FailedCall(C)'),$(col "$work/reg.csv" 'SuccessfulCall(C)'),$(col "$work/reg.csv" 'FailedCall(C)')" | tee -a "$work/soak.csv"
done
echo "work directory: $work"
