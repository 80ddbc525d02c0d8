"""scikit-learn on the very clients a clientele pipeline held out: the yardstick of
tests/propensity.rs for tests/pipelines/bank_propensity.toml.

Usage: sklearn_propensity_holdout.py CLIENTS_PARQUET PROBABILITIES_PARQUET

CLIENTS_PARQUET is the ingested bank_full.csv (customer_id, then the file's columns in
file order); PROBABILITIES_PARQUET the recommend stage's probabilities, whose customers
are the held-out clients. Conventions as tests/golden/make_propensity_golden.py: the
product is `y`; `duration` is dropped; numeric and boolean columns as they are, each
text column one-hot (one column per value in sorted order); HistGradientBoostingClassifier
(random_state=0) with its defaults, trained on every client not held out. Prints one
JSON line: roc_auc_score, average_precision_score and the share of takers among the
top ceil(0.1 n) held-out clients (stable sort, ties in clients' file order), and n.
"""
import json
import math
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

clients = pq.read_table(sys.argv[1]).to_pandas()
held_out = set(pq.read_table(sys.argv[2], columns=["customer_id"]).column(0).to_pylist())
y = clients["y"].astype(bool).to_numpy()
frame = clients.drop(columns=["customer_id", "duration", "y"])
parts = []
for column in frame.columns:
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        parts.append(values.astype("float64").to_numpy()[:, None])
    else:
        values = values.astype(str)
        levels = sorted(values.unique())
        parts.append(np.stack([(values == v).to_numpy(dtype="float64") for v in levels], axis=1))
x = np.hstack(parts)
test = clients["customer_id"].isin(held_out).to_numpy()
model = HistGradientBoostingClassifier(random_state=0).fit(x[~test], y[~test])
scores = model.predict_proba(x[test])[:, 1]
labels = y[test]
top = math.ceil(0.1 * len(scores))
order = np.argsort(-scores, kind="stable")
print(json.dumps({
    "n": int(test.sum()),
    "auc": roc_auc_score(labels, scores),
    "average_precision": average_precision_score(labels, scores),
    "top_decile_share": float(labels[order[:top]].mean()),
}))
