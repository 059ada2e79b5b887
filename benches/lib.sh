# Shared by the load scripts (sourced): the two-friend provisioning of the call benchmarks,
# starting vozbox, and reading /proc and SIPp statistics.

# Writes the provisioning of the call benchmarks to $1: a caller friend on 127.0.0.3
# (trusted by address) and a callee friend on 127.0.0.2:$2 chosen by pattern; and the
# number it dials to $3.
bench_friends() {
  cat > "$1" <<PROV
[[brand]]
name = "bench"
[[client]]
brand = "bench"
name = "bench"
domain = "127.0.0.1"
[[friend]]
client = "bench"
name = "caller"
mode = "direct"
address = "127.0.0.3"
port = 5060
transport = "udp"
priority = 1
patterns = ["^7000\$"]
[[friend]]
client = "bench"
name = "callee"
mode = "direct"
address = "127.0.0.2"
port = $2
transport = "udp"
priority = 2
patterns = ["^[0-9]+\$"]
PROV
  printf 'SEQUENTIAL\n600100200;\n' > "$3"
}

# Writes the benchmarks' vozbox config to $1: UDP on 127.0.0.1:$2, the database at $3, logs
# at warn, no per-source rate limit (the load comes from one address); then any further
# lines from stdin (more keys of [sip] first, then other tables).
bench_config() {
  {
    printf '[log]\nlevel = "warn"\n[sip]\n# the load comes from one address: no per-source rate limit\n'
    printf 'rate_limit = 0\nlisten = ["udp:127.0.0.1:%s"]\n' "$2"
    cat
    printf '[storage]\npath = "%s"\n' "$3"
  } > "$1"
}

# Starts "$bin" with config $1 and provisioning $2 (output in $3.out/.log); sets $pid.
start_vozbox() {
  "$bin" run --config "$1" --provision "$2" > "$3.out" 2> "$3.log" &
  pid=$!
  for _ in $(seq 100); do grep -q "vozbox ready" "$3.out" && break; sleep 0.1; done
}

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }   # utime+stime in ticks
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; } # kB
tck=$(getconf CLK_TCK)

# The value of column $2 in the last line of SIPp's statistics file $1.
stat_col() {
  local head; head=$(head -n 1 "$1")
  tail -n 1 "$1" | cut -d';' -f"$(echo "$head" | tr ';' '\n' | grep -nx "$2" | cut -d: -f1)"
}

# The sum of the samples of metric family $2 in /metrics of the vozbox whose API listens on
# 127.0.0.1:$1 with the token in file $3; says so on stderr (and counts 0) when it cannot
# be read.
metric() {
  { curl -sf -H "Authorization: Bearer $(cat "$3")" "http://127.0.0.1:$1/metrics" \
      || echo "metric $2: no answer from the API on port $1" >&2; } \
    | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {n += $2} END {print n + 0}'
}

# Puts process $1 (all its threads) in a cgroup allowed $2 % of one core.
limit_cpu() {
  local period=10000 quota=$(( $2 * 100 )) cg
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    cg=/sys/fs/cgroup/vozbox-bench
    echo +cpu > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    mkdir -p "$cg" && echo "$quota $period" > "$cg/cpu.max"
  elif [ -d /sys/fs/cgroup/cpu ]; then
    cg=/sys/fs/cgroup/cpu/vozbox-bench
    mkdir -p "$cg" && echo "$period" > "$cg/cpu.cfs_period_us" && echo "$quota" > "$cg/cpu.cfs_quota_us"
  else
    echo "limit_cpu: no cgroup cpu controller" >&2; return 1
  fi
  echo "$1" > "$cg/cgroup.procs"
}
