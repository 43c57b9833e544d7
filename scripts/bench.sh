#!/usr/bin/env bash
# Tether's benchmark on one machine, loopback only: builds Release, makes a
# temporary data dir (user, API key, spaces) with the broker's admin
# subcommands, starts the broker, mock agents (--delay 0), the reference
# upstream and nginx in front of it, runs tether-loadgen's modes, prints a
# table and stops everything it started (also on Ctrl-C or a failure).
#   scripts/bench.sh [quick|full]     quick: about a minute; full: about 10 minutes
#   scripts/bench.sh scale10k         10,000 idle agents / SSE watchers, each on a fresh broker (~10 min at most)
#   scripts/bench.sh upload1g         8 x 4 MiB, then 4 x 256 MiB and 1 x 1 GiB uploads (~5 min at most)
#   scripts/bench.sh soak             max POST+SSE rate, then SOAK_SECONDS (600) at half of it (~13 min)
#   scripts/bench.sh retention        latency at concurrency 1 while a retention pass deletes
#                                     RETENTION_REQUESTS (40000) finished requests, against the same
#                                     run before they are due (~3 min)
#   scripts/bench.sh tunnel           the latency --upstream adds: POST /v1/chat/completions
#                                     through the broker and an agent to the reference upstream
#                                     (answers at once, streamed), against the same POST sent
#                                     straight to it, concurrency 1 (~1 min)
#   BUILD_DIR=build-bench JOBS=2 KEEP=1 (keep the temp dir and its logs)
#   PREBUILT=build                    use that build's binaries instead of building
#   The last three wait (up to QUIET_WAIT=900 s) before each run until the
#   1-minute load average is at most QUIET_LOAD=1.0; QUIET_LOAD=off skips that.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-quick}
build=${BUILD_DIR:-$root/build-bench}
jobs=${JOBS:-2}

case "$mode" in
quick)
  lat_requests=2000 lat_warmup=200 lat_conc=1 lat_time=20s
  tp_requests=20000 tp_warmup=1000 tp_conc=64 tp_time=8s
  scale_n=200
  up_small_count=4 up_small=4MiB up_large_count=2 up_large=64MiB
  ;;
full)
  lat_requests=20000 lat_warmup=1000 lat_conc=1 lat_time=90s
  tp_requests=400000 tp_warmup=5000 tp_conc=128 tp_time=60s
  scale_n=1500
  up_small_count=8 up_small=4MiB up_large_count=4 up_large=192MiB
  ;;
scale10k | upload1g | soak | retention | tunnel) ;;
*)
  echo "usage: scripts/bench.sh [quick|full|scale10k|upload1g|soak|retention|tunnel]" >&2
  exit 2
  ;;
esac

if [ -n "${PREBUILT:-}" ]; then
  # PREBUILT=DIR: the binaries of a build already made (say the test build,
  # RelWithDebInfo), not rebuilt; the figures say which.
  build=$(cd "$PREBUILT" && pwd)
  echo "== prebuilt binaries in $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"
else
  echo "== build (Release, $build)"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTETHER_WITH_TORCH=OFF -DTETHER_BUILD_BENCH=ON \
    -DTETHER_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target tether-broker tether-agent tether-loadgen -j "$jobs" >/dev/null
fi
broker_bin=$build/broker/tether-broker
agent_bin=$build/agent/tether-agent
loadgen=$build/bench/tether-loadgen

have_nginx=1
[ "$mode" = quick ] || [ "$mode" = full ] || have_nginx=skip
if [ "$have_nginx" = skip ]; then
  have_nginx=0
elif ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing nginx-light (the reference hop)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null || have_nginx=0
  else
    have_nginx=0
  fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ "$have_nginx" = 0 ] && { [ "$mode" = quick ] || [ "$mode" = full ]; }; then
  echo "!! nginx not available: the nginx-hop comparison is skipped" >&2
fi

# shellcheck source=scripts/lib/bench-common.sh
. "$root/scripts/lib/bench-common.sh"
bench_workdir tether-bench

