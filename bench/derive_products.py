"""Widens the generator's 20-product catalogue to the 24 products of the recommend
benchmark: `credit_card_plus` and three like it, each held by a fixed 30 % of the
holders of its base product (chosen by a hash of the customer, so the same customers
at both snapshots, and a new holder of the base may acquire it too).

Usage: python bench/derive_products.py DIR   (rewrites DIR/holdings.csv and DIR/products.csv)
"""

import os
import sys

import duckdb

BASES = ["credit_card", "savings_account", "mobile_banking", "mortgage"]

data = sys.argv[1]
holdings = os.path.join(data, "holdings.csv")
wider = os.path.join(data, "holdings24.csv")
bases = ", ".join(f"'{b}'" for b in BASES)
duckdb.sql(
    f"""
    COPY (
        SELECT customer_id, product, snapshot FROM read_csv('{holdings}')
        UNION ALL
        SELECT customer_id, product || '_plus', snapshot FROM read_csv('{holdings}')
        WHERE product IN ({bases}) AND hash(customer_id || product) % 10 < 3
        ORDER BY customer_id, snapshot, product
    ) TO '{wider}' (HEADER)
    """
)
os.replace(wider, holdings)
with open(os.path.join(data, "products.csv"), "a") as f:
    for base in BASES:
        f.write(f"{base}_plus,{base} plus,extra,18,0\n")
