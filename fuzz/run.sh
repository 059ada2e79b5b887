#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 30) from its seed corpus, one after the other,
# and prints one summary line per target (executions, coverage). A crash, a panic or a
# failed invariant stops the run with a non-zero exit and leaves the input in
# fuzz/artifacts/<target>/. cargo-fuzz is installed when missing; the stable toolchain is
# enough (RUSTC_BOOTSTRAP lets it take the sanitizer flags).
#   fuzz/run.sh [SECONDS] [TARGET...]      SANITIZER=address|none (default address)
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
shift || true
targets=${*:-sip_message stream_framing digest_header provisioning sdp rtp_path binding_value}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
mkdir -p logs
for t in $targets; do
  case $t in
    sip_message|stream_framing) seeds=../tests/data/rfc4475 ;;
    digest_header) seeds=seeds/digest ;;
    provisioning) seeds=../docs/examples ;;
    sdp) seeds=seeds/sdp ;;
    rtp_path) seeds=seeds/rtp ;;
    binding_value) seeds=seeds/binding ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  mkdir -p "corpus/$t"
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -O -s "${SANITIZER:-address}" "$t" "corpus/$t" "$seeds" -- \
      -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 > "logs/$t.log" 2>&1; then
    tail -40 "logs/$t.log" >&2
    echo "fuzz target $t FAILED (log: fuzz/logs/$t.log)" >&2
    exit 1
  fi
  # (-a: libFuzzer logs hold raw bytes; a missing figure must not stop the next target)
  execs=$(grep -ao 'stat::number_of_executed_units: [0-9]*' "logs/$t.log" | awk '{print $2}' || true)
  cov=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "logs/$t.log" | grep -ao 'cov: [0-9]*' | awk '{print $2}' || true)
  ft=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "logs/$t.log" | grep -ao 'ft: [0-9]*' | awk '{print $2}' || true)
  corp=$(ls "corpus/$t" | wc -l)
  printf '%-15s %6ss %12s execs  cov %6s  ft %7s  corpus %6s\n' "$t" "$secs" "$execs" "$cov" "$ft" "$corp"
done
