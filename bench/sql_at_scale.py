"""Runs a query written by `clientele export-sql` in DuckDB over millions of customers, and
compares its result with the stage's own output inside DuckDB (scale/check_query.py holds
rows in Python, which suits the tests' thousands, not millions).

Usage:
  python bench/sql_at_scale.py run QUERY.sql OUT.parquet [MEMORY_LIMIT]
  python bench/sql_at_scale.py compare-segments OUT.parquet REFERENCE.parquet
  python bench/sql_at_scale.py compare-lists OUT.parquet BY_METHOD.parquet

`run` writes the query's result to OUT.parquet, within DuckDB's `memory_limit` if given
(`2GB`; DuckDB then spills to disk). `compare-*` prints one JSON object:
rows on each side, rows on one side only, and the values that differ (segments: labels
not equal and the largest distance difference; lists: products not equal and scores not
bit-identical, matched by customer and rank against the `item_knn` rows).
"""
import json
import sys

import duckdb


def run(query_path, out, memory_limit=None):
    query = open(query_path).read()
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"COPY ({query}) TO '{out}' (FORMAT PARQUET)")


def compare_segments(out, reference):
    (row,) = duckdb.connect().execute(
        f"""
        SELECT
          (SELECT COUNT(*) FROM '{out}'),
          (SELECT COUNT(*) FROM '{reference}'),
          COUNT(*) FILTER (WHERE q.customer_id IS NULL OR r.customer_id IS NULL),
          COUNT(*) FILTER (WHERE q.segment <> r.segment),
          MAX(ABS(q.distance_to_centroid - r.distance_to_centroid))
        FROM '{out}' AS q FULL OUTER JOIN '{reference}' AS r USING (customer_id)
        """
    ).fetchall()
    keys = ["query_rows", "reference_rows", "one_side_only", "segments_differing", "max_distance_diff"]
    return dict(zip(keys, row))


def compare_lists(out, by_method):
    (row,) = duckdb.connect().execute(
        f"""
        WITH r AS (SELECT * FROM '{by_method}' WHERE method = 'item_knn')
        SELECT
          (SELECT COUNT(*) FROM '{out}'),
          (SELECT COUNT(*) FROM r),
          COUNT(*) FILTER (WHERE q.customer_id IS NULL OR r.customer_id IS NULL),
          COUNT(*) FILTER (WHERE q.product <> r.product),
          COUNT(*) FILTER (WHERE q.score <> r.score)
        FROM '{out}' AS q FULL OUTER JOIN r USING (customer_id, rank)
        """
    ).fetchall()
    keys = ["query_rows", "reference_rows", "one_side_only", "products_differing", "scores_differing"]
    return dict(zip(keys, row))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "run":
        run(*args)
    else:
        compare = {"compare-segments": compare_segments, "compare-lists": compare_lists}[command]
        print(json.dumps(compare(*args)))