results=$work/results.txt
: >"$results"
# Quiet-machine gate (the long modes only): wait while the 1-minute load
# average is above QUIET_LOAD, up to QUIET_WAIT seconds, then measure anyway.
gate=0
quiet_load=${QUIET_LOAD:-1.0}
quiet_wait=${QUIET_WAIT:-900}
wait_quiet() {
  [ "$gate" = 1 ] && [ "$quiet_load" != off ] || return 0
  local waited=0 l
  while l=$(cut -d' ' -f1 /proc/loadavg) && awk -v l="$l" -v m="$quiet_load" 'BEGIN { exit !(l > m) }'; do
    if [ "$waited" -ge "$quiet_wait" ]; then
      echo "!! load $l is still above $quiet_load after ${waited} s: measuring anyway"
      return 0
    fi
    echo "   load $l > $quiet_load: waiting 60 s (${waited} s so far)"
    sleep 60
    waited=$((waited + 60))
  done
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' /; }
# run NAME LIMIT_SECONDS ARGS...: one loadgen run, its RESULT lines tagged with
# NAME, and a NAME/load line (load average before and after, time).
run() {
  local name=$1 limit=$2
  shift 2
  wait_quiet
  local l0 t0
  l0=$(loadavg) t0=$(date -u +%FT%TZ)
  echo "== $name ($t0, load $l0): tether-loadgen $*"
  local rc=0
  timeout --signal=TERM --kill-after=5 "$limit" "$loadgen" "$@" >"$work/$name.log" 2>&1 || rc=$?
  grep -v '^RESULT' "$work/$name.log" || true
  grep '^RESULT' "$work/$name.log" | sed -E "s|^RESULT label=([^ ]*)|$name/\\1|" >>"$results" || true
  echo "$name/load before=$l0 after=$(loadavg) at=$t0 rc=$rc" >>"$results"
  [ "$rc" = 0 ] || echo "!! $name exited with $rc"
}
get() { awk -v n="$1" -v k="$2" '$1 == n { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v = kv[2] } } END { print (v == "" ? "-" : v) }' "$results"; }

data=$work/data
admin() { "$broker_bin" "$@" --data "$data" 2>>"$work/admin.log"; }
new_space() { admin space add "$1" --queue-limit 1000000 --timeout 600 "${@:2}" | awk 'length($NF) >= 16 {t=$NF} END {print t}'; }
# new_data DIR: a data dir with the admin user "bench"; exports its API key.
new_data() {
  data=$1
  mkdir -p "$data"
  TETHER_PASSWORD=$(head -c 18 /dev/urandom | base64) admin user add bench --admin >/dev/null
  key=$(admin apikey add bench | awk 'length($NF) >= 16 {t=$NF} END {print t}')
  export TETHER_BENCH_KEY=$key TETHER_BENCH_ADMIN_KEY=$key
}
# start_broker NAME EXTRA...: serve $data on a free port; sets broker_pid and target.
start_broker() {
  local name=$1
  shift
  port=$(free_port)
  target=127.0.0.1:$port
  "$broker_bin" serve --listen "$target" --data "$data" --web "$root/web" --log-level warn "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  broker_pid=$!
  pids+=("$broker_pid")
  wait_for 15 curl -sf "http://$target/healthz" || { echo "broker did not start:"; cat "$work/$name.err"; exit 1; }
}
# stop_broker: SIGTERM, bounded wait, then SIGKILL; forgets its pid.
stop_broker() {
  kill -TERM "$broker_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  local kept=() p
  for p in "${pids[@]}"; do [ "$p" = "$broker_pid" ] || kept+=("$p"); done
  pids=("${kept[@]}")
}
# start_mock NAME ARGS...: a mock agent (no delay) on $target.
start_mock() {
  local name=$1
  shift
  "$agent_bin" --broker "ws://$target/agent" --backend mock --delay 0 --name "$name" --log-level warn "$@" \
    >"$work/agent-$name.out" 2>"$work/agent-$name.err" &
  pids+=("$!")
}
space_connected() { curl -sf "http://$target/metrics" | grep -q "^tether_space_connected{space=\"$1\"} 1$"; }
machine_line() {
  echo "== machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -m | awk '/^Mem:/ {print $2}') MiB," \
    "open files soft/hard $(ulimit -Sn)/$(ulimit -Hn), load $(loadavg), $(date -u +%FT%TZ)"
}
row() { printf '%-52s %-50s %s\n' "$@"; }

case "$mode" in
scale10k)
  # Every idle connection is a descriptor in the broker and in tether-loadgen,
  # and neither may hold more than `ulimit -Hn` (20,000 on the machine this
  # was written on). The broker raises its own soft limit to fit
  # --max-connections; tether-loadgen raises its own to the hard limit.
  gate=1
  ulimit -n "$(ulimit -Hn)"
  hard=$(ulimit -Hn)
  agents=${SCALE_AGENTS:-10000}
  watchers=${SCALE_WATCHERS:-10000}
  # What the broker may hold: the hard limit less its own files (store, log)
  # and headroom (the broker wants max-connections + 256 descriptors).
  max_conn=$((hard - 256))
  # Agents and watchers at once: as many watchers as fit beside the agents,
  # with 44 descriptors to spare on either side.
  both_watchers=$((max_conn - agents - 44))
  [ "$both_watchers" -le "$watchers" ] || both_watchers=$watchers
  machine_line
  echo "== scale10k: broker --max-connections $max_conn; runs: $watchers watchers alone, then $agents agents" \
    "and $both_watchers watchers at once (fd cap $hard per process)"
  # Each run on a fresh broker and data dir: memory freed by one run stays in
  # the broker's heap and would hide what the next run's connections cost.
  new_data "$work/data-watchers"
  start_broker broker-watchers --max-connections "$max_conn"
  run scale-watchers 420 scale --target "$target" --broker-pid "$broker_pid" --agents 0 --watchers "$watchers" \
    --settle 5s --duration 360s --timeout 30s
  stop_broker
  new_data "$work/data-both"
  start_broker broker-both --max-connections "$max_conn"
  run scale-both 600 scale --target "$target" --broker-pid "$broker_pid" --agents "$agents" \
    --watchers "$both_watchers" --settle 5s --duration 540s --timeout 30s
  stop_broker
  echo "== machine after: load $(loadavg)"
  echo
  row "figure (scale10k, $(nproc) cores, fd cap $hard)" "measured" "goal"
  row "memory per idle SSE watcher, watchers alone" \
    "$(get scale-watchers/scale kib_per_watcher) KiB (n=$(get scale-watchers/scale watchers), load $(get scale-watchers/load before))" "< 20 KiB"
  row "memory per idle agent connection" \
    "$(get scale-both/scale kib_per_agent) KiB (n=$(get scale-both/scale agents), load $(get scale-both/load before))" "< 20 KiB"
  row "memory per idle SSE watcher, beside the agents" \
    "$(get scale-both/scale kib_per_watcher) KiB (n=$(get scale-both/scale watchers))" "< 20 KiB"
  row "memory per space" "$(get scale-both/scale kib_per_space) KiB (n=$((agents + 1)))" ""
  row "broker RSS: spaces made -> agents -> + watchers" \
    "$(get scale-both/scale rss_base_kib) -> $(get scale-both/scale rss_agents_kib) -> $(get scale-both/scale rss_watchers_kib) KiB" ""
  row "broker open files, everything connected" "$(get scale-both/scale broker_fds) (watchers alone: $(get scale-watchers/scale broker_fds))" ""
  row "failures (watchers alone / both)" "$(get scale-watchers/scale failures) / $(get scale-both/scale failures)" "0"
  exit 0
  ;;
