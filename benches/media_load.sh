#!/usr/bin/env bash
# RTP relay load: N concurrent G.711 20 ms calls through vozbox's relay, then the same RTP
# load through rtpengine (userspace only, set up over its ng control protocol) in the same
# run, so the result is a ratio. The generator (benches/rtp_load.rs) plays both ends of
# every call and reports what it offered, loss, one-way delay and the relay's CPU; a
# "ratio" line follows each pair (vozbox's CPU per relayed packet over rtpengine's), and a
# count given more than once gets the min, median and max of its ratios at the end.
#
#   apt-get install rtpengine-daemon     # optional: without it only vozbox is measured
#   cargo build --release && benches/media_load.sh [CALLS...] [SECONDS]
#   e.g. benches/media_load.sh "250 500 1000" 20
#   RTPENGINE=0 measures vozbox only; GEN_SENDERS, GEN_SOCKETS and GEN_BATCH_US set the
#   generator's sender threads (1), sockets (16) and receive batching (200 µs);
#   RELAY_THREADS and BATCH_US set vozbox's [media] threads and batch_us.
#   VOZBOX_BIN runs another build of vozbox (an A/B comparison).
#   KERNEL_FORWARDING=true turns on vozbox's kernel fast path ([media] kernel_forwarding;
#   root): its forwarding then costs CPU in the kernel, outside vozbox's process, so a
#   second ratio compares the whole machine's busy CPU per relayed packet (generator,
#   relay and kernel together) in both runs. DIRECT=1 also runs the generator alone, its
#   ends sending straight to each other (one loopback hop, no relay), and prints each
#   relay's share of the machine: its run's machine CPU per packet minus that.
#   VETH=1 puts the call ends in a network namespace behind a veth pair (root) instead of
#   on loopback: the relays bind the host end's address, every packet crosses the veth
#   both ways, and vozbox's fast path sends through the neighbour table as it would to a
#   network card (on loopback it hands a packet up to a local party). The relays learn
#   any source there ([media] strict_source = false: the call ends are not at the SIP
#   peers' addresses); the direct run's ends talk inside the namespace.
#   RELAY_CPU=P limits each relay, once its calls are set up, to P % of one core (a cgroup's
#   cpu quota, 10 ms period): a relay pushed past its capacity with the same offered load.
#   RECORD=R compares vozbox with itself instead of rtpengine: each count runs once with no
#   call recorded and once with R of its calls recorded (SIP INFO `Record: on` right after
#   the answer), and the ratio is the relay threads' CPU per relayed packet, recorded over
#   not (the recorders' own work is the rest of the process's CPU, reported too).
set -euo pipefail
counts=${1:-"250 500 1000"}
secs=${2:-20}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
bin=${VOZBOX_BIN:-"$here/target/release/vozbox"}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
(cd "$here" && cargo bench --bench rtp_load --no-run -q 2>/dev/null) || true
gen=$(ls -t "$here"/target/release/deps/rtp_load-* 2>/dev/null | grep -v '\.d$' | head -n 1)
[ -x "$gen" ] || { echo "cannot build benches/rtp_load.rs" >&2; exit 1; }
work=$(mktemp -d /tmp/vozbox-media.XXXXXX)
port=27060
uas_port=27070
pids=()
relay_ip=127.0.0.1
gen_env=()
netns=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  [ -z "$netns" ] || { ip link del "vzbh$$" 2>/dev/null || true; ip netns del "$netns" 2>/dev/null || true; }
}
trap cleanup EXIT
if [ "${VETH:-0}" = 1 ]; then
  netns=vzbench$$
  ip netns add "$netns"
  ip link add "vzbh$$" type veth peer name "vzbn$$"
  ip link set "vzbn$$" netns "$netns"
  ip addr add 10.213.0.1/24 dev "vzbh$$"
  ip link set "vzbh$$" up
  ip -n "$netns" addr add 10.213.0.2/24 dev "vzbn$$"
  ip -n "$netns" addr add 10.213.0.3/24 dev "vzbn$$"
  ip -n "$netns" link set "vzbn$$" up
  ip -n "$netns" link set lo up
  relay_ip=10.213.0.1
  gen_env=(ip netns exec "$netns" env RTP_A_IP=10.213.0.3 RTP_B_IP=10.213.0.2 RTP_RELAY_IP=$relay_ip)
fi

bench_friends "$work/provision.toml" "$uas_port" "$work/numbers.csv"

