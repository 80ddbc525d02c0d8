"""Reads Parquet files written by clientele with pyarrow and DuckDB, independently of it.

Usage: python check_parquet.py [--key HEX] FILE...
With --key, the files are encrypted (as the quickstart writes them) and both readers are
given the key, the way the README shows. Prints one JSON object per file: rows
(pyarrow), duckdb_rows, codecs, schema types, and whether customer_id has nulls. Exits
non-zero if either reader fails.
"""
import base64
import json
import sys

import duckdb
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

args = sys.argv[1:]
key = None
if args[:1] == ["--key"]:
    key, args = bytes.fromhex(args[1]), args[2:]

con = duckdb.connect()
read_options = {}
duck_options = ""
if key is not None:
    read_options["decryption_properties"] = pe.create_decryption_properties(footer_key=key)
    con.execute(f"PRAGMA add_parquet_key('clientele', '{base64.b64encode(key).decode()}')")
    duck_options = ", encryption_config = {footer_key: 'clientele'}"

for path in args:
    meta = pq.ParquetFile(path, **read_options).metadata
    codecs = sorted({meta.row_group(g).column(c).compression
                     for g in range(meta.num_row_groups) for c in range(meta.num_columns)})
    table = pq.read_table(path, **read_options)
    duck_rows = con.sql(f"select count(*) from read_parquet('{path}'{duck_options})").fetchall()[0][0]
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
