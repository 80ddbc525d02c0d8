#!/usr/bin/env bash
# Ingest benchmark: clientele against polars (read_csv + write_parquet, zstd) on the same
# generated CSV files, side by side in one run, the two alternating round by round.
# Usage: bench/run_ingest.sh [CUSTOMERS]   (default 300000: 51 MB of customers and
# 459 MB, 13.7 million rows, of holdings). Needs a Rust toolchain, python3 and GNU time;
# installs polars into bench/work/venv from bench/requirements.txt.
# clientele's time is the whole command (start-up, input and output hashing for the
# up-to-date record, the commit); polars' is timed inside Python after the import.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS="${RUNS:-5}"
n="${1:-300000}"

cargo build --release --quiet
bin="$PWD/target/release/clientele"
python_venv
need_gnu_time

work=bench/work/ingest
rm -rf "$work"
"$bin" generate --customers "$n" --seed 7 --out "$work/data" 2>/dev/null
cat > "$work/customers.toml" <<TOML
[pipeline]
name = "bench_ingest_customers"
output_dir = "out"

[[stage]]
name = "ingest"
kind = "ingest"
inputs = { source = "data/customers.csv" }
outputs = { table = "customers.parquet" }

[stage.params]
columns = { region = "categorical", job = "categorical", marital_status = "categorical", last_contact_date = "date" }
TOML
cat > "$work/holdings.toml" <<TOML
[pipeline]
name = "bench_ingest_holdings"
output_dir = "out"

[[stage]]
name = "ingest"
kind = "ingest"
inputs = { source = "data/holdings.csv" }
outputs = { table = "holdings.parquet" }

[stage.params]
one_row_per_customer = false
columns = { product = "categorical", snapshot = "date" }
TOML

seconds() { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null | tail -1; }

echo "| table | rows | MB | clientele s (median of $RUNS) | polars s | clientele / polars |"
echo "|---|---:|---:|---:|---:|---:|"
for table in customers holdings; do
    csv="$work/data/$table.csv"
    ours=(); theirs=()
    for _ in $(seq "$RUNS"); do
        ours+=("$(seconds "$bin" run "$work/$table.toml" --force --quiet)")
        theirs+=("$("$venv/bin/python" bench/ingest_polars.py "$csv" "$work/polars_$table.parquet")")
    done
    a=$(printf '%s\n' "${ours[@]}" | median)
    b=$(printf '%s\n' "${theirs[@]}" | median)
    rows=$(($(wc -l < "$csv") - 1))
    mb=$(du -m "$csv" | cut -f1)
    echo "| $table | $rows | $mb | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }') |"
done
