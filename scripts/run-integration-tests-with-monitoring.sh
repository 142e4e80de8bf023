#!/usr/bin/env bash
# One command: the databases and Prometheus (+ Grafana with Docker), then the integration app
# against every database with its metrics scraped.
#   scripts/run-integration-tests-with-monitoring.sh           start everything and run the app
#   scripts/run-integration-tests-with-monitoring.sh --stop    stop what it started
# With Docker: docker-compose.monitoring.yml (Prometheus :9092, Grafana :3002, MariaDB, PostgreSQL,
# Redis). Without Docker (CI, this machine): the same servers from local binaries
# (scripts/start-servers.sh) and a local Prometheus on :9092 scraping the app on :9091; no Grafana.
# Extra arguments go to the app (e.g. --records-per-worker 50000); settings by environment too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools-env.sh
DATA="${BATCHSQL_MONITORING_DATA:-$PWD/.monitoring-data}"
PIDFILE="$DATA/prometheus.pid"

have_docker() { command -v docker >/dev/null && docker compose version >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

stop() {
  if have_docker; then docker compose -f docker-compose.monitoring.yml down; fi
  if [ -f "$PIDFILE" ]; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; rm -f "$PIDFILE"; fi
}

if [ "${1:-}" = "--stop" ]; then stop; exit 0; fi

if have_docker; then
  docker compose -f docker-compose.monitoring.yml up -d --wait
  GRAFANA="http://localhost:3002 (admin / \${GRAFANA_ADMIN_PASSWORD:-admin})"
else
  bash scripts/start-servers.sh
  mkdir -p "$DATA/prometheus"
  if ! { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }; then
    command -v prometheus >/dev/null || { echo "prometheus not found: apt-get install prometheus" >&2; exit 1; }
    prometheus --config.file=monitoring/prometheus.local.yml --web.listen-address=127.0.0.1:9092 \
      --storage.tsdb.path="$DATA/prometheus" >"$DATA/prometheus.log" 2>&1 &
    echo $! >"$PIDFILE"
  fi
  # Ready means our Prometheus answers: one that exited (a bad config, port 9092 taken) must
  # stop the run here, not leave it without the metrics it was started for.
  ready=0
  for _ in $(seq 100); do
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    if curl -fs http://127.0.0.1:9092/-/ready >/dev/null; then ready=1; break; fi
    sleep 0.2
  done
  if [ "$ready" != 1 ]; then
    if kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "prometheus did not become ready on 127.0.0.1:9092 within 20 s (log: $DATA/prometheus.log)" >&2
      kill "$(cat "$PIDFILE")" 2>/dev/null || true
    else
      echo "prometheus failed to start (log: $DATA/prometheus.log):" >&2
    fi
    tail -n 20 "$DATA/prometheus.log" >&2 || true
    rm -f "$PIDFILE"
    exit 1
  fi
  GRAFANA="not started (no Docker); check queries with: node scripts/check-dashboard.mjs --prometheus http://127.0.0.1:9092"
fi

pnpm install --prefer-offline >/dev/null
pnpm turbo run build --filter=@batchsql/integration... >/dev/null
status=0
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9091}" METRICS_HOST="${METRICS_HOST:-0.0.0.0}" \
  DATABASES="${DATABASES:-sqlite,mysql,postgres,redis}" LINGER="${LINGER:-30s}" \
  AWAIT_SCRAPE="${AWAIT_SCRAPE:-30s}" \
  pnpm --filter @batchsql/integration start "$@" || status=$?

echo
echo "Prometheus: http://127.0.0.1:9092   Grafana: $GRAFANA"
echo "Stop: scripts/run-integration-tests-with-monitoring.sh --stop"
exit $status
