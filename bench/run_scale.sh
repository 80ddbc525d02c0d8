#!/usr/bin/env bash
# Past one machine, at scale: fit once (bench/scale.toml: ingest, preprocess, mini-batch
# K-Means for k = 2…10), then score every customer again in PARTS independent runs
# (bench/scale_score.toml with --partition I/PARTS, one after the other here; on N
# machines in production), merge the parts, and check the merged segments against the
# fit's own assignments. Each step is timed with GNU time -v (wall time, peak memory).
# Usage: bench/run_scale.sh [CUSTOMERS] [PARTS]   (default 10000000 and 4)
# Prints a Markdown table; JSON lines go to bench/work/scale/results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n="${1:-10000000}"
parts="${2:-4}"
cargo build --release --quiet
bin="$PWD/target/release/clientele"
work=bench/work/scale
need_gnu_time
mkdir -p "$work"
if [ "$(cat "$work/data/customers.count" 2>/dev/null)" != "$n" ]; then
    rm -rf "$work/data" "$work/fit" "$work/score"
    "$bin" generate --customers "$n" --seed 7 --snapshots 2 --out "$work/data" >&2
    echo "$n" > "$work/data/customers.count"
fi
: > "$work/results.jsonl"

# step-name command...: runs the command under GNU time, appends a JSON line.
measure() {
    local name=$1 log start end
    shift
    log=$(mktemp)
    start=$(date +%s.%N)
    /usr/bin/time -v "$@" > "$log.out" 2> "$log" || { cat "$log" >&2; exit 1; }
    end=$(date +%s.%N)
    python3 - "$name" "$start" "$end" "$log" "$log.out" >> "$work/results.jsonl" <<'PY'
import json, sys
name, start, end, log, out = sys.argv[1:]
rss = next(int(l.split(":")[1]) for l in open(log) if "Maximum resident set size" in l)
row = {"step": name, "seconds": float(end) - float(start), "peak_mib": rss / 1024}
try:
    summary = json.load(open(out))
    row["stages"] = {s["name"]: round(s["seconds"], 1) for s in summary.get("stages", [])}
except (ValueError, OSError):
    pass
print(json.dumps(row))
PY
    rm -f "$log" "$log.out"
}

measure "fit: ingest, preprocess, mini-batch K-Means k = 2..10" "$bin" run bench/scale.toml --force --quiet --json
for i in $(seq 0 $((parts - 1))); do
    measure "score partition $i/$parts" "$bin" run bench/scale_score.toml --partition "$i/$parts" --force --quiet --json
done
measure "merge $parts parts" "$bin" merge bench/scale_score.toml --partitions "$parts" --quiet

# The merged segments are the fit's: the same segment and distance for every customer.
# DuckDB joins the two files (from bench/work/venv when run_e2e.sh made it).
py=python3
[ -x bench/work/venv/bin/python ] && py=bench/work/venv/bin/python
"$py" - "$work" <<'PY' >> "$work/results.jsonl"
import json, sys
work = sys.argv[1]
query = f"""
SELECT count(*) AS customers,
       sum(CASE WHEN f.segment = s.segment AND f.distance_to_centroid = s.distance_to_centroid THEN 1 ELSE 0 END) AS equal
FROM read_parquet('{work}/fit/segments.parquet') f
JOIN read_parquet('{work}/score/segments.parquet') s USING (customer_id)
"""
try:
    import duckdb
except ImportError:
    print(json.dumps({"step": "check", "skipped": "no duckdb module"}))
    sys.exit(0)
customers, equal = duckdb.sql(query).fetchall()[0]
print(json.dumps({"step": "check", "customers": customers, "equal": equal}))
PY

python3 - "$work/results.jsonl" <<'PY'
import json, sys
print("| step | wall s | peak MiB |")
print("|---|---:|---:|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["step"] == "check":
        print(f"\nCheck: {r}")
        continue
    stages = r.get("stages")
    extra = f" ({', '.join(f'{k} {v} s' for k, v in stages.items())})" if stages else ""
    print(f"| {r['step']}{extra} | {r['seconds']:.1f} | {r['peak_mib']:.0f} |")
PY
