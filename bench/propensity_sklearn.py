"""The Python side of bench/run_propensity.sh: one HistGradientBoostingClassifier per
product on the same features and labels as `clientele-bench propensity`, with the same
number of trees (100, no early stopping), bins (255), leaves (31) and learning rate (0.1),
then every customer scored for every product.

Usage: python propensity_sklearn.py FEATURES.parquet HOLDINGS.parquet
FEATURES: `customer_id` and Float64 features (the preprocess stage's output).
HOLDINGS: the long holdings table (`customer_id`, `product`, `snapshot`); the products
held at its last snapshot are the labels (each product's model: holds it or not). Prints one JSON line: seconds to fit, to score, rows,
products, and the mean training ROC AUC (a check that both sides learnt the same thing).
Reading the files is not timed.
"""
import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

features = pq.read_table(sys.argv[1]).to_pandas()
holdings = pq.read_table(sys.argv[2]).to_pandas()
labels = holdings[holdings["snapshot"] == holdings["snapshot"].max()]
labels = labels.assign(
    customer_id=labels["customer_id"].astype(str), product=labels["product"].astype(str)
)
ids = features["customer_id"].to_numpy()
X = features.drop(columns=["customer_id"]).select_dtypes("number").to_numpy(dtype=np.float64)
index = {c: i for i, c in enumerate(ids)}
products = sorted(labels["product"].unique())
Y = np.zeros((len(ids), len(products)), dtype=bool)
rows = labels["customer_id"].map(index)
keep = rows.notna().to_numpy()
product_index = {p: j for j, p in enumerate(products)}
Y[rows[keep].astype(int).to_numpy(), labels["product"][keep].map(product_index).to_numpy()] = True

fit_seconds = 0.0
score_seconds = 0.0
aucs = []
for j, _ in enumerate(products):
    y = Y[:, j]
    if y.all() or not y.any():
        continue
    start = time.perf_counter()
    model = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=31, max_bins=255,
        early_stopping=False, random_state=0,
    ).fit(X, y)
    fit_seconds += time.perf_counter() - start
    start = time.perf_counter()
    p = model.predict_proba(X)[:, 1]
    score_seconds += time.perf_counter() - start
    aucs.append(roc_auc_score(y, p))
print(json.dumps({
    "side": "scikit-learn",
    "rows": int(len(ids)),
    "features": int(X.shape[1]),
    "products": len(aucs),
    "fit_seconds": fit_seconds,
    "score_seconds": score_seconds,
    "mean_train_auc": float(np.mean(aucs)),
}))
