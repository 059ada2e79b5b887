# Sourced by the load scripts' --anchor mode: the same SIPp load against the anchors of
# ../shared/anchors/kamailio/ (Kamailio registrar, the bare Kamailio stateful proxy,
# Kamailio + rtpengine), run by that harness in the same invocation as vozbox's steps.
# Needs `apt-get install kamailio rtpengine-daemon` (the harness starts them itself, by PID).

anchors=${ANCHORS:-"$here/../shared/anchors/kamailio"}

# anchor_run SCRIPT MODE RATES SECS: runs the harness and prints one line per rate,
# "offered achieved us_per_op" (us_per_op: the anchor's CPU per registration or call, every
# process and thread of it).
anchor_run() {
  local script=$1 mode=$2 rates=$3 secs=$4 out
  [ -x "$anchors/$script" ] || { echo "no anchor harness at $anchors" >&2; return 1; }
  command -v kamailio >/dev/null || { echo "kamailio missing: apt-get install kamailio" >&2; return 1; }
  out=$(mktemp -d /tmp/vozbox-anchor.XXXXXX)
  local args=()
  [ "$script" = run.sh ] && args=("$mode")
  (cd "$anchors" && WAIT_IDLE_S=${WAIT_IDLE_S:-20} ./"$script" "${args[@]}" \
      --rates "$rates" --duration "$secs" --keep-going --retries 0 --outdir "$out" \
      > "$out/run.out" 2>&1) || true
  grep "^$mode " "$out/summary.txt" 2>/dev/null \
    | sed -E 's/.*offered= *([0-9]+)\/s achieved= *([0-9.]+)\/s.* srv_us\/op=([0-9.]+).*/\1 \2 \3/'
}

# anchor_ratio LABEL OURS_FILE ANCHOR_LINES: for each rate in both, ours / the anchor's CPU
# per operation. OURS_FILE holds "rate us" lines.
anchor_ratio() {
  local label=$1 ours=$2 lines=$3
  printf '%8s %12s %14s %8s   (%s)\n' offered "vozbox_us" "anchor_us" ratio "$label"
  while read -r rate achieved us; do
    [ -n "$rate" ] || continue
    mine=$(awk -v r="$rate" '$1 == r {print $2}' "$ours")
    [ -n "$mine" ] || continue
    printf '%8s %12s %14s %8s\n' "$rate" "$mine" "$us (${achieved}/s)" \
      "$(echo "scale=2; $mine / $us" | bc -l)"
  done <<< "$lines"
}
