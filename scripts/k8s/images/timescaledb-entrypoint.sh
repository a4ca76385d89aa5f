#!/bin/sh
# Entry point of the local TimescaleDB image, with the official postgres images' contract:
# POSTGRES_USER (the superuser, default postgres), POSTGRES_PASSWORD (required on first start),
# POSTGRES_DB (default: the user's name), PGDATA. The first start creates the cluster;
# TimescaleDB is always preloaded (installed but not preloaded, it breaks the first session
# that loads it), its telemetry off. Extra arguments go to postgres.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
settings="-c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "docker-entrypoint: POSTGRES_PASSWORD is required to create the database" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # shellcheck disable=SC2086
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' $settings" -w start
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
# shellcheck disable=SC2086
exec postgres -D "$PGDATA" -c listen_addresses='*' $settings -c max_locks_per_transaction=256 "$@"
