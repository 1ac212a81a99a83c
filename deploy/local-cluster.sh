#!/usr/bin/env bash
# A cluster of N `curate silo` processes on this machine, sharing Azure Table (Azurite) or Redis membership.
#
#   deploy/local-cluster.sh start N [--clustering azure|redis] [--roles-gpu K] [--store azure|local] [--base-port P]
#   deploy/local-cluster.sh status
#   deploy/local-cluster.sh stop [--timeout SECONDS]
#   deploy/local-cluster.sh env I        # print silo I's environment (to run it by hand, or a client next to it)
#
# Everything lives in the run folder ($CURATION_RUN_DIR, default .run/local-cluster under the repository root):
# silo-I.log / silo-I.pid / silo-I.env per silo, azurite.* or redis.* for a backing service this script started,
# and cluster.env (what `start` chose). Silos are configured only through Curation__* environment variables (the same
# keys as appsettings.json). `stop` signals the recorded process ids only: SIGTERM, then SIGKILL after the timeout.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run_dir=${CURATION_RUN_DIR:-$repo/.run/local-cluster}
azurite_bin=$repo/tools/azurite/node_modules/.bin/azurite
# Azurite's well-known development account (public, not a secret).
azurite_account=devstoreaccount1
azurite_key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

die() { echo "local-cluster: $*" >&2; exit 1; }
say() { echo "local-cluster: $*"; }

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_listening() { # port seconds what
  local i
  for ((i = 0; i < $2 * 5; i++)); do listening "$1" && return 0; sleep 0.2; done
  die "$3 is not listening on 127.0.0.1:$1 after $2 s"
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

pid_of() { [ -f "$1" ] && cat "$1" || true; }

# The built silo: `dotnet curate.dll` when dotnet is on PATH (no DOTNET_ROOT needed), else the apphost.
silo_command() {
  local dir
  for dir in "$repo/silo/bin/Release/net10.0/linux-x64" "$repo/silo/bin/Release/net10.0"; do
    if [ -f "$dir/curate.dll" ] && command -v dotnet >/dev/null; then echo "dotnet $dir/curate.dll"; return; fi
    if [ -x "$dir/curate" ]; then echo "$dir/curate"; return; fi
  done
  die "no built silo under silo/bin/Release/net10.0: run 'dotnet build Curation.sln -c Release' first"
}

# --- backing services --------------------------------------------------------------------------------------------

start_azurite() {
  local blob=${AZURITE_BLOB_PORT:-10000} queue=${AZURITE_QUEUE_PORT:-10001} table=${AZURITE_TABLE_PORT:-10002}
  if listening "$blob" && listening "$table"; then
    say "using the Azurite already listening on 127.0.0.1:$blob (blob) and :$table (table)"
  else
    [ -x "$azurite_bin" ] || die "Azurite is not installed: npm ci --prefix tools/azurite"
    mkdir -p "$run_dir/azurite"
    # Blob, queue and table: Azure Table clustering needs the table service, the data store the blob service.
    # No telemetry: with no route out, its flush holds up the shutdown on SIGTERM for a long time.
    setsid "$azurite_bin" --blobHost 127.0.0.1 --blobPort "$blob" --queueHost 127.0.0.1 --queuePort "$queue" \
      --tableHost 127.0.0.1 --tablePort "$table" --location "$run_dir/azurite" --loose --skipApiVersionCheck --disableTelemetry \
      >"$run_dir/azurite.log" 2>&1 </dev/null &
    echo $! >"$run_dir/azurite.pid"
    wait_listening "$blob" 30 "Azurite (blob)"
    wait_listening "$table" 30 "Azurite (table)"
    say "started Azurite (pid $(cat "$run_dir/azurite.pid")): blob :$blob, table :$table, log $run_dir/azurite.log"
  fi
  storage_connection="DefaultEndpointsProtocol=http;AccountName=$azurite_account;AccountKey=$azurite_key;BlobEndpoint=http://127.0.0.1:$blob/$azurite_account;QueueEndpoint=http://127.0.0.1:$queue/$azurite_account;TableEndpoint=http://127.0.0.1:$table/$azurite_account;"
}

start_redis() {
  local port=${REDIS_PORT:-6379}
  if listening "$port"; then
    say "using the Redis already listening on 127.0.0.1:$port"
  else
    command -v redis-server >/dev/null || die "redis-server is not installed (Debian: apt-get install redis-server)"
    # No persistence: membership is rebuilt by the silos; the data store keeps everything that matters.
    setsid redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$run_dir" \
      >"$run_dir/redis.log" 2>&1 </dev/null &
    echo $! >"$run_dir/redis.pid"
    wait_listening "$port" 15 "redis-server"
    say "started redis-server (pid $(cat "$run_dir/redis.pid")) on :$port, log $run_dir/redis.log"
  fi
  redis_connection="127.0.0.1:$port"
}

# --- silos -------------------------------------------------------------------------------------------------------

# The environment of silo $1 (0-based), one NAME=value per line, from the choices in cluster.env.
silo_env() {
  local i=$1
  # shellcheck disable=SC1091
  . "$run_dir/cluster.env"
  local cores slots
  cores=$(nproc 2>/dev/null || echo 1)
  slots=$((cores / SILOS)); [ "$slots" -ge 1 ] || slots=1
  echo "Curation__Cluster__Clustering=$CLUSTERING"
  echo "Curation__Cluster__ConnectionString=$CLUSTER_CONNECTION"
  echo "Curation__Cluster__ClusterId=$CLUSTER_ID"
  echo "Curation__Cluster__ServiceId=$SERVICE_ID"
  echo "Curation__Cluster__SiloPort=$((BASE_PORT + i))"
  echo "Curation__Cluster__GatewayPort=$((GATEWAY_BASE_PORT + i))"
  echo "Curation__Cluster__AdvertisedAddress=127.0.0.1"
  echo "Curation__Api__Urls=http://127.0.0.1:$((API_BASE_PORT + i))"
  echo "Curation__Store__Kind=$STORE_KIND"
  if [ "$STORE_KIND" = AzureBlob ]; then
    echo "Curation__Store__ConnectionString=$STORE_CONNECTION"
    echo "Curation__Store__ContainerName=$STORE_CONTAINER"
  else
    echo "Curation__Store__RootPath=$STORE_ROOT"
  fi
  # Configuration arrays merge by index with appsettings.json (["cpu", "embed"]): set both entries; an empty one is ignored.
  if [ "$GPU_SILOS" -eq 0 ]; then
    echo "Curation__Silo__Roles__0=cpu"; echo "Curation__Silo__Roles__1=embed"   # a CPU-only cluster embeds on its CPUs
  elif [ "$i" -lt "$GPU_SILOS" ]; then
    echo "Curation__Silo__Roles__0=gpu"; echo "Curation__Silo__Roles__1=embed"
    echo "Curation__Embedding__Provider=Auto"                                    # CUDA where present, else the CPU provider
    echo "Curation__Embedding__DeviceId=$((i % ${GPUS_PER_HOST:-1}))"
  else
    echo "Curation__Silo__Roles__0=cpu"; echo "Curation__Silo__Roles__1="
  fi
  # The machine's cores are shared: each silo gets its part as task slots (and as ONNX threads when it embeds).
  echo "Curation__Execution__TaskSlots=$slots"
  echo "Curation__Embedding__IntraOpThreads=$slots"
}

cmd_start() {
  local n=${1:-}; shift || true
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage 2
  local clustering=azure gpu=0 store="" base=${CURATION_SILO_BASE_PORT:-11111}
  while [ $# -gt 0 ]; do
    case $1 in
      --clustering) clustering=${2:?}; shift 2 ;;
      --roles-gpu) gpu=${2:?}; shift 2 ;;
      --store) store=${2:?}; shift 2 ;;
      --base-port) base=${2:?}; shift 2 ;;
      -h|--help) usage 0 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [[ "$gpu" =~ ^[0-9]+$ ]] && [ "$gpu" -le "$n" ] || die "--roles-gpu must be between 0 and $n"
  mkdir -p "$run_dir"
  local i
  for ((i = 0; i < 64; i++)); do
    if alive "$(pid_of "$run_dir/silo-$i.pid")"; then die "silo $i is still running (pid $(cat "$run_dir/silo-$i.pid")): stop first"; fi
  done
  local command; command=$(silo_command)

  local clustering_kind cluster_connection store_kind store_connection="" storage_connection="" redis_connection=""
  case $clustering in
    azure)
      start_azurite
      clustering_kind=AzureTable; cluster_connection=$storage_connection
      store=${store:-azure} ;;
    redis)
      start_redis
      clustering_kind=Redis; cluster_connection=$redis_connection
      store=${store:-local} ;;
    *) die "--clustering must be azure or redis" ;;
  esac
  case $store in
    azure) [ -n "$storage_connection" ] || start_azurite; store_kind=AzureBlob; store_connection=$storage_connection ;;
    local) store_kind=LocalFolder ;;
    *) die "--store must be azure or local" ;;
  esac

  # A fresh cluster id per start: silos of an earlier run left in the membership table never count as this one's.
  cat >"$run_dir/cluster.env" <<EOF
