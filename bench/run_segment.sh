#!/usr/bin/env bash
# Segment benchmark: clientele's clustering kernels against scikit-learn's and against
# scikit-learn-intelex's (Intel oneDAL, through `patch_sklearn()`) on the same Parquet
# matrices, side by side in one run, the three alternating. Usage: bench/run_segment.sh
# Needs: a Rust toolchain, python3, GNU time (/usr/bin/time). Installs the Python side into
# bench/work/venv from bench/requirements.txt. Prints a Markdown table: median kernel
# seconds over RUNS runs (default 3), the processes' peak memory, and the ratios.
# Sizes: KMEANS_ROWS (1000000) × 16 (and × 37 with k = 10), SILHOUETTE_ROWS (50000) × 24,
# DBSCAN_ROWS (200000) × 8. KERNELS picks rows of the table (default
# "kmeans kmeans37 minibatch silhouette dbscan").
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS="${RUNS:-3}"
KMEANS_ROWS="${KMEANS_ROWS:-1000000}"
SILHOUETTE_ROWS="${SILHOUETTE_ROWS:-50000}"
DBSCAN_ROWS="${DBSCAN_ROWS:-200000}"
KERNELS="${KERNELS:-kmeans kmeans37 minibatch silhouette dbscan}"
want() { [[ " $KERNELS " == *" $1 "* ]]; }

cargo build --release --quiet -p clientele-bench
bin="$PWD/target/release/clientele-bench"
python_venv
need_gnu_time
mkdir -p bench/work/segment

# Prints "kernel_seconds max_rss_kib" of one run of the command (which prints JSON).
measure() {
    local log out
    log=$(mktemp)
    out=$(/usr/bin/time -v "$@" 2>"$log") || { cat "$log" >&2; exit 1; }
    echo "$out" >> bench/work/segment/results.jsonl
    seconds=$(printf '%s' "$out" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["seconds"])')
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
    rm -f "$log"
    echo "$seconds $rss"
}

# name rows dims centers ours-args... -- theirs-args...
bench() {
    local name=$1 rows=$2 dims=$3 centers=$4
    shift 4
    local ours=() theirs=()
    while [ "$1" != "--" ]; do ours+=("$1"); shift; done
    shift
    theirs=("$@")
    local file="bench/work/segment/${name}_${rows}x${dims}.parquet"
    [ -f "$file" ] || "$py" bench/segment_sklearn.py "$file" make --rows "$rows" --dims "$dims" --centers "$centers" --seed 7
    : > bench/work/segment/ours.txt
    : > bench/work/segment/theirs.txt
    : > bench/work/segment/intel.txt
    for _ in $(seq "$RUNS"); do
        measure "$bin" "$file" "${ours[@]}" >> bench/work/segment/ours.txt
        measure "$py" bench/segment_sklearn.py "$file" "${theirs[@]}" >> bench/work/segment/theirs.txt
        measure "$py" bench/segment_sklearn.py --engine sklearnex "$file" "${theirs[@]}" >> bench/work/segment/intel.txt
    done
    local a b e c d f
    a=$(cut -d' ' -f1 bench/work/segment/ours.txt | median)
    b=$(cut -d' ' -f1 bench/work/segment/theirs.txt | median)
    e=$(cut -d' ' -f1 bench/work/segment/intel.txt | median)
    c=$(cut -d' ' -f2 bench/work/segment/ours.txt | median)
    d=$(cut -d' ' -f2 bench/work/segment/theirs.txt | median)
    f=$(cut -d' ' -f2 bench/work/segment/intel.txt | median)
    awk -v n="$name" -v r="$rows" -v dm="$dims" -v a="$a" -v b="$b" -v e="$e" -v c="$c" -v d="$d" -v f="$f" \
        'BEGIN { printf "| %s | %d × %d | %.3f | %.3f | %.3f | %.2f× | %.2f× | %.0f | %.0f | %.0f |\n", n, r, dm, a, b, e, b / a, e / a, c / 1024, d / 1024, f / 1024 }'
}

: > bench/work/segment/results.jsonl
echo "| kernel | data | clientele s | scikit-learn s | sklearnex s | vs scikit-learn | vs sklearnex | clientele MiB | scikit-learn MiB | sklearnex MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
if want kmeans; then bench "K-Means k=8, n_init=3" "$KMEANS_ROWS" 16 8 kmeans --k 8 --n-init 3 -- kmeans --k 8 --n-init 3; fi
if want kmeans37; then bench "K-Means k=10, n_init=3" "$KMEANS_ROWS" 37 10 kmeans --k 10 --n-init 3 -- kmeans --k 10 --n-init 3; fi
if want minibatch; then bench "mini-batch K-Means k=8, batch 1024, n_init=3" "$KMEANS_ROWS" 16 8 kmeans --k 8 --n-init 3 --batch-size 1024 -- kmeans --k 8 --n-init 3 --batch-size 1024; fi
if want silhouette; then bench "silhouette, exact" "$SILHOUETTE_ROWS" 24 8 silhouette --k 8 -- silhouette --k 8; fi
if want dbscan; then bench "DBSCAN eps=1.5, min_samples=10" "$DBSCAN_ROWS" 8 12 dbscan --eps 1.5 --min-samples 10 -- dbscan --eps 1.5 --min-samples 10; fi
