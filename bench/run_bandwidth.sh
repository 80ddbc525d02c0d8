#!/usr/bin/env bash
# The K-Means Lloyd pass against the memory-bandwidth bound, in one process: the copy
# bandwidth measured on this machine (STREAM convention), one full assignment pass over a
# matrix far larger than the caches (as the stage runs it, and with the portable kernels
# only), and the passes of a fit with Hamerly's bounds.
# Usage: bench/run_bandwidth.sh [ROWS]  (default 2000000)
# Prints a Markdown table; the JSON lines go to bench/work/bandwidth.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-2000000}"
cargo build --release --quiet -p clientele-bench --bin clientele-bandwidth
mkdir -p bench/work
target/release/clientele-bandwidth --rows "$rows" --shape 16x8 --shape 37x10 --shape 37x4 > bench/work/bandwidth.jsonl
echo "| matrix | k | MiB | copy GB/s | read GB/s | bound ms | portable full pass ms | full pass ms | full / bound | fit passes | rows scanned | bounded pass ms | bounded / bound | fit's mean pass / bound |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
python3 - <<'PY'
import json
for line in open("bench/work/bandwidth.jsonl"):
    b = json.loads(line)
    print(f"| {b['rows']} × {b['dims']} | {b['k']} | {b['matrix_bytes'] / 2**20:.0f} | {b['copy_bytes_per_second'] / 1e9:.1f} | "
          f"{b['read_bytes_per_second'] / 1e9:.1f} | {b['bound_seconds'] * 1e3:.1f} | {b['portable_pass_seconds'] * 1e3:.1f} | {b['lloyd_pass_seconds'] * 1e3:.1f} | {b['ratio_to_bound']:.2f} | "
          f"{b['fit_passes']} | {b['bounded_scanned_fraction'] * 100:.1f} % | {b['bounded_pass_seconds'] * 1e3:.1f} | {b['bounded_ratio_to_bound']:.2f} | {b['mean_fit_ratio_to_bound']:.2f} |")
PY
