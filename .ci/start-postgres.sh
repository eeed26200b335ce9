#!/usr/bin/env bash
# Start a throw-away PostgreSQL (Debian's packages) on 127.0.0.1:${PGPORT:-55432} and print its SQLAlchemy URL.
set -euo pipefail
PGPORT=${PGPORT:-55432}
PGDATA=${PGDATA:-/tmp/longlens-pg}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if ! id postgres >/dev/null 2>&1; then useradd --system --home /var/lib/postgresql postgres; fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  rm -rf "$PGDATA"; mkdir -p "$PGDATA"; chown postgres "$PGDATA"
  su postgres -s /bin/sh -c "$BIN/initdb -D $PGDATA -A trust -U postgres" >/dev/null
fi
su postgres -s /bin/sh -c "$BIN/pg_ctl -D $PGDATA -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1' -l $PGDATA/log -w start" >/dev/null \
  || su postgres -s /bin/sh -c "$BIN/pg_ctl -D $PGDATA status" >/dev/null
echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
