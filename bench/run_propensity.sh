#!/usr/bin/env bash
# Propensity benchmark: one gradient-boosted model per product (the generator's 20) on
# N generated customers' features (the preprocess stage's output), labelled by the
# products held at the last snapshot, then every customer scored for every product:
# `clientele-bench propensity` against scikit-learn's HistGradientBoostingClassifier
# (bench/propensity_sklearn.py), same files, same trees (100, no early stopping), bins
# (255), leaves (31) and learning rate (0.1), run one after the other RUNS times
# (default 1).
# Usage: bench/run_propensity.sh [CUSTOMERS]   (default 1000000)
# Needs: a Rust toolchain, GNU time (/usr/bin/time), python3 (scikit-learn and pyarrow
# are installed into bench/work/venv from bench/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS="${RUNS:-1}"
n="${1:-1000000}"

cargo build --release --quiet -p clientele -p clientele-bench
bin="$PWD/target/release/clientele"
bench="$PWD/target/release/clientele-bench"
need_gnu_time
python_venv

# Inputs, not timed: generated data, ingested and preprocessed; the holdings ingested.
rm -rf bench/work/data bench/work/out bench/work/prep bench/work/rec
"$bin" generate --customers "$n" --seed 7 --snapshots 2 --out bench/work/data 2>/dev/null
"$bin" run bench/ingest.toml --force --quiet
"$bin" run bench/preprocess.toml --force --quiet
"$bin" run bench/recommend_inputs.toml --force --quiet --stage ingest_holdings

features=bench/work/prep/features.parquet
holdings=bench/work/rec/holdings.parquet
measure() {
    local log
    log=$(mktemp)
    /usr/bin/time -v "$@" 2>"$log" >"$log.out" || { cat "$log" >&2; exit 1; }
    wall_and_rss "$log" | awk '{ printf "wall %.1f s, peak %.0f MiB: ", $1, $2 / 1024 }'
    cat "$log.out"
    rm -f "$log" "$log.out"
}
echo "propensity, $n customers, $(nproc) cores, $RUNS run(s) each, alternating"
for _ in $(seq "$RUNS"); do
    measure "$bench" "$features" propensity --holdings "$holdings"
    measure "$venv/bin/python" bench/propensity_sklearn.py "$features" "$holdings"
done
