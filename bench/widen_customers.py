"""Widens the generated customers to N columns for the preprocess benchmark at scale
(the issue asks for 10 million customers × 50 columns; the generator writes 22).

The extra columns `extra_01`, … are money-like amounts derived from the spending
columns, each scaled per customer by a hash, so they are neither constant nor copies;
a customer missing the base amount misses the extra one too.

Usage: python bench/widen_customers.py DIR COLUMNS   (rewrites DIR/customers.csv)
"""

import os
import sys

import duckdb

data, columns = sys.argv[1], int(sys.argv[2])
source = os.path.join(data, "customers.csv")
wider = os.path.join(data, "customers_wide.csv")
bases = ["spend_groceries", "spend_online", "spend_cash_withdrawals", "spend_travel", "balance_savings", "txn_count_card"]
have = len(duckdb.sql(f"SELECT * FROM read_csv('{source}') LIMIT 0").columns)
extra = [
    f"round({bases[i % len(bases)]} * (0.5 + ((hash(customer_id) + {i}) % 100) / 100.0), 2) AS extra_{i + 1:02d}"
    for i in range(max(0, columns - have))
]
select = ", ".join(["*"] + extra)
duckdb.sql(f"COPY (SELECT {select} FROM read_csv('{source}', all_varchar = false)) TO '{wider}' (HEADER)")
os.replace(wider, source)
