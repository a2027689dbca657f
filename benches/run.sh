#!/usr/bin/env bash
# Runs the pgline benchmark suite against libpq and tokio-postgres on one
# throwaway PostgreSQL server, and writes benches/results/latest.md and
# latest.json.
#
#   benches/run.sh [--quick|--full] [--only NAME]... [--drivers a,b] [--rounds N]
#                  [--criterion] [--latency]
#
# --quick (default) finishes in about a minute once built; --full takes
# several minutes. --criterion also runs the criterion point_select benchmark.
# --latency runs only the open-loop latency workload (target/release/latency)
# in the same mode and writes results/latency.md; options after it go to that
# binary (e.g. --workers 2, --rates 20000,closed).
# Needs: cargo, libpq (libpq-dev) and the PostgreSQL server binaries
# (found through PG_BIN, pg_config, PATH or /usr/lib/postgresql/*/bin).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

criterion=0
latency=0
mode=--quick
args=()
for arg in "$@"; do
    case "$arg" in
        --criterion) criterion=1 ;;
        --latency) latency=1 ;;
        --quick|--full) mode="$arg"; args+=("$arg") ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) args+=("$arg") ;;
    esac
done

if ! pkg-config --exists libpq 2>/dev/null && ! command -v pg_config >/dev/null 2>&1; then
    echo "run.sh: libpq not found: install libpq-dev (Debian) or your system's libpq development package" >&2
    exit 1
fi

if [ "$latency" = 1 ]; then
    echo "building the latency workload (release)..." >&2
    cargo build --release --quiet --bin latency
    mkdir -p results
    exec ./target/release/latency "$mode" "${args[@]}" --out "$here/results/latency.md"
fi

echo "building pgline-benches (release)..." >&2
cargo build --release --quiet --bin pgline-bench

mkdir -p results
./target/release/pgline-bench --out "$here/results" "${args[@]}"

if [ "$criterion" = 1 ]; then
    cargo bench --bench point_select
fi
