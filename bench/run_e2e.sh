#!/usr/bin/env bash
# End-to-end benchmark: clientele's pipeline (bench/e2e.toml) against the same work in
# pandas + scikit-learn (bench/e2e_sklearn.py), side by side in one run, from the
# generated CSV files to the metrics.
# Usage: bench/run_e2e.sh [CUSTOMERS...]     (default: 10000 100000 1000000 10000000)
# Needs: a Rust toolchain, python3, GNU time (/usr/bin/time). Installs the Python side into
# bench/work/venv from bench/requirements.txt. RUNS (default 1) runs of each side per size;
# the medians are printed. Prints a Markdown table of wall seconds and peak resident
# memory, with the ratios; every run's details go to bench/work/e2e/results.jsonl.
# A side that fails (out of memory, killed) is reported as failed, with the step it was in.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-1}"
N_INIT="${BENCH_N_INIT:-3}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000 10000000)

cargo build --release --quiet -p clientele
bin="$PWD/target/release/clientele"
venv="bench/work/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }
py="$venv/bin/python"
work=bench/work/e2e
mkdir -p "$work"
results="$work/results.jsonl"

# Runs a command under GNU time; prints "status wall_seconds max_rss_kib".
measure() {
    local log=$1
    shift
    local status=0
    /usr/bin/time -v "$@" >"$log.out" 2>"$log" || status=$?
    awk -v st="$status" -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
        /Maximum resident set size/ { rss = $2 } END { print st, wall, rss }' "$log"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "| customers | clientele s | scikit-learn s | speed-up | clientele MiB | scikit-learn MiB | memory ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
    # The data, not timed: the same CSV files for both sides.
    if [ "$(cat "$work/data/.customers" 2>/dev/null)" != "$n" ]; then
        rm -rf "$work/data"
        "$bin" generate --customers "$n" --seed 7 --snapshots 2 --out "$work/data" >&2
        echo "$n" > "$work/data/.customers"
    fi
    : > "$work/ours.txt"
    : > "$work/theirs.txt"
    for _ in $(seq "$RUNS"); do
        rm -rf "$work/clientele" "$work/python"
        measure "$work/ours.log" "$bin" run bench/e2e.toml --force --quiet --json \
            --set "segment.n_init=$N_INIT" >> "$work/ours.txt"
        measure "$work/theirs.log" "$py" bench/e2e_sklearn.py "$work/data" "$work/python" --n-init "$N_INIT" >> "$work/theirs.txt"
        # Each side's own account: clientele's per-stage seconds, the Python side's steps.
        "$py" - "$n" "$work" <<'PY' >> "$results"
import json, sys
n, work = int(sys.argv[1]), sys.argv[2]
ours = open(f"{work}/ours.txt").read().split("\n")[-2].split()
theirs = open(f"{work}/theirs.txt").read().split("\n")[-2].split()
try:
    stages = {s["name"]: s.get("seconds") for s in json.load(open(f"{work}/ours.log.out"))["stages"]}
except Exception:
    stages = None
python_out = open(f"{work}/theirs.log.out").read().strip().splitlines()
steps = [l for l in open(f"{work}/theirs.log").read().splitlines() if l.startswith("[")]
print(json.dumps({
    "customers": n,
    "clientele": {"status": int(ours[0]), "seconds": float(ours[1]), "max_rss_kib": int(ours[2]), "stages": stages},
    "python": {"status": int(theirs[0]), "seconds": float(theirs[1]), "max_rss_kib": int(theirs[2]),
               "summary": json.loads(python_out[-1]) if python_out else None, "last_step": steps[-1] if steps else None},
}))
PY
    done
    ours_status=$(cut -d' ' -f1 "$work/ours.txt" | sort -g | tail -1)
    theirs_status=$(cut -d' ' -f1 "$work/theirs.txt" | sort -g | tail -1)
    a=$(cut -d' ' -f2 "$work/ours.txt" | median)
    b=$(cut -d' ' -f2 "$work/theirs.txt" | median)
    c=$(cut -d' ' -f3 "$work/ours.txt" | median)
    d=$(cut -d' ' -f3 "$work/theirs.txt" | median)
    if [ "$ours_status" != 0 ]; then
        echo "| $n | failed (exit $ours_status) | | | | | |"
        tail -5 "$work/ours.log" >&2
    elif [ "$theirs_status" != 0 ]; then
        step=$(grep '^\[' "$work/theirs.log" | tail -1 | sed 's/|/\\|/g')
        awk -v n="$n" -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v s="$theirs_status" -v st="$step" \
            'BEGIN { printf "| %d | %.1f | failed after %.0f s (exit %d) in: %s | | %.0f | %.0f at failure | |\n", n, a, b, s, st, c / 1024, d / 1024 }'
    else
        awk -v n="$n" -v a="$a" -v b="$b" -v c="$c" -v d="$d" \
            'BEGIN { printf "| %d | %.1f | %.1f | %.1f× | %.0f | %.0f | %.2f |\n", n, a, b, b / a, c / 1024, d / 1024, c / d }'
    fi
done