upload1g)
  gate=1
  new_data "$work/data"
  files_token=$(new_space bench-files --features prompt,file)
  # 1 GiB in one request needs a larger cap than the default 256 MiB, at the
  # broker (--max-upload) and at the agent (--max-input).
  start_broker broker --max-upload 1100MiB
  start_mock up --space "bench-files=$files_token" --capacity 1 --workers 1 --max-input 1100MiB
  wait_for 30 space_connected bench-files || { echo "agent did not register:"; tail -5 "$work"/agent-*.err; exit 1; }
  machine_line
  # Small first: its peak is the baseline the 1 GiB runs are compared with.
  run upload-4m 300 upload --target "$target" --broker-pid "$broker_pid" --space bench-files \
    --requests 8 --size 4MiB --duration 120s --timeout 60s
  run upload-256m 300 upload --target "$target" --broker-pid "$broker_pid" --space bench-files \
    --requests 4 --size 256MiB --duration 270s --timeout 120s
  run upload-1g 300 upload --target "$target" --broker-pid "$broker_pid" --space bench-files \
    --requests 1 --size 1GiB --duration 270s --timeout 120s
  echo "== machine after: load $(loadavg)"
  echo
  row "figure (upload1g, $(nproc) cores)" "measured" "goal"
  for u in 4m 256m 1g; do
    row "uploads $(get "upload-$u/uploads" count) x $(get "upload-$u/uploads" mib_each) MiB: MiB/s to 202 / completed" \
      "$(get "upload-$u/uploads" upload_mib_s) / $(get "upload-$u/uploads" e2e_mib_s) (load $(get "upload-$u/load" before))" ""
    row "  broker RSS before -> peak (VmHWM / sampled), KiB" \
      "$(get "upload-$u/uploads" rss_before_kib) -> $(get "upload-$u/uploads" hwm_kib) / $(get "upload-$u/uploads" sampled_peak_kib)" "flat"
    row "  errors" "$(get "upload-$u/uploads" errors)" "0"
  done
  exit 0
  ;;
