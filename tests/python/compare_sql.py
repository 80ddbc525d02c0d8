"""Runs an exported query in DuckDB and compares its result with a stage's own output.

Usage: python compare_sql.py QUERY.sql REFERENCE.parquet
Rows are matched by customer_id. Prints one JSON object: the row counts, ids missing on
either side, columns of the reference the query lacks, and per column the number of
differing values (integers and text) or the largest absolute difference (doubles).
"""
import json
import sys

import duckdb
import pyarrow.parquet as pq

query = open(sys.argv[1]).read()
got = duckdb.connect().sql(query).to_arrow_table()
reference = pq.read_table(sys.argv[2])

got_rows = {cid: i for i, cid in enumerate(got.column("customer_id").to_pylist())}
ref_ids = reference.column("customer_id").to_pylist()
missing = [cid for cid in ref_ids if cid not in got_rows]
extra = len(set(got_rows) - set(ref_ids))
result = {
    "query_rows": got.num_rows,
    "reference_rows": reference.num_rows,
    "missing_ids": len(missing),
    "extra_ids": extra,
    "missing_columns": [c for c in reference.schema.names if c not in got.schema.names],
    "max_abs_diff": {},
    "mismatches": {},
}
order = [got_rows[cid] for cid in ref_ids if cid in got_rows]
for name in reference.schema.names:
    if name == "customer_id" or name not in got.schema.names:
        continue
    ours = [v for cid, v in zip(ref_ids, reference.column(name).to_pylist()) if cid in got_rows]
    theirs_all = got.column(name).to_pylist()
    theirs = [theirs_all[i] for i in order]
    if isinstance(next((v for v in ours if v is not None), None), float):
        result["max_abs_diff"][name] = max((abs(a - b) for a, b in zip(ours, theirs)), default=0.0)
    else:
        result["mismatches"][name] = sum(1 for a, b in zip(ours, theirs) if a != b)
print(json.dumps(result))
