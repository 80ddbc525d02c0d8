"""Runs a query written by `clientele export-sql --dialect spark` on Spark (pyspark in
local[2] mode) over the Parquet files clientele wrote, and compares its result with the
stage's own output.

Usage: python scale/spark_check.py QUERY.sql REFERENCE.parquet
Rows are matched by customer_id. Prints one JSON object, as tests/python/compare_sql.py
does for DuckDB: the row counts, ids missing on either side, columns of the reference
the query lacks, and per column the number of differing values (integers and text) or
the largest absolute difference (doubles). Needs Java 17 and `pip install pyspark`.
"""
import json
import sys

import pyarrow.parquet as pq
from pyspark.sql import SparkSession

query = open(sys.argv[1]).read()
spark = (
    SparkSession.builder.master("local[2]")
    .appName("clientele-export-sql-check")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
rows = [r.asDict() for r in spark.sql(query).collect()]
columns = spark.sql(query).columns
spark.stop()

reference = pq.read_table(sys.argv[2])
got = {r["customer_id"]: r for r in rows}
ref_ids = reference.column("customer_id").to_pylist()
result = {
    "query_rows": len(rows),
    "reference_rows": reference.num_rows,
    "missing_ids": sum(1 for cid in ref_ids if cid not in got),
    "extra_ids": len(set(got) - set(ref_ids)),
    "missing_columns": [c for c in reference.schema.names if c not in columns],
    "max_abs_diff": {},
    "mismatches": {},
}
for name in reference.schema.names:
    if name == "customer_id" or name not in columns:
        continue
    pairs = [(v, got[cid][name]) for cid, v in zip(ref_ids, reference.column(name).to_pylist()) if cid in got]
    if isinstance(next((a for a, _ in pairs if a is not None), None), float):
        result["max_abs_diff"][name] = max((abs(a - b) for a, b in pairs), default=0.0)
    else:
        result["mismatches"][name] = sum(1 for a, b in pairs if a != b)
print(json.dumps(result))