soak)
  gate=1
  soak_s=${SOAK_SECONDS:-600}
  soak_conc=${SOAK_CONCURRENCY:-64}
  new_data "$work/data"
  start_broker broker
  # The space through the admin API, as in quick/full (its token is shown once).
  tp_token=$(curl -sf -X POST "http://$target/api/admin/spaces" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"soak","queue_limit":1000000,"timeout_s":600}' |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  start_mock soak --space "soak=$tp_token" --capacity 64 --workers 2
  wait_for 30 space_connected soak || { echo "agent did not register:"; tail -5 "$work"/agent-*.err; exit 1; }
  machine_line
  run soak-max 120 throughput --target "$target" --space soak --concurrency "$soak_conc" --requests 1000000 \
    --warmup 1000 --duration 15s
  max_rps=$(get soak-max/throughput rps)
  [ "$max_rps" != - ] || { echo "!! no maximum measured"; exit 1; }
  rate=$(awk -v r="$max_rps" 'BEGIN { printf "%d", r / 2 }')
  [ "$rate" -ge 1 ] || { echo "!! maximum $max_rps req/s is too low to halve"; exit 1; }
  run soak $((soak_s + 120)) throughput --target "$target" --space soak --concurrency "$soak_conc" \
    --rate "$rate" --requests $((rate * (soak_s + 60))) --duration "${soak_s}s" --broker-pid "$broker_pid" \
    --sample-every 10s
  echo "== machine after: load $(loadavg)"
  echo
  row "figure (soak, $(nproc) cores)" "measured" "goal"
  row "maximum POST+SSE, 1 space, conc $soak_conc, 15 s" "$(get soak-max/throughput rps) req/s (load $(get soak-max/load before))" ""
  row "soak: paced at, achieved" "$rate req/s, $(get soak/throughput rps) req/s over $(get soak/throughput seconds) s (load $(get soak/load before) -> $(get soak/load after))" "half the maximum"
  row "soak: completed, errors, starts > 10 ms late" "$(get soak/throughput ok), $(get soak/throughput errors), $(get soak/throughput late_starts)" "no errors"
  row "soak: latency p50/p99/max ms" "$(get soak/throughput p50_ms)/$(get soak/throughput p99_ms)/$(get soak/throughput max_ms)" ""
  row "soak: broker RSS start / middle / end / peak KiB" \
    "$(get soak/throughput-memory start_kib) / $(get soak/throughput-memory mid_kib) / $(get soak/throughput-memory end_kib) / $(get soak/throughput-memory peak_kib)" "flat"
  row "soak: RSS slope KiB/min (all / second half)" \
    "$(get soak/throughput-memory slope_kib_min) / $(get soak/throughput-memory slope2_kib_min) ($(get soak/throughput-memory samples) samples)" "~0"
  row "soak: broker open files start -> end" "$(get soak/throughput-memory fds_start) -> $(get soak/throughput-memory fds_end)" "flat"
  exit 0
  ;;
