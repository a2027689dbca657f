#!/usr/bin/env bash
# Runs every example in examples/ as a user would, against the throwaway
# server each starts when DATABASE_URL is unset: each must exit 0 and leave
# no server process and no folder behind.
#
# The examples are built once (one cargo invocation) and their binaries run
# from the target folder. Each run gets its own PGLINE_TESTKIT_DIR, so what
# it leaves behind is told apart from any other server on the machine.
#
#   scripts/run-examples.sh            # every example
#   scripts/run-examples.sh batch copy # only these
set -euo pipefail
cd "$(dirname "$0")/.."

# Arguments that keep an example's CI run short (its defaults are sized
# for a demonstration).
example_args() {
  case "$1" in
    copy) echo 20000 ;;
    # Serves HTTP until stopped; --scrape-once runs the workload briefly,
    # prints one scrape and exits.
    observability) echo --scrape-once ;;
    *) ;;
  esac
}

if [ "$#" -gt 0 ]; then
  examples=("$@")
else
  examples=()
  # An example is a file (examples/NAME.rs) or a folder with a main.rs
  # (examples/NAME/main.rs), as cargo finds them.
  for f in examples/*.rs examples/*/main.rs; do
    [ -e "$f" ] || continue
    case "$f" in
      */main.rs) examples+=("$(basename "$(dirname "$f")")") ;;
      *) examples+=("$(basename "$f" .rs)") ;;
    esac
  done
fi

cargo build -p pgline --examples --all-features
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

base=$(mktemp -d "${TMPDIR:-/tmp}/pgline-examples-XXXXXX")
# The servers may run under another account when this runs as root.
chmod 755 "$base"
failed=0
for ex in "${examples[@]}"; do
  dir="$base/$ex"
  mkdir -m 755 "$dir"
  log="$base/$ex.log"
  start=$(date +%s%N)
  # shellcheck disable=SC2046
  if env -u DATABASE_URL -u CLUSTER_URL PGLINE_TESTKIT_DIR="$dir" \
    "$target_dir/debug/examples/$ex" $(example_args "$ex") >"$log" 2>&1; then
    status=ok
  else
    status="FAILED (exit $?)"
    failed=1
  fi
  ms=$((($(date +%s%N) - start) / 1000000))
  # The template folder's watchdog (and the server's, for an example that
  # exits without dropping it) cleans up just after the process ends.
  for _ in $(seq 100); do
    [ -z "$(pgrep -f -- "$dir")" ] && [ -z "$(ls -A "$dir")" ] && break
    sleep 0.1
  done
  left=$(pgrep -f -- "$dir" || true)
  if [ -n "$left" ]; then
    status="$status; FAILED: processes left behind: $(echo "$left" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null || true
    failed=1
  fi
  if [ -n "$(ls -A "$dir")" ]; then
    status="$status; FAILED: files left behind in $dir: $(ls -A "$dir" | tr '\n' ' ')"
    failed=1
  fi
  printf 'example %-14s %6d ms  %s\n' "$ex" "$ms" "$status"
  if [ "$status" != ok ]; then
    sed 's/^/    /' "$log" | tail -40
  fi
done
[ "$failed" = 0 ] && rm -rf "$base"
exit "$failed"
