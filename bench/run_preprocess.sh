#!/usr/bin/env bash
# Preprocess benchmark: clientele against pandas + scikit-learn on the same Parquet file,
# side by side in one run. Usage: bench/run_preprocess.sh [CUSTOMERS...]   (default: 100000 1000000)
# COLUMNS_WIDE=50 widens the generated customers to 50 input columns first.
# Needs: a Rust toolchain, python3, GNU time (/usr/bin/time). Installs the Python side into
# bench/work/venv from bench/requirements.txt. Prints a Markdown table of medians over RUNS runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS="${RUNS:-3}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)

cargo build --release --quiet
bin="$PWD/target/release/clientele"
python_venv
need_gnu_time

# Prints "seconds max_rss_kib" of one run of the command.
measure() {
    local log
    log=$(mktemp)
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
    wall_and_rss "$log"
    rm -f "$log"
}


echo "| customers | clientele s | scikit-learn s | speed-up | clientele MiB | scikit-learn MiB | memory ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
    rm -rf bench/work/data bench/work/out bench/work/prep
    "$bin" generate --customers "$n" --seed 7 --snapshots 2 --out bench/work/data 2>/dev/null
    # COLUMNS_WIDE=50 widens the 22 generated columns to 50 (bench/widen_customers.py).
    if [ -n "${COLUMNS_WIDE:-}" ]; then
        "$venv/bin/python" bench/widen_customers.py bench/work/data "$COLUMNS_WIDE"
    fi
    "$bin" run bench/ingest.toml --force --quiet
    : > bench/work/ours.txt
    : > bench/work/theirs.txt
    for _ in $(seq "$RUNS"); do
        measure "$bin" run bench/preprocess.toml --force --quiet >> bench/work/ours.txt
        measure "$venv/bin/python" bench/preprocess_sklearn.py bench/work/out/customers.parquet bench/work/sklearn_features.parquet >> bench/work/theirs.txt
    done
    ours_s=$(cut -d' ' -f1 bench/work/ours.txt | median)
    theirs_s=$(cut -d' ' -f1 bench/work/theirs.txt | median)
    ours_m=$(cut -d' ' -f2 bench/work/ours.txt | median)
    theirs_m=$(cut -d' ' -f2 bench/work/theirs.txt | median)
    awk -v n="$n" -v a="$ours_s" -v b="$theirs_s" -v c="$ours_m" -v d="$theirs_m" \
        'BEGIN { printf "| %d | %.2f | %.2f | %.1f× | %.0f | %.0f | %.2f |\n", n, a, b, b / a, c / 1024, d / 1024, c / d }'
done
