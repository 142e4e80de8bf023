#!/usr/bin/env bash
# Starts, from local binaries (Debian packages), every server the tests need that is not
# already answering: PostgreSQL 5432, MariaDB 3306, Redis 6379. Idempotent. Installs the
# Debian packages first when they are missing. For machines with Docker use
# docker-compose.monitoring.yml instead.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
apt_updated=0
need_pkg() { # need_pkg <command> <debian package...>
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ $apt_updated = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${@:2}" >/dev/null
}
wait_for() { # wait_for <name> <command...>
  for _ in $(seq 1 60); do "${@:2}" >/dev/null 2>&1 && { echo "servers: $1 up"; return 0; }; sleep 0.5; done
  echo "servers: $1 did not come up" >&2; return 1
}

# PostgreSQL
need_pkg pg_isready postgresql
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
    # The newest installed version (sort -V: 13 after 9.6).
    pg_version="$(ls /etc/postgresql | sort -V | tail -1)"
    hba="/etc/postgresql/$pg_version/main/pg_hba.conf"
    # The tests connect as postgres over loopback without a password: put trust rules for
    # loopback first (Debian's default asks for a password over TCP).
    if [ -f "$hba" ] && ! $SUDO grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start || true
  fi
  wait_for postgresql pg_isready -h 127.0.0.1 -p 5432
  # a `test` database, as the tests expect
  psql -h 127.0.0.1 -U postgres -tc "select 1 from pg_database where datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c 'create database test'
else echo "servers: postgresql already up"; fi

# MariaDB
need_pkg mariadbd mariadb-server
if ! mariadb-admin -uroot -h127.0.0.1 -P3306 ping >/dev/null 2>&1; then
  $SUDO mkdir -p /run/mysqld
  $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  # Up on its socket first: Debian's root logs in there (unix_socket), not over TCP.
  wait_for mariadb $SUDO mariadb-admin -uroot ping
  # The tests connect as root over loopback without a password, to a `test` database.
  $SUDO mariadb -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    CREATE DATABASE IF NOT EXISTS test;"
  wait_for mariadb-tcp mariadb-admin -uroot -h127.0.0.1 -P3306 ping
else echo "servers: mariadb already up"; fi

# Redis
need_pkg redis-server redis-server
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  # A directory of the user's own: the package's /var/lib/redis belongs to the redis user.
  redis_dir="${XDG_STATE_HOME:-$HOME/.local/state}/batchsql-redis"
  mkdir -p "$redis_dir"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "$redis_dir" --logfile "$redis_dir/redis.log"
  wait_for redis redis-cli -h 127.0.0.1 -p 6379 ping
else echo "servers: redis already up"; fi
