#!/usr/bin/env bash
# The recommend stage with `propensity` alone at scale (bench/propensity_stage.toml): N
# generated customers, 20 products, two snapshots (one transition to learn from),
# ingested and preprocessed (not timed), then the stage under GNU time -v: its wall time,
# its peak memory, and its notes (which products learnt from a sample of
# `propensity_max_examples`).
# Usage: bench/run_propensity_stage.sh [CUSTOMERS]   (default 10000000)
# Needs: a Rust toolchain, GNU time (/usr/bin/time); about 7 GB of disk at 10,000,000.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n="${1:-10000000}"
cargo build --release --quiet -p clientele
bin="$PWD/target/release/clientele"
need_gnu_time
work=bench/work/pstage
rm -rf "$work"
"$bin" generate --customers "$n" --seed 7 --snapshots 2 --out "$work/data" 2>/dev/null
for stage in ingest_customers ingest_holdings preprocess; do
    "$bin" run bench/propensity_stage.toml --quiet --stage "$stage"
done
log=$(mktemp)
/usr/bin/time -v "$bin" run bench/propensity_stage.toml --stage recommend 2>"$log" || { cat "$log" >&2; exit 1; }
grep -E "propensity:" "$log" | cut -c1-300
wall_and_rss "$log" | awk -v n="$n" '{ printf "recommend stage, propensity alone, %d customers: wall %.1f s, peak %.0f MiB\n", n, $1, $2 / 1024 }'
rm -f "$log"