vozbox_run() { # calls [recorded]
  local n=$1 rec=${2:-0} hold=$(( (n / 200 + secs + 30) * 1000 ))
  if [ "$rec" -gt 0 ]; then
    sed -i 's/^domain = "127.0.0.1"$/domain = "127.0.0.1"\non_demand_record = "info"/' "$work/provision.toml"
  else
    sed -i '/^on_demand_record = /d' "$work/provision.toml"
  fi
  bench_config "$work/config.toml" "$port" "$work/vozbox-$n.redb" <<CFG
[api]
listen = "127.0.0.1:$((port + 1))"
[calls]
max_duration = 86400
# the teardown kills the SIPp peers too: no drain to wait for
shutdown_grace = 0
[media]
port_min = 30000
port_max = 39999
timeout = 0
threads = ${RELAY_THREADS:-0}
batch_us = ${BATCH_US:-200}
kernel_forwarding = ${KERNEL_FORWARDING:-false}
bind = "$relay_ip"
advertised = "$relay_ip"
strict_source = $([ -n "$netns" ] && echo false || echo true)
CFG
  start_vozbox "$work/config.toml" "$work/provision.toml" "$work/vozbox"
  local vpid=$pid; pids+=("$vpid")
  (cd "$work" && exec sipp -sf "$here/tests/sipp/uas_answer.xml" -t u1 -i 127.0.0.2 -p $uas_port \
      -buff_size 16777216 -nostdin > "$work/uas.out" 2>&1) &
  local uas=$!; pids+=("$uas")
  sleep 0.5
  (cd "$work" && exec sipp -sf "$here/benches/sipp/uac_bench.xml" -inf "$work/numbers.csv" \
      -t u1 -i 127.0.0.3 -p 5060 -buff_size 16777216 -r 200 -m "$((n - rec))" -l "$((n - rec))" -d "$hold" \
      -nostdin -timeout $((hold / 1000 + 30))s 127.0.0.1:$port > "$work/uac.out" 2>&1) &
  local uac=$!; pids+=("$uac")
  if [ "$rec" -gt 0 ]; then
    (cd "$work" && exec sipp -sf "$here/benches/sipp/uac_bench_record.xml" -inf "$work/numbers.csv" \
        -t u1 -i 127.0.0.3 -p 5062 -buff_size 16777216 -r 50 -m "$rec" -l "$rec" -d "$hold" \
        -nostdin -timeout $((hold / 1000 + 30))s 127.0.0.1:$port > "$work/uac-rec.out" 2>&1) &
    uac_rec=$!; pids+=("$uac_rec")
  fi
  for _ in $(seq 600); do
    "$bin" calls --config "$work/config.toml" > "$work/calls.txt" 2>/dev/null || true
    [ "$(grep -c answered "$work/calls.txt" || true)" -ge "$n" ] && break
    kill -0 "$uac" 2>/dev/null || { echo "the SIPp caller stopped: $work/uac.out" >&2; break; }
    sleep 0.5
  done
  sed -n 's/.*A \([0-9]*\): [0-9]*  B \([0-9]*\): .*/\1 \2/p' "$work/calls.txt" > "$work/ports.txt"
  [ -z "${RELAY_CPU:-}" ] || limit_cpu "$vpid" "$RELAY_CPU"
  local line
  line=$("${gen_env[@]}" "$gen" "$work/ports.txt" "$secs" "$vpid" "${GEN_SENDERS:-1}" "${GEN_SOCKETS:-16}" "${GEN_BATCH_US:-200}")
  printf 'vozbox    %s\n' "$line"
  v_us=$(per_packet "$line")
  t_us=$(per_packet_threads "$line")
  vm_us=$(per_packet_machine "$line")
  [ "$rec" -eq 0 ] || echo "          $(ls "$work"/recordings 2>/dev/null | wc -l) recordings being written"
  [ -z "${uac_rec:-}" ] || kill "$uac_rec" 2>/dev/null || true
  uac_rec=''
  kill "$uac" "$uas" "$vpid" 2>/dev/null || true
  wait "$uac" "$uas" "$vpid" 2>/dev/null || true
  rm -rf "$work/recordings"
}

rtpengine_run() { # calls
  local n=$1
  rtpengine --foreground --table=-1 --interface=$relay_ip --listen-ng=127.0.0.1:22222 \
    --port-min=40000 --port-max=49999 --log-level=3 --log-stderr --num-threads=2 \
    > "$work/rtpengine.log" 2>&1 &
  local rpid=$!; pids+=("$rpid")
  sleep 1
  python3 - "$n" > "$work/ports-rtpengine.txt" <<'PY'
import socket, sys, re
def enc(x):
    if isinstance(x, int): return b"i%de" % x
    if isinstance(x, str): x = x.encode()
    if isinstance(x, bytes): return b"%d:%s" % (len(x), x)
    if isinstance(x, list): return b"l" + b"".join(enc(i) for i in x) + b"e"
    if isinstance(x, dict): return b"d" + b"".join(enc(k) + enc(v) for k, v in sorted(x.items())) + b"e"
def sdp(port):
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n" % port)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
def ng(d, i):
    cookie = b"c%d " % i
    s.sendto(cookie + enc(d), ("127.0.0.1", 22222))
    r = s.recv(65535)
    m = re.search(rb"m=audio (\d+)", r)
    return int(m.group(1))
for i in range(int(sys.argv[1])):
    cid = "bench-%d" % i
    b = ng({"command": "offer", "call-id": cid, "from-tag": "a", "sdp": sdp(10000)}, 2 * i)
    a = ng({"command": "answer", "call-id": cid, "from-tag": "a", "to-tag": "b", "sdp": sdp(10002)}, 2 * i + 1)
    print(a, b)
PY
  [ -z "${RELAY_CPU:-}" ] || limit_cpu "$rpid" "$RELAY_CPU"
  local line
  line=$("${gen_env[@]}" "$gen" "$work/ports-rtpengine.txt" "$secs" "$rpid" "${GEN_SENDERS:-1}" "${GEN_SOCKETS:-16}" "${GEN_BATCH_US:-200}")
  printf 'rtpengine %s\n' "$line"
  r_us=$(per_packet "$line")
  rm_us=$(per_packet_machine "$line")
  kill "$rpid" 2>/dev/null || true
  wait "$rpid" 2>/dev/null || true
}

