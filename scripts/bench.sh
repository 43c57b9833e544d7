#!/usr/bin/env bash
# Tether's benchmark on one machine, loopback only: builds Release, makes a
# temporary data dir (user, API key, spaces) with the broker's admin
# subcommands, starts the broker, mock agents (--delay 0), the reference
# upstream and nginx in front of it, runs tether-loadgen's modes, prints a
# table and stops everything it started (also on Ctrl-C or a failure).
#   scripts/bench.sh [quick|full]     quick: about a minute; full: about 10 minutes
#   BUILD_DIR=build-bench JOBS=2 KEEP=1 (keep the temp dir and its logs)
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
*)
  echo "usage: scripts/bench.sh [quick|full]" >&2
  exit 2
  ;;
esac

echo "== build (Release, $build)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTETHER_WITH_TORCH=OFF -DTETHER_BUILD_BENCH=ON \
  -DTETHER_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target tether-broker tether-agent tether-loadgen -j "$jobs" >/dev/null
broker_bin=$build/broker/tether-broker
agent_bin=$build/agent/tether-agent
loadgen=$build/bench/tether-loadgen

have_nginx=1
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing nginx-light (the reference hop)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null || have_nginx=0
  else
    have_nginx=0
  fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ "$have_nginx" = 1 ] || echo "!! nginx not available: the nginx-hop comparison is skipped" >&2

work=$(mktemp -d /tmp/tether-bench.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A 127.0.0.1 port nothing listens on (bounded tries).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port found" >&2
  return 1
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
  local limit=$1
  shift
  for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

data=$work/data
mkdir -p "$data"
admin() { "$broker_bin" "$@" --data "$data" 2>>"$work/admin.log"; }
new_space() { admin space add "$1" --queue-limit 1000000 --timeout 600 "${@:2}" | awk 'length($NF) >= 16 {t=$NF} END {print t}'; }

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

results=$work/results.txt
: >"$results"
# run NAME LIMIT_SECONDS ARGS...: one loadgen run, its RESULT lines tagged with NAME.
run() {
  local name=$1 limit=$2
  shift 2
  echo "== $name: tether-loadgen $*"
  local rc=0
  timeout --signal=TERM --kill-after=5 "$limit" "$loadgen" "$@" >"$work/$name.log" 2>&1 || rc=$?
  grep -v '^RESULT' "$work/$name.log" || true
  grep '^RESULT' "$work/$name.log" | sed -E "s|^RESULT label=([^ ]*)|$name/\\1|" >>"$results" || true
  [ "$rc" = 0 ] || echo "!! $name exited with $rc"
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
# Scale first, on the fresh broker: memory freed by the load runs stays in the
# broker's heap and would hide what new connections cost.
run scale 300 scale --target "$target" --broker-pid "$broker_pid" --agents "$scale_n" --watchers "$scale_n" \
  --duration 240s
run latency 300 latency --target "$target" "${reference[@]}" --space bench --concurrency "$lat_conc" \
  --requests "$lat_requests" --warmup "$lat_warmup" --duration "$lat_time"
for n in 1 10 100; do
  spaces_var=tp_spaces_$n
  run "tp$n" 300 throughput --target "$target" --space "${!spaces_var}" --concurrency "$tp_conc" \
    --requests "$tp_requests" --warmup "$tp_warmup" --duration "$tp_time"
done
run tp1-submit 300 throughput --target "$target" --space "$tp_spaces_1" --flow submit --concurrency "$tp_conc" \
  --requests "$tp_requests" --warmup "$tp_warmup" --duration "$tp_time"
# Two sizes: flat memory means the peak does not grow with the upload.
run upload-small 300 upload --target "$target" --broker-pid "$broker_pid" --space bench-files \
  --requests "$up_small_count" --size "$up_small" --duration 120s --timeout 60s
run upload-large 300 upload --target "$target" --broker-pid "$broker_pid" --space bench-files \
  --requests "$up_large_count" --size "$up_large" --duration 240s --timeout 60s
echo "== machine after: load $(cut -d' ' -f1-3 /proc/loadavg)"

# The table: one row per figure, from the RESULT lines.
get() { awk -v n="$1" -v k="$2" '$1 == n { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v = kv[2] } } END { print (v == "" ? "-" : v) }' "$results"; }
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
for n in 1 10 100; do
  printf '%-44s %-34s %s\n' "throughput $n space(s), POST+SSE, conc $tp_conc" \
    "$(get "tp$n/throughput" rps) req/s (p99 $(get "tp$n/throughput" p99_ms) ms, err $(get "tp$n/throughput" errors))" ">= 20000 req/s"
done
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
