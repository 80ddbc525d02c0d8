"""scikit-learn's two-component PCA of the real credit-card data: the yardstick for the
report stage's projection (tests/report.rs).

Run: python make_pca_golden.py   (scikit-learn 1.9.1, numpy, pandas; ../../../shared
beside the checkout). Writes sklearn_cc_pca.json beside this script.

Conventions: the data and preprocessing of ../shared/golden/make_sklearn_golden.py
(median imputation, StandardScaler), which tests/pipelines/cc_general.toml reproduces.
PCA(n_components=2, svd_solver="full"): components with scikit-learn's svd_flip signs
(each component's largest entry in absolute value is positive),
explained_variance_ (covariance with n - 1), explained_variance_ratio_, and the
projections of the first 10 rows and of every 1000th row.
"""
import json
import pathlib

import numpy as np
import pandas as pd
import sklearn
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

HERE = pathlib.Path(__file__).parent
SHARED = HERE.parent.parent.parent / "shared"
df = pd.read_csv(SHARED / "data" / "cc_general.csv")
X = df.drop(columns=["CUST_ID"]).astype("float64")
X = StandardScaler().fit_transform(SimpleImputer(strategy="median").fit_transform(X))
pca = PCA(n_components=2, svd_solver="full").fit(X)
components = pca.components_.copy()
# svd_flip's convention, applied explicitly so the file does not depend on the solver.
for c in range(2):
    if components[c][np.argmax(np.abs(components[c]))] < 0:
        components[c] = -components[c]
rows = list(range(10)) + list(range(10, len(X), 1000))
projected = (X - pca.mean_) @ components.T
out = {
    "sklearn_version": sklearn.__version__,
    "features": list(df.columns[1:]),
    "components": components.tolist(),
    "explained_variance": pca.explained_variance_.tolist(),
    "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
    "rows": rows,
    "customer_ids": [df["CUST_ID"][r] for r in rows],
    "projections": projected[rows].tolist(),
}
(HERE / "sklearn_cc_pca.json").write_text(json.dumps(out, indent=1) + "\n")
