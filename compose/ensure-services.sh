#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ are installed and running on 127.0.0.1, and that the test database
# exists. Nothing runs when a session or CI starts, so `make test` calls this every time; it is quick
# when everything is already up.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} ..."
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  as_root pg_createcluster "$version" main >/dev/null
fi
pg_lsclusters -h | while read -r version name _port status _rest; do
  [ "$status" = online ] || as_root pg_ctlcluster "$version" "$name" start
done

# A fresh node takes seconds to register with epmd, and `await_startup` gives up at once on a node
# it cannot see yet (that failed CI once), so poll until it answers.
if ! pgrep -f 'beam.*rabbit' >/dev/null && ! as_root rabbitmqctl -q ping >/dev/null 2>&1; then
  as_root rabbitmq-server -detached
fi
for attempt in $(seq 120); do
  as_root rabbitmqctl -q await_startup >/dev/null 2>&1 && break
  if [ "$attempt" = 120 ]; then
    echo "rabbitmq did not start within 120 s; its log:" >&2
    tail -n 40 /var/log/rabbitmq/*.log >&2 || true
    exit 1
  fi
  sleep 1
done

psql_admin() { as_root runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAtc "$1"; }
for _ in $(seq 30); do psql_admin "select 1" >/dev/null 2>&1 && break; sleep 1; done
[ "$(psql_admin "select 1 from pg_roles where rolname='coolthing'")" = 1 ] \
  || psql_admin "create role coolthing login password 'coolthing' createdb"
# Tests and benchmarks get their own database and RabbitMQ virtual host, so a benchmark run beside
# the suite cannot disturb it.
for name in coolthing_test coolthing_bench; do
  [ "$(psql_admin "select 1 from pg_database where datname='$name'")" = 1 ] \
    || psql_admin "create database $name owner coolthing"
  as_root rabbitmqctl -q list_vhosts | grep -qx "$name" || as_root rabbitmqctl -q add_vhost "$name"
  as_root rabbitmqctl -q set_permissions -p "$name" guest ".*" ".*" ".*" >/dev/null
done
echo "postgresql and rabbitmq are up"
