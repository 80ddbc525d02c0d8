#!/usr/bin/env bash
# End-to-end benchmark: clientele's pipeline (bench/e2e.toml) against the same work in
# pandas + scikit-learn (bench/e2e_sklearn.py), and against the stronger notebook (the
# same script with --strong: polars for the CSV and Parquet files, scikit-learn-intelex
# for the estimators), side by side in one run, from the generated CSV files to the
# metrics. STRONG=0 leaves the stronger notebook out.
# Usage: bench/run_e2e.sh [CUSTOMERS...]     (default: 10000 100000 1000000 10000000)
# Needs: a Rust toolchain, python3, GNU time (/usr/bin/time). Installs the Python side into
# bench/work/venv from bench/requirements.txt. RUNS (default 1) runs of each side per size;
# the medians are printed. Prints a Markdown table of wall seconds and peak resident
# memory, with the ratios; every run's details go to bench/work/e2e/results.jsonl.
# A side that fails (out of memory, killed) is reported as failed, with the step it was in.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS="${RUNS:-1}"
STRONG="${STRONG:-1}"
N_INIT="${BENCH_N_INIT:-3}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000 10000000)

cargo build --release --quiet -p clientele
bin="$PWD/target/release/clientele"
python_venv
need_gnu_time
work=bench/work/e2e
mkdir -p "$work"
results="$work/results.jsonl"

# Runs a command under GNU time; prints "status wall_seconds max_rss_kib".
measure() {
    local log=$1
    shift
    local status=0
    /usr/bin/time -v "$@" >"$log.out" 2>"$log" || status=$?
    echo "$status $(wall_and_rss "$log")"
}

# Prints one cell pair "seconds | MiB" for a side, or the failure and the step it was in.
cells() {
    local side=$1 status seconds rss step
    status=$(cut -d' ' -f1 "$work/$side.txt" | sort -g | tail -1)
    seconds=$(cut -d' ' -f2 "$work/$side.txt" | median)
    rss=$(cut -d' ' -f3 "$work/$side.txt" | median)
    if [ "$status" != 0 ]; then
        step=$(grep '^\[' "$work/$side.log" | tail -1 | sed 's/|/\\|/g')
        printf 'failed after %.0f s (exit %d) in: %s|%.0f at failure' "$seconds" "$status" "$step" "$((rss / 1024))"
    else
        printf '%s|%s' "$seconds" "$rss"
    fi
}

sides=(ours theirs)
[ "$STRONG" = 1 ] && sides+=(strong)
echo "| customers | clientele s | scikit-learn s | speed-up | polars + sklearnex s | speed-up | clientele MiB | scikit-learn MiB | memory ratio | polars + sklearnex MiB | memory ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
    # The data, not timed: the same CSV files for every side.
    if [ "$(cat "$work/data/.customers" 2>/dev/null)" != "$n" ]; then
        rm -rf "$work/data"
        "$bin" generate --customers "$n" --seed 7 --snapshots 2 --out "$work/data" >&2
        echo "$n" > "$work/data/.customers"
    fi
    for side in "${sides[@]}"; do : > "$work/$side.txt"; done
    for _ in $(seq "$RUNS"); do
        rm -rf "$work/clientele" "$work/python" "$work/python_strong"
        measure "$work/ours.log" "$bin" run bench/e2e.toml --force --quiet --json \
            --set "segment.n_init=$N_INIT" >> "$work/ours.txt"
        measure "$work/theirs.log" "$py" bench/e2e_sklearn.py "$work/data" "$work/python" --n-init "$N_INIT" >> "$work/theirs.txt"
        if [ "$STRONG" = 1 ]; then
            measure "$work/strong.log" "$py" bench/e2e_sklearn.py "$work/data" "$work/python_strong" --n-init "$N_INIT" --strong >> "$work/strong.txt"
        fi
        # Each side's own account: clientele's per-stage seconds, the Python sides' steps.
        "$py" - "$n" "$work" "${sides[@]}" <<'PY' >> "$results"
import json, sys
n, work, sides = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def last(side):
    status, seconds, rss = open(f"{work}/{side}.txt").read().split("\n")[-2].split()
    return {"status": int(status), "seconds": float(seconds), "max_rss_kib": int(rss)}
record = {"customers": n, "clientele": last("ours")}
try:
    record["clientele"]["stages"] = {s["name"]: s.get("seconds") for s in json.load(open(f"{work}/ours.log.out"))["stages"]}
except Exception:
    record["clientele"]["stages"] = None
for side, name in (("theirs", "python"), ("strong", "python_strong")):
    if side not in sides:
        continue
    out = open(f"{work}/{side}.log.out").read().strip().splitlines()
    steps = [l for l in open(f"{work}/{side}.log").read().splitlines() if l.startswith("[")]
    record[name] = last(side) | {"summary": json.loads(out[-1]) if out else None, "steps": steps}
print(json.dumps(record))
PY
    done
    IFS='|' read -r a c <<< "$(cells ours)"
    IFS='|' read -r b d <<< "$(cells theirs)"
    if [ "$STRONG" = 1 ]; then IFS='|' read -r e f <<< "$(cells strong)"; else e="not run"; f=""; fi
    ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (x + 0 > 0 && y + 0 > 0 && y ~ /^[0-9.]+$/ && x ~ /^[0-9.]+$/) printf "%.2f", x / y; else printf "" }'; }
    mib() { awk -v x="$1" 'BEGIN { if (x ~ /^[0-9]+$/) printf "%.0f", x / 1024; else printf "%s", x }'; }
    secs() { awk -v x="$1" 'BEGIN { if (x ~ /^[0-9.]+$/) printf "%.1f", x; else printf "%s", x }'; }
    su_b=$(ratio "$b" "$a"); su_e=$(ratio "$e" "$a"); mr_d=$(ratio "$c" "$d"); mr_f=$(ratio "$c" "$f")
    echo "| $n | $(secs "$a") | $(secs "$b") | ${su_b:+${su_b}×} | $(secs "$e") | ${su_e:+${su_e}×} | $(mib "$c") | $(mib "$d") | $mr_d | $(mib "$f") | $mr_f |"
done
