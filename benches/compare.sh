#!/usr/bin/env bash
# One same-run comparison of both builds of ours against every peer: builds `compare` with
# the `peers` feature (josekit, aws-lc-rs: OpenSSL headers, a C compiler and cmake) and
# `--features hazmat` (kept as target/release/compare-hazmat), then the default `compare`, and
# runs the default one with the hazmat one as a peer in the same rotation. Arguments go to
# `compare` (for example `--rounds 10 --seconds 0.25`). Output format: benches/README.md;
# benches/chart.py turns it into an SVG bar chart.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p alliancepay-benches --bin compare --features peers,hazmat
cp target/release/compare target/release/compare-hazmat
cargo build -q --release -p alliancepay-benches --bin compare --features peers
exec target/release/compare --hazmat target/release/compare-hazmat "$@"