tunnel)
  # client -> broker /v1 -> WebSocket -> tether-agent --upstream -> reference
  # upstream (a streamed one-token chat answer at once), against client ->
  # reference upstream directly; both sequential over a kept-alive connection.
  "$loadgen" upstream --listen 127.0.0.1:0 --port-file "$work/upstream.port" --lifetime 30m >"$work/upstream.out" 2>&1 &
  pids+=("$!")
  wait_for 10 test -s "$work/upstream.port" || { echo "upstream did not start"; exit 1; }
  up=127.0.0.1:$(cat "$work/upstream.port")
  new_data "$work/data"
  start_broker broker
  relay_token=$(new_space relay)
  local_token=$(new_space local)
  # One agent: "relay" from the upstream, "local" from the mock backend (no
  # delay), which tells the broker's and the WebSocket's share apart from the
  # upstream call's.
  start_mock relay --space "relay=$relay_token" --space "local=$local_token" --upstream "relay=openai+http://$up/v1#model=ref"
  wait_for 30 space_connected relay || { echo "agent did not register:"; tail -5 "$work"/agent-*.err; exit 1; }
  machine_line
  n=${TUNNEL_REQUESTS:-5000}
  run tunnel 180 latency --flow openai --target "$target" --space relay --concurrency 1 --requests "$n" \
    --warmup 200 --duration 60s --reference "$up" --reference-label direct
  run local 180 latency --flow openai --target "$target" --space local --concurrency 1 --requests "$n" \
    --warmup 200 --duration 60s
  echo "== machine after: load $(loadavg)"
  echo
  row "figure (tunnel, $(nproc) cores, n=$(get tunnel/tether ok))" "measured" "goal"
  row "direct to the upstream p50/p99 ms" "$(get tunnel/direct p50_ms)/$(get tunnel/direct p99_ms)" ""
  row "through broker + agent p50/p99 ms" "$(get tunnel/tether p50_ms)/$(get tunnel/tether p99_ms)" ""
  row "added by the tunnel p50/p99 ms" "$(get tunnel/ratio added_p50_ms)/$(get tunnel/ratio added_p99_ms)" "<= 1 ms at p50"
  row "the same broker + agent, mock backend p50/p99 ms" "$(get local/tether p50_ms)/$(get local/tether p99_ms)" "(the broker's share)"
  exit 0
  ;;
