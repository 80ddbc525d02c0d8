"""The polars side of bench/run_ingest.sh: a CSV file to zstd Parquet, as a data engineer
would with polars (read_csv with date parsing and clientele's default missing-value
markers, "", "NA" and "NULL", so that both sides type the same columns; write_parquet
zstd). Timed inside, after
the import, so that the interpreter's start-up is not counted against polars.

Usage: python ingest_polars.py SOURCE.csv TARGET.parquet   (prints the seconds)
"""
import sys
import time

import polars as pl

source, target = sys.argv[1], sys.argv[2]
started = time.perf_counter()
pl.read_csv(source, try_parse_dates=True, null_values=["NA", "NULL"]).write_parquet(target, compression="zstd")
print(f"{time.perf_counter() - started:.3f}")
