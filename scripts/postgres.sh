#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the payments JDBC source (tests, bench, local trials).
#
#   LAKEHOUSE_PG_PASSWORD=... scripts/postgres.sh start    # install if missing, initdb, start, create role + db
#   scripts/postgres.sh status                              # running or not, and the JDBC URL
#   scripts/postgres.sh stop                                # stop the server and delete its data directory
#
# Settings (environment): LAKEHOUSE_PG_PORT (default 5432), LAKEHOUSE_PG_DIR (default
# /tmp/lakehouse-pg-<port>), LAKEHOUSE_PG_USER (default lakehouse), LAKEHOUSE_PG_DB (default payments),
# LAKEHOUSE_PG_PASSWORD (required by start: the role's password; never written to disk by this script).
# Needs root: it may apt-get install Debian's `postgresql`, and runs the server as the `postgres` user.
set -euo pipefail

PORT="${LAKEHOUSE_PG_PORT:-5432}"
DIR="${LAKEHOUSE_PG_DIR:-/tmp/lakehouse-pg-${PORT}}"
ROLE="${LAKEHOUSE_PG_USER:-lakehouse}"
DB="${LAKEHOUSE_PG_DB:-payments}"

die() { echo "postgres.sh: $*" >&2; exit 1; }

pg_bin() {
    # The newest installed server version's binaries.
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

as_postgres() { runuser -u postgres -- "$@"; }

install_server() {
    if [ -n "$(pg_bin)" ] && command -v psql >/dev/null; then
        return
    fi
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and installing it needs root"
    echo "postgres.sh: installing Debian's postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
    [ -n "$(pg_bin)" ] || die "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
}

running() { [ -n "$(pg_bin)" ] && [ -d "$DIR/data" ] && as_postgres "$(pg_bin)/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }

cmd_start() {
    [ -n "${LAKEHOUSE_PG_PASSWORD:-}" ] || die "set LAKEHOUSE_PG_PASSWORD (the password of role $ROLE) first"
    [[ "$ROLE" =~ ^[a-z_][a-z0-9_]*$ && "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "role and database: lower_snake_case"
    install_server
    local bin
    bin=$(pg_bin)
    if running; then
        echo "postgres.sh: already running on 127.0.0.1:$PORT ($DIR)" >&2
    else
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            die "port $PORT on 127.0.0.1 is in use; choose another with LAKEHOUSE_PG_PORT"
        fi
        rm -rf "$DIR"
        mkdir -p "$DIR"
        chown postgres:postgres "$DIR"
        chmod 700 "$DIR"
        as_postgres "$bin/initdb" -D "$DIR/data" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 >"$DIR/initdb.log" 2>&1 \
            || die "initdb failed: $(tail -n 3 "$DIR/initdb.log" | tr '\n' ' ')"
        # Loopback only, socket inside the throwaway directory, durability off: this server holds nothing
        # that is not reproducible. In postgresql.conf, so a plain `pg_ctl start` keeps them.
        cat >>"$DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_connections = 40
CONF
        as_postgres "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null \
            || die "server did not start: $(tail -n 3 "$DIR/server.log" | tr '\n' ' ')"
    fi
    # The password travels through the environment (\getenv), never through a command line.
    as_postgres env LAKEHOUSE_PG_PASSWORD="$LAKEHOUSE_PG_PASSWORD" \
        "$bin/psql" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL \
        || die "could not create role $ROLE and database $DB"
\getenv pw LAKEHOUSE_PG_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', '$ROLE') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') \gexec
ALTER ROLE $ROLE PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', '$DB', '$ROLE')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB') \gexec
SQL
    echo "jdbc:postgresql://127.0.0.1:$PORT/$DB"
}

cmd_stop() {
    local bin
    bin=$(pg_bin || true)
    if [ -n "$bin" ] && [ -d "$DIR/data" ]; then
        as_postgres "$bin/pg_ctl" -D "$DIR/data" -w -t 60 -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    echo "postgres.sh: stopped, $DIR removed" >&2
}

cmd_status() {
    if running; then
        echo "running: jdbc:postgresql://127.0.0.1:$PORT/$DB ($DIR)"
    else
        echo "not running ($DIR)"
        return 3
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die "usage: scripts/postgres.sh start|stop|status" ;;
esac