retention)
  # No quiet-machine gate: the second run must start when the requests are due.
  n=${RETENTION_REQUESTS:-40000}
  retain=60
  new_data "$work/data"
  # Passes every second; what is older than $retain s is deleted, 50 a batch.
  start_broker broker --retain "${retain}s" --prune-interval 1s
  token_of() {
    curl -sf -X POST "http://$target/api/admin/spaces" -H "Authorization: Bearer $key" \
      -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"queue_limit\":1000000,\"timeout_s\":600}" |
      sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
  }
  fill_token=$(token_of fill)
  lat_token=$(token_of lat)
  start_mock fill --space "fill=$fill_token" --capacity 64 --workers 2
  start_mock lat --space "lat=$lat_token"
  wait_for 30 space_connected fill || { echo "agent did not register:"; tail -5 "$work"/agent-*.err; exit 1; }
  wait_for 30 space_connected lat || { echo "agent did not register:"; tail -5 "$work"/agent-*.err; exit 1; }
  machine_line
  t_fill=$(date +%s)
  run fill 300 throughput --target "$target" --space fill --concurrency 64 --requests "$n" --warmup 0 --duration 120s
  # The same latency run twice: before the filled requests are due, then
  # while the passes delete them.
  sleep 5
  run lat-before 120 latency --target "$target" --space lat --concurrency 1 --requests 100000 --warmup 100 \
    --duration 20s
  due=$((t_fill + retain + 2 - $(date +%s)))
  [ "$due" -gt 0 ] && sleep "$due"
  removed0=$(curl -sf "http://$target/metrics" | sed -n 's/^tether_retention_removed_total{reason="age"} //p')
  run lat-during 120 latency --target "$target" --space lat --concurrency 1 --requests 100000 --warmup 0 \
    --duration 20s
  removed1=$(curl -sf "http://$target/metrics" | sed -n 's/^tether_retention_removed_total{reason="age"} //p')
  echo "== machine after: load $(loadavg)"
  echo
  row "figure (retention, $(nproc) cores)" "measured" "goal"
  row "filled: completed requests" "$(get fill/throughput ok) at $(get fill/throughput rps) req/s" ""
  row "latency p50/p99/max ms, before they are due" \
    "$(get lat-before/tether p50_ms)/$(get lat-before/tether p99_ms)/$(get lat-before/tether max_ms) (load $(get lat-before/load before))" ""
  row "latency p50/p99/max ms, while deleted" \
    "$(get lat-during/tether p50_ms)/$(get lat-during/tether p99_ms)/$(get lat-during/tether max_ms) (load $(get lat-during/load before))" "no jump"
  row "deleted by age during that run" "$((removed1 - removed0)) (total $removed1)" "all $n"
  exit 0
  ;;
esac

# ---- quick / full
mkdir -p "$data"

echo "== setup ($work)"
TETHER_PASSWORD=$(head -c 18 /dev/urandom | base64) admin user add bench --admin >/dev/null
key=$(admin apikey add bench | awk 'length($NF) >= 16 {t=$NF} END {print t}')
export TETHER_BENCH_KEY=$key TETHER_BENCH_ADMIN_KEY=$key
lat_token=$(new_space bench)
files_token=$(new_space bench-files --features prompt,file)
port=$(free_port)
target=127.0.0.1:$port
"$broker_bin" serve --listen "$target" --data "$data" --web "$root/web" --log-level warn \
  >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
pids+=("$broker_pid")
wait_for 15 curl -sf "http://$target/healthz" || { echo "broker did not start:"; cat "$work/broker.err"; exit 1; }

# The throughput spaces through the admin API (one process per space would
# take minutes); the answer carries the agent token, shown once.
api_space() {
  curl -sf -X POST "http://$target/api/admin/spaces" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"queue_limit\":1000000,\"timeout_s\":600}" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}
declare -A tp_args
tp_spaces_1=tp1-0
tp_args[1]="--space tp1-0=$(api_space tp1-0)"
for n in 10 100; do
  names=() args=()
  for i in $(seq 0 $((n - 1))); do
    names+=("tp$n-$i")
    args+=(--space "tp$n-$i=$(api_space "tp$n-$i")")
  done
  printf -v "tp_spaces_$n" '%s' "$(IFS=,; echo "${names[*]}")"
  tp_args[$n]="${args[*]}"
done

start_agent() { # NAME ARGS...
  local name=$1
  shift
  "$agent_bin" --broker "ws://$target/agent" --backend mock --delay 0 --name "$name" --log-level warn "$@" \
    >"$work/agent-$name.out" 2>"$work/agent-$name.err" &
  pids+=("$!")
}
start_agent lat --space "bench=$lat_token" --space "bench-files=$files_token" --capacity 4 --workers 2
# shellcheck disable=SC2086 # word splitting of the --space list is intended
start_agent tp1 ${tp_args[1]} --capacity 64 --workers 2
# shellcheck disable=SC2086
start_agent tp10 ${tp_args[10]} --capacity 8 --workers 2
# shellcheck disable=SC2086
start_agent tp100 ${tp_args[100]} --capacity 1 --workers 2
all_connected() {
  local m
  m=$(curl -sf "http://$target/metrics") || return 1
  ! grep -q '^tether_space_connected{space="\(bench\|tp\).*} 0$' <<<"$m" &&
    [ "$(grep -c '^tether_space_connected{.*} 1$' <<<"$m")" -ge 113 ]
}
wait_for 30 all_connected || { echo "agents did not register:"; tail -5 "$work"/agent-*.err; exit 1; }

