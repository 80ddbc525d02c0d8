"""How often scikit-learn's own K-Means reaches its reference optimum on the real
credit-card data: the yardstick for tests/segment.rs.

Run: python make_kmeans_restarts_golden.py   (scikit-learn 1.9.1, numpy, pandas;
../../../shared beside the checkout). Writes sklearn_kmeans_restarts.json beside this
script.

Conventions: the data and preprocessing of ../shared/golden/make_sklearn_golden.py
(median imputation, StandardScaler); the reference for k is its
KMeans(n_clusters=k, n_init=10, random_state=0): `inertia_best` and the `kmeans_k{k}`
labels. For each k = 2..10 this records
- `single_restart_ratios`: inertia / reference for KMeans(n_init=1, random_state=s),
  s = 0..59, i.e. where single k-means++ + Lloyd restarts land;
- `n_init10`: for KMeans(n_init=10, random_state=s), s = 0..7, the inertia ratio and the
  adjusted Rand index against the reference labels.
A k at which every n_init=10 run is within 0.5 % of the reference with an adjusted Rand
index of at least 0.95 is one where scikit-learn's answer does not depend on its seed.
"""
import json
import pathlib

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

HERE = pathlib.Path(__file__).parent
SHARED = HERE.parent.parent.parent / "shared"
df = pd.read_csv(SHARED / "data" / "cc_general.csv")
X = df.drop(columns=["CUST_ID"]).astype("float64")
X = StandardScaler().fit_transform(SimpleImputer(strategy="median").fit_transform(X))
golden = json.loads((SHARED / "golden" / "sklearn_cc_golden.json").read_text())
labels = pd.read_csv(SHARED / "golden" / "sklearn_cc_labels.csv")

out = {"sklearn_version": sklearn.__version__, "k": {}}
for k in range(2, 11):
    best = golden["kmeans"][str(k)]["inertia_best"]
    reference = labels[f"kmeans_k{k}"].to_numpy()
    singles = [KMeans(n_clusters=k, n_init=1, random_state=s).fit(X).inertia_ / best for s in range(60)]
    runs = []
    for s in range(8):
        km = KMeans(n_clusters=k, n_init=10, random_state=s).fit(X)
        runs.append({"ratio": km.inertia_ / best, "ari": adjusted_rand_score(reference, km.labels_)})
    out["k"][str(k)] = {
        "single_restart_ratios": singles,
        "single_restart_rate": float(np.mean([r <= 1.005 for r in singles])),
        "n_init10": runs,
        "seed_independent": all(r["ratio"] <= 1.005 and r["ari"] >= 0.95 for r in runs),
    }
(HERE / "sklearn_kmeans_restarts.json").write_text(json.dumps(out, indent=1) + "\n")
print({k: (v["single_restart_rate"], v["seed_independent"]) for k, v in out["k"].items()})
