#!/usr/bin/env bash
# An extra single Redis instance on loopback that tests may restart or reconfigure without
# touching the shared server on 6379.
#   scripts/redis-single.sh start|stop|status|restart [PORT]   (default port 6390)
# Data under ${TMPDIR:-/tmp}/batchsql-redis-single-PORT; append-only, fsynced on every write.
set -euo pipefail

P=${2:-${REDIS_SINGLE_PORT:-6390}}
D=${TMPDIR:-/tmp}/batchsql-redis-single-$P

up() { redis-cli -h 127.0.0.1 -p "$P" ping >/dev/null 2>&1; }

start() {
  mkdir -p "$D"
  if ! up; then
    redis-server --port "$P" --bind 127.0.0.1 --daemonize yes --dir "$D" \
      --pidfile "$D/redis.pid" --logfile "$D/redis.log" --save '' \
      --appendonly yes --appendfsync always
  fi
  for _ in $(seq 1 100); do up && { echo "redis up on $P ($D)"; return 0; }; sleep 0.05; done
  echo "redis on $P did not start; see $D/redis.log" >&2
  return 1
}

kill_it() {
  if [ -f "$D/redis.pid" ]; then kill -9 "$(cat "$D/redis.pid")" 2>/dev/null || true; fi
  for _ in $(seq 1 100); do up || return 0; sleep 0.05; done
}

case "${1:-}" in
  start) start ;;
  stop)
    if up; then redis-cli -h 127.0.0.1 -p "$P" shutdown nosave >/dev/null 2>&1 || true; fi
    for _ in $(seq 1 100); do up || break; sleep 0.05; done
    rm -rf "$D"
    echo "redis on $P stopped"
    ;;
  status) up && echo "$P: up" || { echo "$P: down"; exit 1; } ;;
  restart)
    kill_it
    sleep "${RESTART_DOWN_SECONDS:-0.3}"
    start
    ;;
  *)
    echo "usage: $0 start|stop|status|restart [PORT]" >&2
    exit 2
    ;;
esac
