#!/usr/bin/env bash
# Builds the server and the load generator, starts a fresh server on a temp
# data dir, runs kartoteka-bench against it (extra args are passed through),
# then stops the server and removes the data dir.
#
#   bench/run.sh [kartoteka-bench args...]
#   PORT=18080 bench/run.sh --concurrency 32 --phases create,get,list
#
# Env: PORT (18080), HEALTH_TIMEOUT_SECS (30), SKIP_BUILD=1 to reuse binaries,
#      KARTOTEKA_BIN to run a different server binary, CARGO_TARGET_DIR as for cargo,
#      SERVER_ARGS for extra `kartoteka serve` options (e.g. --database postgres://…).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${PORT:-18080}"
health_timeout="${HEALTH_TIMEOUT_SECS:-30}"
export KARTOTEKA_ADMIN_EMAIL="${KARTOTEKA_ADMIN_EMAIL:-admin@example.com}"
export KARTOTEKA_ADMIN_PASSWORD="${KARTOTEKA_ADMIN_PASSWORD:-admin123}"

cd "$root"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release -p kartoteka -p kartoteka-bench
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
server_bin="${KARTOTEKA_BIN:-$target_dir/release/kartoteka}"
bench_bin="$target_dir/release/kartoteka-bench"

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/kartoteka-bench.XXXXXX")"
data_dir="$work_dir/data"
log_file="$work_dir/server.log"
mkdir "$data_dir"
server_pid=""

cleanup() {
    local rc=$?
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 && -f "$log_file" ]]; then
        echo "run.sh: last server log lines:" >&2
        tail -n 20 "$log_file" >&2 || true
    fi
    rm -rf "$work_dir"
    exit "$rc"
}
trap cleanup EXIT

# shellcheck disable=SC2086
"$server_bin" serve --listen "127.0.0.1:$port" --data "$data_dir" ${SERVER_ARGS:-} >"$log_file" 2>&1 &
server_pid=$!
echo "run.sh: server pid $server_pid on 127.0.0.1:$port, data $data_dir" >&2

deadline=$((SECONDS + health_timeout))
until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/health" 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: server exited before becoming healthy" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "run.sh: server not healthy after ${health_timeout}s" >&2
        exit 1
    fi
    sleep 0.2
done

"$bench_bin" --url "http://127.0.0.1:$port" --pid "$server_pid" "$@"
