"""Writes one small customer table as the tools around clientele write Parquet.

Usage: python write_parquet_variants.py OUT_DIR [--spark]

The table has the types a bank's extract holds: text ids, integers with a missing value,
money as decimal(12,2), floats, booleans, dates, time-zone-aware timestamps (at noon UTC,
so that the date is the same in every zone a writer may convert to), dictionary-encoded
text, and a `snapshot` date to partition by. Written as:

  pyarrow_{none,snappy,gzip,lz4,brotli,zstd}.parquet   pyarrow.parquet.write_table
  pandas.parquet                                        DataFrame.to_parquet (snappy)
  duckdb.parquet                                        COPY ... (FORMAT parquet)
  polars.parquet                                        DataFrame.write_parquet (zstd)
  pyarrow_hive/snapshot=YYYY-MM-DD/part-0.parquet       pyarrow.dataset, Hive partitions
  spark_hive/snapshot=YYYY-MM-DD/part-*.parquet         Spark local[2], snappy, INT96
                                                        timestamps, _SUCCESS and .crc files
  nested.parquet                                        a list column (not readable)

Prints one JSON line naming each file or directory written.
"""
import datetime as dt
import decimal
import json
import os
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

n = 40
ids = [f"C{i:04d}" for i in range(n)]
table = pa.table(
    {
        "customer_id": pa.array(ids, pa.string()),
        "age": pa.array([None if i == 7 else 20 + i for i in range(n)], pa.int64()),
        "balance": pa.array(
            [decimal.Decimal(f"{(i * 1234.56) - 5000:.2f}") for i in range(n)],
            pa.decimal128(12, 2),
        ),
        "score": pa.array([i / 7 for i in range(n)], pa.float64()),
        "active": pa.array([i % 3 == 0 for i in range(n)], pa.bool_()),
        "opened": pa.array(
            [dt.date(2010, 1, 1) + dt.timedelta(days=97 * i) for i in range(n)], pa.date32()
        ),
        "last_login": pa.array(
            [
                dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.timezone.utc) + dt.timedelta(days=i)
                for i in range(n)
            ],
            pa.timestamp("us", tz="Europe/Paris"),
        ),
        "segment": pa.array(["retail", "premium", "youth", "retail"] * (n // 4)).dictionary_encode(),
        "snapshot": pa.array(
            [dt.date(2026, 9, 30) if i % 2 else dt.date(2026, 10, 31) for i in range(n)],
            pa.date32(),
        ),
    }
)


def written(name):
    print(json.dumps({"written": name}), flush=True)


for codec in ["none", "snappy", "gzip", "lz4", "brotli", "zstd"]:
    pq.write_table(table, f"{out}/pyarrow_{codec}.parquet", compression=codec)
    written(f"pyarrow_{codec}.parquet")

table.to_pandas().to_parquet(f"{out}/pandas.parquet")
written("pandas.parquet")

con = duckdb.connect()
con.register("source", table)
con.execute(f"COPY (SELECT * FROM source) TO '{out}/duckdb.parquet' (FORMAT parquet)")
written("duckdb.parquet")

pl.from_arrow(table).write_parquet(f"{out}/polars.parquet")
written("polars.parquet")

ds.write_dataset(
    table,
    f"{out}/pyarrow_hive",
    format="parquet",
    partitioning=ds.partitioning(pa.schema([("snapshot", pa.date32())]), flavor="hive"),
    basename_template="part-{i}.parquet",
)
written("pyarrow_hive")

nested = pa.table({"customer_id": ["C1", "C2"], "products": [["mortgage"], []]})
pq.write_table(nested, f"{out}/nested.parquet")
written("nested.parquet")

if "--spark" in sys.argv:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("clientele-parquet-writers")
        .config("spark.sql.parquet.outputTimestampType", "INT96")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    frame = spark.read.parquet(f"{out}/pyarrow_none.parquet")
    frame.repartition(2).write.option("compression", "snappy").partitionBy("snapshot").parquet(
        f"{out}/spark_hive"
    )
    spark.stop()
    written("spark_hive")
