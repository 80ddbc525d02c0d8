#!/usr/bin/env bash
# The exported SQL at scale: DuckDB runs the queries `clientele export-sql` writes over the
# millions of customers of the other benchmarks' outputs, and its result is compared with
# the stage's own, row by row, inside DuckDB (bench/sql_at_scale.py):
# - the K-Means segment stage of bench/scale.toml (run bench/run_scale.sh first) over
#   bench/work/scale/fit: every customer's segment and distance;
# - the recommend stage of bench/e2e.toml (run bench/run_e2e.sh first) over its training
#   holdings in bench/work/e2e/clientele: the item-based lists.
# Each query runs under GNU time -v (wall time, peak memory of the DuckDB process).
# Usage: bench/run_sql.sh [MEMORY_LIMIT]   (DuckDB's memory_limit, e.g. 2GB; default DuckDB's own)
# Prints a Markdown table; JSON lines go to bench/work/sql/results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
cargo build --release --quiet
bin="$PWD/target/release/clientele"
py=bench/work/venv/bin/python
[ -x "$py" ] || { echo "bench/work/venv is missing: run bench/run_e2e.sh once (it installs bench/requirements.txt)" >&2; exit 1; }
need_gnu_time
memory_limit="${1:-}"
work=bench/work/sql
mkdir -p "$work"
: > "$work/results.jsonl"

# name query out reference compare-kind
check() {
    local name=$1 query=$2 out=$3 reference=$4 kind=$5 log start end
    log=$(mktemp)
    start=$(date +%s.%N)
    /usr/bin/time -v "$py" bench/sql_at_scale.py run "$query" "$out" $memory_limit 2> "$log" || { cat "$log" >&2; exit 1; }
    end=$(date +%s.%N)
    "$py" bench/sql_at_scale.py "compare-$kind" "$out" "$reference" > "$log.check"
    python3 - "$name" "$start" "$end" "$log" "$log.check" >> "$work/results.jsonl" <<'PY'
import json, sys
name, start, end, log, check = sys.argv[1:]
rss = next(int(l.split(":")[1]) for l in open(log) if "Maximum resident set size" in l)
print(json.dumps({"step": name, "seconds": float(end) - float(start), "peak_mib": rss / 1024, "check": json.load(open(check))}))
PY
    rm -f "$log" "$log.check"
}

if [ -f bench/work/scale/fit/segment_model.json ]; then
    "$bin" export-sql bench/scale.toml --stage segment --dialect duckdb --out "$work/segments.sql"
    check "segment (K-Means over the preprocessing), $(cat bench/work/scale/data/customers.count) customers${memory_limit:+, memory_limit $memory_limit}" \
        "$work/segments.sql" "$work/segments.parquet" bench/work/scale/fit/segments.parquet segments
else
    echo "skipped the segment query: bench/work/scale/fit has no model (run bench/run_scale.sh)" >&2
fi
if [ -f bench/work/e2e/clientele/recommend_model.json ]; then
    "$bin" export-sql bench/e2e.toml --stage recommend --dialect duckdb --out "$work/recommend.sql"
    check "recommend (item-based lists)${memory_limit:+, memory_limit $memory_limit}" "$work/recommend.sql" "$work/recommend.parquet" \
        bench/work/e2e/clientele/recommendations_by_method.parquet lists
else
    echo "skipped the recommend query: bench/work/e2e/clientele has no recommend model (run bench/run_e2e.sh)" >&2
fi

python3 - "$work/results.jsonl" <<'PY'
import json, sys
print("| query in DuckDB | wall s | peak MiB | check |")
print("|---|---:|---:|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    check = ", ".join(f"{k} {v}" for k, v in r["check"].items())
    print(f"| {r['step']} | {r['seconds']:.1f} | {r['peak_mib']:.0f} | {check} |")
PY