SILOS=$n
GPU_SILOS=$gpu
CLUSTERING=$clustering_kind
CLUSTER_CONNECTION='$cluster_connection'
CLUSTER_ID=local-$(date +%Y%m%d%H%M%S)
SERVICE_ID=${CURATION_SERVICE_ID:-curation}
BASE_PORT=$base
GATEWAY_BASE_PORT=${CURATION_GATEWAY_BASE_PORT:-30000}
API_BASE_PORT=${CURATION_API_BASE_PORT:-5080}
STORE_KIND=$store_kind
STORE_CONNECTION='$store_connection'
STORE_CONTAINER=${CURATION_STORE_CONTAINER:-curation}
STORE_ROOT=$run_dir/data
EOF

  for ((i = 0; i < n; i++)); do
    silo_env "$i" >"$run_dir/silo-$i.env"
    # env -i keeps the silo's configuration to what is written down, plus what a .NET process needs to run.
    (
      cd "$run_dir"
      mapfile -t vars <"silo-$i.env"
      # shellcheck disable=SC2086
      exec setsid env -i PATH="$PATH" HOME="${HOME:-/tmp}" ${DOTNET_ROOT:+DOTNET_ROOT="$DOTNET_ROOT"} DOTNET_CLI_TELEMETRY_OPTOUT=1 \
        Logging__LogLevel__Orleans.Runtime.Silo=Information \
        Logging__LogLevel__Orleans.Runtime.MembershipService=Information "${vars[@]}" $command silo
    ) >"$run_dir/silo-$i.log" 2>&1 </dev/null &
    echo $! >"$run_dir/silo-$i.pid"
    say "silo $i: pid $!, silo port $((base + i)), gateway $(( ${CURATION_GATEWAY_BASE_PORT:-30000} + i )), roles $(grep Roles "$run_dir/silo-$i.env" | cut -d= -f2 | paste -sd, | sed 's/,$//'), log $run_dir/silo-$i.log"
  done
  say "cluster $(grep CLUSTER_ID "$run_dir/cluster.env" | cut -d= -f2): $n silo(s), $clustering_kind membership, $store_kind store"
  say "waiting for the silos to join ('deploy/local-cluster.sh status' shows them; 'stop' ends them)"
  local deadline=$((SECONDS + ${CURATION_START_TIMEOUT:-120})) up
  while :; do
    up=0
    for ((i = 0; i < n; i++)); do
      alive "$(pid_of "$run_dir/silo-$i.pid")" || { tail -n 30 "$run_dir/silo-$i.log" >&2; die "silo $i exited during start-up (log above)"; }
      joined "$i" && up=$((up + 1))
    done
    [ "$up" -eq "$n" ] && break
    [ "$SECONDS" -lt "$deadline" ] || die "only $up of $n silos joined after ${CURATION_START_TIMEOUT:-120} s; see $run_dir/silo-*.log"
    sleep 1
  done
  say "all $n silos are active members of the cluster"
}