reference=()
if [ "$have_nginx" = 1 ]; then
  "$loadgen" upstream --listen 127.0.0.1:0 --port-file "$work/upstream.port" --lifetime 30m >"$work/upstream.out" 2>&1 &
  pids+=("$!")
  wait_for 10 test -s "$work/upstream.port" || { echo "upstream did not start:"; cat "$work/upstream.out"; exit 1; }
  up_port=$(cat "$work/upstream.port")
  ngx_port=$(free_port)
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream reference { server 127.0.0.1:$up_port; keepalive 256; }
  server {
    listen 127.0.0.1:$ngx_port;
    location / {
      proxy_pass http://reference;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 60s;
    }
  }
}
EOF
  "$nginx_bin" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" >"$work/nginx/out" 2>&1 &
  pids+=("$!")
  wait_for 10 curl -sf "http://127.0.0.1:$ngx_port/healthz" || { echo "nginx did not start:"; cat "$work/nginx/error.log"; exit 1; }
  reference=(--reference "127.0.0.1:$ngx_port")
fi

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
# Scale first, on the fresh broker: memory freed by the load runs stays in the
# broker's heap and would hide what new connections cost.
run scale 300 scale --target "$target" --broker-pid "$broker_pid" --agents "$scale_n" --watchers "$scale_n" \
  --duration 240s
run latency 300 latency --target "$target" "${reference[@]}" --space bench --concurrency "$lat_conc" \
  --requests "$lat_requests" --warmup "$lat_warmup" --duration "$lat_time"
# The OpenAI endpoint: POST /v1/chat/completions (not streamed) on a
# keep-alive connection until the answer; the reference is the same request
# through nginx to the upstream, which answers a chat.completion at once.
run latency-openai 300 latency --target "$target" "${reference[@]}" --space bench --flow openai \
  --concurrency "$lat_conc" --requests "$lat_requests" --warmup "$lat_warmup" --duration "$lat_time"
for n in 1 10 100; do
  spaces_var=tp_spaces_$n
  run "tp$n" 300 throughput --target "$target" --space "${!spaces_var}" --concurrency "$tp_conc" \
    --requests "$tp_requests" --warmup "$tp_warmup" --duration "$tp_time"
done
# The references for throughput, same client, flow and concurrency: through
# the nginx hop to the trivial upstream, and straight to that upstream (a
# stateless server that stores nothing: about the most this machine's two
# cores can do with the load generator on them too).
if [ "$have_nginx" = 1 ]; then
  run tp1-nginx 300 throughput --target "127.0.0.1:$ngx_port" --space "$tp_spaces_1" --concurrency "$tp_conc" \
    --requests "$tp_requests" --warmup "$tp_warmup" --duration "$tp_time"
  run tp1-upstream 300 throughput --target "127.0.0.1:$up_port" --space "$tp_spaces_1" --concurrency "$tp_conc" \
    --requests "$tp_requests" --warmup "$tp_warmup" --duration "$tp_time"
fi
run tp1-submit 300 throughput --target "$target" --space "$tp_spaces_1" --flow submit --concurrency "$tp_conc" \
  --requests "$tp_requests" --warmup "$tp_warmup" --duration "$tp_time"
# Two sizes: flat memory means the peak does not grow with the upload.
run upload-small 300 upload --target "$target" --broker-pid "$broker_pid" --space bench-files \
  --requests "$up_small_count" --size "$up_small" --duration 120s --timeout 60s
run upload-large 300 upload --target "$target" --broker-pid "$broker_pid" --space bench-files \
  --requests "$up_large_count" --size "$up_large" --duration 240s --timeout 60s
echo "== machine after: load $(cut -d' ' -f1-3 /proc/loadavg)"

