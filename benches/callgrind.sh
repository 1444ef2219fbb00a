#!/usr/bin/env bash
# Instructions per operation, counted by valgrind's callgrind on the `compare` binary: stable on
# a noisy machine, so this is the figure to compare from change to change.
#
#   benches/callgrind.sh [COUNT] [IMPL...]   (default 20 operations; ours bare-p384 aws-lc-rs josekit)
#
# For each implementation and operation it runs `compare --callgrind OP COUNT` and the same with
# 0 operations (key set-up, process start, one warm-up operation that builds p384's basepoint
# table), and prints (total - baseline) / COUNT. Set COMPARE_FEATURES=hazmat to count the build
# with alliancepay-jose's hazmat-scalar-mul ("ours-hazmat"). Profiles stay in
# $CALLGRIND_DIR (default target/callgrind) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-20}"
shift || true
impls=("$@")
[ ${#impls[@]} -gt 0 ] || impls=(ours bare-p384 aws-lc-rs josekit)
features="${COMPARE_FEATURES:-}"
out="${CALLGRIND_DIR:-${CARGO_TARGET_DIR:-target}/callgrind}${features:+-$features}"
mkdir -p "$out"

# `peers`: josekit and aws-lc-rs are linked only with it.
cargo build -q --release -p alliancepay-benches --bin compare --features "peers${features:+,$features}"
bin="${CARGO_TARGET_DIR:-target}/release/compare"

total() { # the "totals:" line of a callgrind profile is its instruction count
    awk '/^totals:/ { print $2 }' "$1"
}

echo "# instructions per operation (callgrind; $count operations minus a 0-operation baseline)"
for impl in "${impls[@]}"; do
    for op in keygen encrypt decrypt; do
        for n in 0 "$count"; do
            valgrind --tool=callgrind --callgrind-out-file="$out/$op-$impl-$n.out" \
                "$bin" --callgrind "$op" "$n" --impl "$impl" >/dev/null 2>&1
        done
        base=$(total "$out/$op-$impl-0.out")
        all=$(total "$out/$op-$impl-$count.out")
        echo "$op $impl${features:+-$features} $(( (all - base) / count ))"
    done
done
