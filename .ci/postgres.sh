# Sourced by .ci/run (and usable by developers): starts a throwaway PostgreSQL 15 cluster in a
# temporary directory on a free 127.0.0.1 port, exports SLUIS_TEST_POSTGRES_URL, and defines
# `sluis_pg_stop`, which stops exactly that cluster. initdb refuses to run as root, so as root
# the cluster belongs to the `postgres` user.

sluis_pg_start() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$bin/initdb" ] || { echo "postgres: no initdb under /usr/lib/postgresql/*/bin" >&2; return 1; }
    SLUIS_PG_DIR=$(mktemp -d /tmp/sluis-pg.XXXXXX)
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    local run=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$SLUIS_PG_DIR"
        run=(runuser -u postgres --)
    fi
    "${run[@]}" "$bin/initdb" -D "$SLUIS_PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$SLUIS_PG_DIR/initdb.log" 2>&1 \
        || { cat "$SLUIS_PG_DIR/initdb.log" >&2; return 1; }
    "${run[@]}" "$bin/pg_ctl" -D "$SLUIS_PG_DIR/data" -l "$SLUIS_PG_DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $SLUIS_PG_DIR -c fsync=off -c max_connections=300" start >/dev/null \
        || { cat "$SLUIS_PG_DIR/server.log" >&2; return 1; }
    SLUIS_PG_BIN=$bin
    SLUIS_PG_RUN=("${run[@]}")
    export SLUIS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "postgres: throwaway cluster on 127.0.0.1:$port ($SLUIS_PG_DIR)"
}

sluis_pg_stop() {
    [ -n "${SLUIS_PG_DIR:-}" ] || return 0
    "${SLUIS_PG_RUN[@]}" "$SLUIS_PG_BIN/pg_ctl" -D "$SLUIS_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$SLUIS_PG_DIR"
    SLUIS_PG_DIR=
}

# sluis_pg_ctl DIR stop | sluis_pg_ctl DIR start PORT — pause and resume a cluster made by
# sluis_pg_start (the fault tests stop the database under a running broker).
sluis_pg_ctl() {
    local dir=$1 action=$2 port=${3:-}
    local bin run=()
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
    case "$action" in
        stop) "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null ;;
        start) "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null ;;
    esac
}
