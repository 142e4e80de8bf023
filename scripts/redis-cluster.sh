#!/usr/bin/env bash
# A three-master Redis Cluster on loopback, for @batchsql/redis tests.
#   scripts/redis-cluster.sh start|stop|status|restart-node PORT|reshard FROM_ID TO_ID SLOTS
# Ports: REDIS_CLUSTER_PORTS (default "7001 7002 7003"); data under REDIS_CLUSTER_DIR
# (default ${TMPDIR:-/tmp}/batchsql-redis-cluster). Idempotent: `start` on a running cluster
# only waits for it to be healthy; `stop` on a stopped one does nothing.
# Nodes use an append-only file fsynced on every write, so a node killed and restarted
# comes back with every write it acknowledged.
set -euo pipefail

PORTS=(${REDIS_CLUSTER_PORTS:-7001 7002 7003})
DIR=${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/batchsql-redis-cluster}

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
up() { cli "$1" ping >/dev/null 2>&1; }

start_node() {
  local p=$1 d="$DIR/$1"
  mkdir -p "$d"
  up "$p" && return 0
  redis-server --port "$p" --bind 127.0.0.1 --daemonize yes --dir "$d" \
    --pidfile "$d/redis.pid" --logfile "$d/redis.log" --save '' \
    --appendonly yes --appendfsync always \
    --cluster-enabled yes --cluster-config-file "$d/nodes.conf" --cluster-node-timeout 2000
  for _ in $(seq 1 100); do up "$p" && return 0; sleep 0.05; done
  echo "redis node $p did not start; see $d/redis.log" >&2
  return 1
}

wait_ok() {
  for _ in $(seq 1 200); do
    local ok=1
    for p in "${PORTS[@]}"; do
      cli "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  echo "cluster did not reach cluster_state:ok" >&2
  return 1
}

start() {
  for p in "${PORTS[@]}"; do start_node "$p"; done
  local known
  known=$(cli "${PORTS[0]}" cluster info | grep -o 'cluster_known_nodes:[0-9]*' | cut -d: -f2)
  if [ "${known:-1}" -lt "${#PORTS[@]}" ]; then
    local nodes=()
    for p in "${PORTS[@]}"; do nodes+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-yes >"$DIR/create.log" 2>&1 || {
      cat "$DIR/create.log" >&2
      return 1
    }
  fi
  wait_ok
  echo "redis cluster up on ports ${PORTS[*]} ($DIR)"
}

stop() {
  for p in "${PORTS[@]}"; do
    local pidfile="$DIR/$p/redis.pid"
    if up "$p"; then cli "$p" shutdown nosave >/dev/null 2>&1 || true; fi
    for _ in $(seq 1 100); do up "$p" || break; sleep 0.05; done
    rm -f "$pidfile"
  done
  rm -rf "$DIR"
  echo "redis cluster stopped"
}

status() {
  local rc=0
  for p in "${PORTS[@]}"; do
    if up "$p"; then
      echo "$p: $(cli "$p" cluster info | grep cluster_state | tr -d '\r')"
    else
      echo "$p: down"
      rc=1
    fi
  done
  return $rc
}

# Kills one node hard (SIGKILL, no shutdown save) and starts it again with its data dir.
restart_node() {
  local p=$1 d="$DIR/$1"
  if [ -f "$d/redis.pid" ]; then kill -9 "$(cat "$d/redis.pid")" 2>/dev/null || true; fi
  for _ in $(seq 1 100); do up "$p" || break; sleep 0.05; done
  sleep "${RESTART_DOWN_SECONDS:-0.5}"
  start_node "$p"
  wait_ok
}

# Moves SLOTS slots, keys included, from one master to another (MOVED/ASK for clients).
reshard() {
  redis-cli --cluster reshard "127.0.0.1:${PORTS[0]}" --cluster-from "$1" --cluster-to "$2" \
    --cluster-slots "$3" --cluster-yes >"$DIR/reshard.log" 2>&1 || {
    tail -20 "$DIR/reshard.log" >&2
    return 1
  }
  wait_ok
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart-node) restart_node "${2:?port}" ;;
  reshard) reshard "${2:?from node id}" "${3:?to node id}" "${4:?slot count}" ;;
  *)
    echo "usage: $0 start|stop|status|restart-node PORT|reshard FROM_ID TO_ID SLOTS" >&2
    exit 2
    ;;
esac
