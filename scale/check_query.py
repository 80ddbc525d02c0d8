"""Runs a query written by `clientele export-sql` on a real engine, over the Parquet files
clientele wrote, and compares its result with the stage's own output.

Usage: python scale/check_query.py duckdb|spark QUERY.sql REFERENCE.parquet
           [--key customer_id,rank] [--where method=item_knn]
           [--union MORE.sql ...] [--write RESULT.parquet]

- duckdb: the DuckDB Python package (`--dialect duckdb` queries);
- spark: pyspark in local[2] mode (`--dialect spark` queries); needs Java 17.

Rows are matched by the key columns (default customer_id); --where keeps only the
reference rows whose column has that value (the query's rows are all compared). Prints
one JSON object: the row counts, keys missing on either side, columns of the reference
the query lacks, and per column the number of differing values (integers and text) or
the largest absolute difference (doubles).

--union runs more queries of the same columns in the same session and compares their
rows with the first's, as one result (an engine that plans a query per product better
than one query of all products). --write saves that result as Parquet, for a query
that reads it next (`export-sql --from-probabilities`).
"""
import argparse
import json

import pyarrow.parquet as pq


def run_duckdb(queries):
    import duckdb

    connection = duckdb.connect()
    columns, rows = None, []
    for query in queries:
        table = connection.sql(query).to_arrow_table()
        columns = columns or table.schema.names
        rows.extend(table.to_pylist())
    return columns, rows


def run_spark(queries):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("clientele-export-sql-check")
        .config("spark.ui.enabled", "false")
        # What lets the quickstart's propensity models (20 products of 100 trees, one
        # query each, --union) run in one session: planning one product needs more than
        # the default 1 GB (4 GB ran out by the seventh product); whole-stage code
        # generation of a sum of 100 trees passes Java's 64 KB method limit, fails and
        # falls back after the attempt, so it is not tried; executions and generated
        # classes kept for a UI that is off only fill the heap.
        .config("spark.driver.memory", "8g")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.ui.retainedExecutions", "1")
        .config("spark.sql.codegen.cache.maxEntries", "4")
        .config("spark.sql.maxPlanStringLength", "100000")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    columns, rows = None, []
    for query in queries:
        frame = spark.sql(query)
        columns = columns or frame.columns
        rows.extend(r.asDict() for r in frame.collect())
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
    parser.add_argument("--union", action="append", default=[])
    parser.add_argument("--write")
    args = parser.parse_args()
    run = {"duckdb": run_duckdb, "spark": run_spark}[args.engine]
    columns, rows = run([open(path).read() for path in [args.query, *args.union]])
    if args.write:
        import pyarrow as pa

        table = pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in columns})
        pq.write_table(table.select(columns), args.write)
    reference = pq.read_table(args.reference)
    if args.where:
        column, value = args.where.split("=", 1)
        keep = [v == value for v in reference.column(column).to_pylist()]
        reference = reference.filter(keep)
    print(json.dumps(compare(columns, rows, reference, args.key.split(","))))
