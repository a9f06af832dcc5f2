#!/usr/bin/env bash
# Runs the operator's guide (deploy/README.md) as written: every ```sh block in order, on a
# throwaway PostgreSQL 15 cluster with a test CA, in a temporary directory that stands in for
# /etc/sluis and /var/backups/sluis. Blocks marked `sh site` (your server, your certificate,
# your broker's address) are replaced by this script's own values; a `sh per-organisation`
# block runs once for each organisation a referral to Hoorn involves; the `sh serve` block runs
# in the background until the end. Stops only the broker and the cluster it started.
#
# Needs: the sluis binary (SLUIS_BIN, default target/debug/sluis), PostgreSQL server binaries
# (/usr/lib/postgresql/*/bin), psql, pg_dump, pg_restore, createdb, dropdb, openssl, curl,
# python3. tests/operator_guide.rs runs it with `cargo test`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
sluis_bin=${SLUIS_BIN:-$repo/target/debug/sluis}
[ -x "$sluis_bin" ] || { echo "procedure: no sluis binary at $sluis_bin (cargo build)" >&2; exit 1; }
for tool in psql pg_dump pg_restore createdb dropdb openssl curl python3; do
    command -v "$tool" >/dev/null || { echo "procedure: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sluis-guide.XXXXXX)
serve_pid=
# shellcheck source=../.ci/postgres.sh
source "$repo/.ci/postgres.sh"
finish() {
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    sluis_pg_stop
    rm -rf "$work"
}
trap finish EXIT
sluis_pg_start >/dev/null

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The guide's `sh site` steps, with this script's values.
# 1. The binary.
mkdir -p "$work/bin" "$work/checkout"
ln -s "$sluis_bin" "$work/bin/sluis"
export PATH="$work/bin:$PATH"
# 2. The PostgreSQL server and a superuser.
pg_hostport=${SLUIS_TEST_POSTGRES_URL#postgres://postgres@}
pg_hostport=${pg_hostport%%/*}
export PGHOST=${pg_hostport%:*} PGPORT=${pg_hostport#*:} PGUSER=postgres
unset PGDATABASE PGPASSWORD
# 6. A certificate for "localhost" under a test CA; the clients get ca.pem.
cd "$work/checkout"
cp -r "$repo/deploy" "$repo/policy" .
# The shipped configuration names files under /etc/sluis: here, under the temporary directory.
sed -i "s|/etc/sluis|$work/etc/sluis|g" deploy/sluis.toml
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout ca.key -out ca.pem -subj "/CN=Gemeente Testdorp CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out server.csr \
    -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out fullchain.pem 2>/dev/null
install -d -m 0750 "$work/etc/sluis/tls"
install -m 0444 fullchain.pem "$work/etc/sluis/tls/fullchain.pem"
install -m 0400 key.pem "$work/etc/sluis/tls/key.pem"
rm ca.key key.pem server.csr server.ext
# 11–12. The broker's address: a free port on 127.0.0.1 (the file's `listen` is 0.0.0.0:8443).
port=$(free_port)
export SLUIS_LISTEN="127.0.0.1:$port" SLUIS_SERVER="https://localhost:$port"
export ORGS="leviaan bct-westfriesland hoorn intermaris het-grootslag wooncompagnie"

# The broker started by the `sh serve` block answers /readyz over TLS, or the run fails.
wait_until_ready() {
    for _ in $(seq 1 120); do
        if curl -fsS --cacert ca.pem "$SLUIS_SERVER/readyz" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$serve_pid" 2>/dev/null; then
            echo "procedure: the broker exited:" >&2
            cat serve.log >&2
            return 1
        fi
        sleep 0.5
    done
    echo "procedure: the broker did not become ready in 60 s:" >&2
    cat serve.log >&2
    return 1
}

# Every ```sh block of the guide, in order; the paths of /etc/sluis and /var/backups/sluis moved
# into the temporary directory.
awk '
    /^### / { heading = substr($0, 5); gsub(/"/, "\\\"", heading) }
    /^```sh/ && !inside {
        inside = 1; tag = $2
        run = (tag == "" || tag == "per-organisation" || tag == "serve")
        if (run) print "echo \"== " heading (tag == "" ? "" : " (" tag ")") "\""
        if (tag == "per-organisation") print "for ORG in $ORGS; do"
        if (tag == "serve") print "("
        next
    }
    /^```$/ && inside {
        inside = 0
        if (tag == "per-organisation") print "done"
        if (tag == "serve") print ") > serve.log 2>&1 &\nserve_pid=$!\nwait_until_ready"
        next
    }
    # The broker replaces its subshell (exec), so the pid the script stops is the broker.
    inside && tag == "serve" { sub(/^sluis serve/, "exec sluis serve") }
    inside && run { print }
' "$repo/deploy/README.md" |
    sed -e "s|/etc/sluis|$work/etc/sluis|g" -e "s|/var/backups/sluis|$work/backups/sluis|g" \
    > "$work/guide.sh"

# shellcheck disable=SC1091
source "$work/guide.sh"
# Stop the broker the guide started, and make sure no broker of this run is left.
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve_pid=
for proc in /proc/[0-9]*; do
    if tr '\0' ' ' < "$proc/cmdline" 2>/dev/null | grep -qF "sluis serve --config $work/"; then
        echo "procedure: a broker of this run is still running (${proc#/proc/})" >&2
        exit 1
    fi
done
echo "== the broker stopped"
echo "== the guide ran to its end"
