"""Where scikit-learn's MiniBatchKMeans lands on the real credit-card data: the yardstick
for the mini-batch K-Means test in tests/segment.rs.

Run: python make_minibatch_golden.py   (scikit-learn 1.9.1, numpy, pandas;
../../../shared beside the checkout). Writes sklearn_minibatch.json beside this script.

Conventions: the data and preprocessing of ../shared/golden/make_sklearn_golden.py
(median imputation, StandardScaler); the reference for k is its full K-Means optimum,
`inertia_best` (KMeans(n_clusters=k, n_init=10, random_state=0)). For each k = 2..10 this
records, for MiniBatchKMeans(n_clusters=k, batch_size=1024, n_init=3, random_state=s),
s = 0..15: `ratios`, the inertia on every row divided by the reference, and `steps`,
the mini-batch steps taken before stopping. Mini-batch K-Means trades accuracy for
speed, and its result depends on the seed: the test compares distributions.
"""
import json
import pathlib

import pandas as pd
import sklearn
from sklearn.cluster import MiniBatchKMeans
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

HERE = pathlib.Path(__file__).parent
SHARED = HERE.parent.parent.parent / "shared"
df = pd.read_csv(SHARED / "data" / "cc_general.csv")
X = df.drop(columns=["CUST_ID"]).astype("float64")
X = StandardScaler().fit_transform(SimpleImputer(strategy="median").fit_transform(X))
golden = json.loads((SHARED / "golden" / "sklearn_cc_golden.json").read_text())

out = {"sklearn_version": sklearn.__version__, "batch_size": 1024, "n_init": 3, "k": {}}
for k in range(2, 11):
    best = golden["kmeans"][str(k)]["inertia_best"]
    ratios, steps = [], []
    for seed in range(16):
        m = MiniBatchKMeans(n_clusters=k, batch_size=1024, n_init=3, random_state=seed).fit(X)
        ratios.append(m.inertia_ / best)
        steps.append(int(m.n_steps_))
    out["k"][str(k)] = {"ratios": ratios, "steps": steps}
(HERE / "sklearn_minibatch.json").write_text(json.dumps(out, indent=1) + "\n")
