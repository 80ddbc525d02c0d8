"""Runs a query written by `clientele export-sql` on a real engine, over the Parquet files
clientele wrote, and compares its result with the stage's own output.

Usage: python scale/check_query.py duckdb|spark QUERY.sql REFERENCE.parquet

- duckdb: the DuckDB Python package (`--dialect duckdb` queries);
- spark: pyspark in local[2] mode (`--dialect spark` queries); needs Java 17.

Rows are matched by customer_id. Prints one JSON object: the row counts, ids missing on
either side, columns of the reference the query lacks, and per column the number of
differing values (integers and text) or the largest absolute difference (doubles).
"""
import json
import sys

import pyarrow.parquet as pq


def run_duckdb(query):
    import duckdb

    table = duckdb.connect().sql(query).to_arrow_table()
    return table.schema.names, table.to_pylist()


def run_spark(query):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("clientele-export-sql-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.sql(query)
    columns, rows = frame.columns, [r.asDict() for r in frame.collect()]
    spark.stop()
    return columns, rows


def compare(columns, rows, reference):
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
    return result


if __name__ == "__main__":
    engine, query_path, reference_path = sys.argv[1:4]
    run = {"duckdb": run_duckdb, "spark": run_spark}[engine]
    columns, rows = run(open(query_path).read())
    print(json.dumps(compare(columns, rows, pq.read_table(reference_path))))
