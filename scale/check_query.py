"""Runs a query written by `clientele export-sql` on a real engine, over the Parquet files
clientele wrote, and compares its result with the stage's own output.

Usage: python scale/check_query.py duckdb|spark QUERY.sql REFERENCE.parquet
           [--key customer_id,rank] [--where method=item_knn]

- duckdb: the DuckDB Python package (`--dialect duckdb` queries);
- spark: pyspark in local[2] mode (`--dialect spark` queries); needs Java 17.

Rows are matched by the key columns (default customer_id); --where keeps only the
reference rows whose column has that value (the query's rows are all compared). Prints
one JSON object: the row counts, keys missing on either side, columns of the reference
the query lacks, and per column the number of differing values (integers and text) or
the largest absolute difference (doubles).
"""
import argparse
import json

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


def compare(columns, rows, reference, key):
    key_of = lambda r: tuple(r[k] for k in key)
    got = {key_of(r): r for r in rows}
    ref_rows = reference.to_pylist()
    ref_ids = [key_of(r) for r in ref_rows]
    result = {
        "query_rows": len(rows),
        "reference_rows": reference.num_rows,
        "duplicate_ids": len(rows) - len(got),
        "missing_ids": sum(1 for cid in ref_ids if cid not in got),
        "extra_ids": len(set(got) - set(ref_ids)),
        "missing_columns": [c for c in reference.schema.names if c not in columns],
        "max_abs_diff": {},
        "mismatches": {},
    }
    for name in reference.schema.names:
        if name in key or name not in columns:
            continue
        pairs = [(r[name], got[cid][name]) for cid, r in zip(ref_ids, ref_rows) if cid in got]
        if isinstance(next((a for a, _ in pairs if a is not None), None), float):
            result["max_abs_diff"][name] = max((abs(a - b) for a, b in pairs), default=0.0)
        else:
            result["mismatches"][name] = sum(1 for a, b in pairs if a != b)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["duckdb", "spark"])
    parser.add_argument("query")
    parser.add_argument("reference")
    parser.add_argument("--key", default="customer_id")
    parser.add_argument("--where")
    args = parser.parse_args()
    run = {"duckdb": run_duckdb, "spark": run_spark}[args.engine]
    columns, rows = run(open(args.query).read())
    reference = pq.read_table(args.reference)
    if args.where:
        column, value = args.where.split("=", 1)
        keep = [v == value for v in reference.column(column).to_pylist()]
        reference = reference.filter(keep)
    print(json.dumps(compare(columns, rows, reference, args.key.split(","))))
