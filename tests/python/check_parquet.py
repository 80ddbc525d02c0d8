"""Reads Parquet files written by clientele with pyarrow and DuckDB, independently of it.

Usage: python check_parquet.py FILE...
Prints one JSON object per file: rows (pyarrow), duckdb_rows, codecs, schema types, and
whether customer_id has nulls. Exits non-zero if either reader fails.
"""
import json
import sys

import duckdb
import pyarrow.parquet as pq

for path in sys.argv[1:]:
    meta = pq.ParquetFile(path).metadata
    codecs = sorted({meta.row_group(g).column(c).compression
                     for g in range(meta.num_row_groups) for c in range(meta.num_columns)})
    table = pq.read_table(path)
    duck_rows = duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]
    first = table.schema.names[0]
    print(json.dumps({
        "file": path,
        "rows": table.num_rows,
        "duckdb_rows": duck_rows,
        "codecs": codecs,
        "types": {f.name: str(f.type) for f in table.schema},
        "first_column": first,
        "first_column_nulls": table.column(0).null_count,
        "first_column_distinct": len(set(table.column(0).to_pylist())),
    }))