direct_run() { # calls: the generator alone, without a relay
  local n=$1 line
  for i in $(seq "$n"); do echo "0 0"; done > "$work/ports-direct.txt"
  line=$(RTP_DIRECT=1 "${gen_env[@]}" "$gen" "$work/ports-direct.txt" "$secs" self "${GEN_SENDERS:-1}" "${GEN_SOCKETS:-16}" "${GEN_BATCH_US:-200}")
  printf 'direct    %s\n' "$line"
  d_us=$(per_packet_machine "$line")
}

# The CPU per relayed packet of a generator's report line (the whole process; the relay's
# forwarding threads alone).
per_packet() { sed -n 's/.*, \([0-9.]*\) µs per relayed packet.*/\1/p' <<< "$1"; }
per_packet_threads() { sed -n 's/.*relay threads \([0-9.]*\) µs per relayed packet.*/\1/p' <<< "$1"; }
per_packet_machine() { sed -n 's/.*machine \([0-9.]*\) µs per relayed packet.*/\1/p' <<< "$1"; }

ratios=()
mratios=()
sratios=()
for n in $counts; do
  v_us='' r_us=''
  if [ "${RECORD:-0}" -gt 0 ]; then
    vozbox_run "$n" 0
    plain=$t_us
    vozbox_run "$n" "$RECORD"
    ratio=$(awk -v v="$t_us" -v r="$plain" 'BEGIN { printf "%.2f", v / r }')
    ratios+=("$n $ratio")
    echo "ratio     calls $n | relay threads' CPU per relayed packet with $RECORD recorded / none $ratio"
    continue
  fi
  vozbox_run "$n"
  if [ "${RTPENGINE:-1}" = 0 ]; then :
  elif command -v rtpengine >/dev/null; then rtpengine_run "$n"; else echo "rtpengine: not installed"; fi
  if [ -n "$v_us" ] && [ -n "$r_us" ]; then
    ratio=$(awk -v v="$v_us" -v r="$r_us" 'BEGIN { printf "%.2f", v / r }')
    ratios+=("$n $ratio")
    echo "ratio     calls $n | vozbox/rtpengine CPU per relayed packet $ratio"
    mratio=$(awk -v v="$vm_us" -v r="$rm_us" 'BEGIN { printf "%.2f", v / r }')
    mratios+=("$n $mratio")
    echo "ratio     calls $n | machine CPU per relayed packet, vozbox run/rtpengine run $mratio"
    if [ "${DIRECT:-0}" = 1 ]; then
      direct_run "$n"
      sratio=$(awk -v v="$vm_us" -v r="$rm_us" -v d="$d_us" 'BEGIN { printf "%.2f", (v - d) / (r - d) }')
      sratios+=("$n $sratio")
      echo "ratio     calls $n | relay's share of the machine (run - direct): vozbox $(awk -v v="$vm_us" -v d="$d_us" 'BEGIN { printf "%.2f", v - d }') µs, rtpengine $(awk -v r="$rm_us" -v d="$d_us" 'BEGIN { printf "%.2f", r - d }') µs, ratio $sratio"
    fi
  fi
done
# Runs on a VM vary (±15 %): over several pairs of a count the median says more than any one.
summary() { # label, then "count ratio" lines on stdin
  sort -k1,1n -k2,2n | awk -v what="$1" '
  function out() { if (k > 1) printf "ratios    calls %s | %s, %d pairs: min %.2f median %.2f max %.2f\n", n, what, k, r[1],
                     k % 2 ? r[(k + 1) / 2] : (r[k / 2] + r[k / 2 + 1]) / 2, r[k] }
  $1 != n { out(); n = $1; k = 0 }
  { r[++k] = $2 }
  END { out() }'
}
[ "${#ratios[@]}" -eq 0 ] || printf '%s\n' "${ratios[@]}" | summary "relay process"
[ "${#mratios[@]}" -eq 0 ] || printf '%s\n' "${mratios[@]}" | summary "machine"
[ "${#sratios[@]}" -eq 0 ] || printf '%s\n' "${sratios[@]}" | summary "relay's share of the machine"
