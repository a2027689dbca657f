#!/bin/sh
# Runs every fuzz target, one after the other, for the given number of
# seconds each (default 600), on the stable toolchain (RUSTC_BOOTSTRAP=1).
#
#   fuzz/run.sh [seconds] [target...]
#
# New inputs go to a scratch folder ($PGLINE_FUZZ_WORK, default
# /tmp/pgline-fuzz/<target>/corpus), never into the committed seeds in
# fuzz/corpus/<target>. Crashing inputs are written to
# $PGLINE_FUZZ_WORK/<target>/crash-*. The last libFuzzer status line of each
# run (executions, coverage, features) is printed at the end and kept in
# $PGLINE_FUZZ_WORK/<target>/fuzz.log. Runs at the lowest CPU priority.
set -eu

seconds=${1:-600}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
work=${PGLINE_FUZZ_WORK:-/tmp/pgline-fuzz}
targets=${*:-"backend_stream startup_exchange scram_server_first scram_server_final connection_string type_decoders from_row copy_binary"}

cd "$here"
for t in $targets; do
    RUSTC_BOOTSTRAP=1 cargo fuzz build "$t"
done
triple=$(rustc -vV | sed -n 's/^host: //p')

status=0
for t in $targets; do
    dir="$work/$t"
    mkdir -p "$dir/corpus"
    # A private copy of the binary, so a rebuild cannot touch a running one.
    cp "target/$triple/release/$t" "$dir/$t"
    echo "== $t: ${seconds}s" >&2
    if ! nice -n 19 "$dir/$t" "$dir/corpus" "corpus/$t" \
        -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=512 \
        -artifact_prefix="$dir/" -print_final_stats=1 >"$dir/fuzz.log" 2>&1; then
        echo "$t: FAILED, see $dir/fuzz.log and $dir/crash-*" >&2
        status=1
    fi
done

echo "== summary (last status line of each run)"
for t in $targets; do
    line=$(grep -E '^#[0-9]+' "$work/$t/fuzz.log" | tail -n 1)
    echo "$t: $line"
done
exit $status
