"""Reads an encrypted Parquet file with pyarrow: with the key given in hex as the second
argument, without a key, and with a wrong key. Prints one JSON object:
{"rows": N, "columns": [...], "without_key": "error…", "wrong_key": "error…"}.
Used by tests/encryption.rs."""
import json
import sys

import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

path, key_hex = sys.argv[1], sys.argv[2]
props = pe.create_decryption_properties(footer_key=bytes.fromhex(key_hex))
table = pq.read_table(path, decryption_properties=props)


def error_of(**kwargs):
    try:
        pq.read_table(path, **kwargs)
        return None
    except Exception as e:  # any failure to read is what is checked
        return f"{type(e).__name__}: {e}"


wrong = pe.create_decryption_properties(footer_key=bytes(len(bytes.fromhex(key_hex))))
print(json.dumps({
    "rows": table.num_rows,
    "columns": table.column_names,
    "without_key": error_of(),
    "wrong_key": error_of(decryption_properties=wrong),
}))