# Orleans logs this (category Orleans.Runtime.MembershipService, raised to Information above) once the silo is Active.
joined() { grep -q -- '-Finished BecomeActive' "$run_dir/silo-$1.log" 2>/dev/null; }

cmd_status() {
  [ -f "$run_dir/cluster.env" ] || { say "no cluster started from $run_dir"; return 0; }
  # shellcheck disable=SC1091
  . "$run_dir/cluster.env"
  say "cluster $CLUSTER_ID: $CLUSTERING membership, $STORE_KIND store, run folder $run_dir"
  local f i pid state any=1
  for f in "$run_dir"/silo-*.pid; do
    [ -e "$f" ] || continue
    i=${f##*/silo-}; i=${i%.pid}; pid=$(cat "$f")
    if alive "$pid"; then
      state=running; any=0
      listening "$((BASE_PORT + i))" && state="$state, listening on :$((BASE_PORT + i))"
      joined "$i" && state="$state, joined"
    else
      state=exited
    fi
    printf '  silo %s  pid %-7s %s  (%s)\n' "$i" "$pid" "$state" "$(grep Roles "$run_dir/silo-$i.env" | cut -d= -f2 | paste -sd, | sed 's/,$//')"
  done
  for f in azurite redis; do
    pid=$(pid_of "$run_dir/$f.pid")
    [ -n "$pid" ] && printf '  %-7s pid %-7s %s\n' "$f" "$pid" "$(alive "$pid" && echo running || echo exited)"
  done
  return "$any"
}

stop_pid() { # pidfile what timeout
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] || return 0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < $3 * 5; i++)); do alive "$pid" || break; sleep 0.2; done
    if alive "$pid"; then
      say "$2 (pid $pid) still running after $3 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      return 0
    fi
  fi
  say "$2 (pid $pid) stopped"
  rm -f "$1"
}

cmd_stop() {
  local timeout=30
  while [ $# -gt 0 ]; do
    case $1 in
      --timeout) timeout=${2:?}; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [ -d "$run_dir" ] || { say "nothing to stop in $run_dir"; return 0; }
  local f pid
  # SIGTERM to every silo first (each leaves the cluster gracefully, in parallel), then wait for each in turn.
  for f in "$run_dir"/silo-*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for f in "$run_dir"/silo-*.pid; do
    [ -e "$f" ] || continue
    local name=${f##*/}; stop_pid "$f" "${name%.pid}" "$timeout"
  done
  # Backing services only when this script started them (their pid files exist).
  stop_pid "$run_dir/azurite.pid" azurite "$timeout"
  stop_pid "$run_dir/redis.pid" redis-server "$timeout"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  env) shift; [ -f "$run_dir/silo-${1:?silo index}.env" ] || die "no silo $1"; cat "$run_dir/silo-$1.env" ;;
  -h|--help|help) usage 0 ;;
  *) usage 2 ;;
esac