# The table: one row per figure, from the RESULT lines.
echo
printf '%-44s %-34s %s\n' "figure ($mode, $(nproc) cores)" "measured" "goal"
printf '%-44s %-34s %s\n' "latency p50/p90/p99/max ms (conc $lat_conc)" \
  "$(get latency/tether p50_ms)/$(get latency/tether p90_ms)/$(get latency/tether p99_ms)/$(get latency/tether max_ms)" ""
printf '%-44s %-34s %s\n' "latency req/s (conc $lat_conc)" "$(get latency/tether rps)" ""
if [ "$have_nginx" = 1 ]; then
  printf '%-44s %-34s %s\n' "nginx hop p50/p90/p99/max ms" \
    "$(get latency/nginx-hop p50_ms)/$(get latency/nginx-hop p90_ms)/$(get latency/nginx-hop p99_ms)/$(get latency/nginx-hop max_ms)" ""
  printf '%-44s %-34s %s\n' "tether / nginx hop p50, p99" "$(get latency/ratio p50_x)x, $(get latency/ratio p99_x)x" "<= 1.5x"
fi
printf '%-44s %-34s %s\n' "OpenAI chat p50/p90/p99/max ms (conc $lat_conc)" \
  "$(get latency-openai/tether p50_ms)/$(get latency-openai/tether p90_ms)/$(get latency-openai/tether p99_ms)/$(get latency-openai/tether max_ms)" ""
if [ "$have_nginx" = 1 ]; then
  printf '%-44s %-34s %s\n' "  the same POST through nginx hop p50/p99 ms" \
    "$(get latency-openai/nginx-hop p50_ms)/$(get latency-openai/nginx-hop p99_ms)" ""
  printf '%-44s %-34s %s\n' "  tether / nginx hop p50, p99" \
    "$(get latency-openai/ratio p50_x)x, $(get latency-openai/ratio p99_x)x" "<= 1.5x"
fi
for n in 1 10 100; do
  printf '%-44s %-34s %s\n' "throughput $n space(s), POST+SSE, conc $tp_conc" \
    "$(get "tp$n/throughput" rps) req/s (p99 $(get "tp$n/throughput" p99_ms) ms, err $(get "tp$n/throughput" errors))" ">= 20000 req/s"
done
if [ "$have_nginx" = 1 ]; then
  printf '%-44s %-34s %s\n' "  reference: nginx hop, POST+SSE, conc $tp_conc" "$(get tp1-nginx/throughput rps) req/s" ""
  printf '%-44s %-34s %s\n' "  reference: bare upstream, POST+SSE" "$(get tp1-upstream/throughput rps) req/s" ""
  printf '%-44s %-34s %s\n' "  tether 1 space / nginx hop, / bare upstream" \
    "$(awk -v a="$(get tp1/throughput rps)" -v b="$(get tp1-nginx/throughput rps)" -v c="$(get tp1-upstream/throughput rps)" \
      'BEGIN { if (b > 0 && c > 0) printf "%.2fx, %.2fx", a / b, a / c; else print "-" }')" ""
fi
printf '%-44s %-34s %s\n' "throughput 1 space, POST only, completed/s" "$(get tp1-submit/throughput completed_rps) req/s" ">= 20000 req/s"
printf '%-44s %-34s %s\n' "memory per idle agent connection" "$(get scale/scale kib_per_agent) KiB (n=$(get scale/scale agents))" "< 20 KiB"
printf '%-44s %-34s %s\n' "memory per idle SSE watcher" "$(get scale/scale kib_per_watcher) KiB (n=$(get scale/scale watchers))" "< 20 KiB"
for u in small large; do
  count_var=up_${u}_count size_var=up_$u
  printf '%-44s %-34s %s\n' "uploads ${!count_var} x ${!size_var}: MiB/s to 202 / completed" \
    "$(get "upload-$u/uploads" upload_mib_s) / $(get "upload-$u/uploads" e2e_mib_s)" ""
  printf '%-44s %-34s %s\n' "  broker RSS before -> peak (KiB)" \
    "$(get "upload-$u/uploads" rss_before_kib) -> $(get "upload-$u/uploads" hwm_kib)" "flat"
done
