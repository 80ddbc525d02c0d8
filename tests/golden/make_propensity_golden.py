"""scikit-learn's propensity models on the real UCI bank-marketing clients, and a logistic
regression on a fixed small data set: the yardsticks for clientele's gradient boosting and
logistic regression (crates/recommend/src/propensity, tests/propensity.rs).

Run: python make_propensity_golden.py   (scikit-learn 1.9.1, numpy, pandas;
../../../shared beside the checkout). Writes, beside this script:
- sklearn_bank_propensity.json: the figures below, and the rows of the test split;
- logistic_case.csv and the coefficients of its fit in the same JSON.

Conventions (bank_full.csv, 45,211 clients, the product is the term deposit `y`):
- `duration` is dropped (known only after the call that sells the deposit).
- Features: the numeric columns as they are (age, balance, day, campaign, pdays,
  previous), then each text column one-hot encoded, one column per value in sorted
  order, columns in file order: the matrix tests/propensity.rs builds the same way.
- Split: train_test_split(test_size=0.2, stratify=y, random_state=0); the test rows (0-based
  data rows of the file) are written out so the Rust side uses the very same split.
- HistGradientBoostingClassifier(random_state=0) with its defaults (100 iterations, 31
  leaves, lr 0.1, early stopping on 10 % since n > 10,000) on the one-hot matrix, and
  for reference with native categorical splits (text columns as ordinals,
  categorical_features="from_dtype").
- LogisticRegression(C=1.0, lbfgs, max_iter=10000) on StandardScaler'd one-hot matrix.
- Figures on the test rows: roc_auc_score, average_precision_score, and the share of
  takers among the top 10 % scored (ceil(0.1 n) rows, ties by row order of a stable sort).
- Logistic case: 400 rows × 5 features drawn with numpy's default_rng(7), labels from a
  known logistic model; LogisticRegression(C=0.5, lbfgs, tol=1e-12, max_iter=100000),
  checked against solver="newton-cholesky" to 1e-9 here.
"""
import json
import math
import pathlib

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

HERE = pathlib.Path(__file__).parent
SHARED = HERE.parent.parent.parent / "shared"

df = pd.read_csv(SHARED / "data" / "bank_full.csv", encoding="utf-8-sig")
y = (df["y"] == "Y").astype(int).to_numpy()
df = df.drop(columns=["duration", "y"])
numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
text = [c for c in df.columns if c not in numeric]
parts = []
names = []
for c in df.columns:
    if c in numeric:
        parts.append(df[c].astype("float64").to_numpy()[:, None])
        names.append(c)
    else:
        values = sorted(df[c].unique())
        parts.append(np.stack([(df[c] == v).to_numpy(dtype="float64") for v in values], axis=1))
        names.extend(f"{c}={v}" for v in values)
X = np.hstack(parts)
rows = np.arange(len(df))
train, test = train_test_split(rows, test_size=0.2, stratify=y, random_state=0)


def figures(scores):
    n = len(scores)
    top = math.ceil(0.1 * n)
    order = np.argsort(-scores, kind="stable")[:top]
    return {
        "auc": float(roc_auc_score(y[test], scores)),
        "average_precision": float(average_precision_score(y[test], scores)),
        "top_decile_takers": float(y[test][order].mean()),
    }


hgb = HistGradientBoostingClassifier(random_state=0).fit(X[train], y[train])
hgb_figures = figures(hgb.predict_proba(X[test])[:, 1])
hgb_figures["iterations"] = int(hgb.n_iter_)

cat = df.copy()
for c in text:
    cat[c] = cat[c].astype("category")
hgb_native = HistGradientBoostingClassifier(random_state=0, categorical_features="from_dtype")
hgb_native.fit(cat.iloc[train], y[train])
native_figures = figures(hgb_native.predict_proba(cat.iloc[test])[:, 1])

scaler = StandardScaler().fit(X[train])
lr = LogisticRegression(C=1.0, max_iter=10000).fit(scaler.transform(X[train]), y[train])
lr_figures = figures(lr.predict_proba(scaler.transform(X[test]))[:, 1])

# The logistic case.
rng = np.random.default_rng(7)
Xc = rng.normal(size=(400, 5)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0]) + np.array([0, 1, 0, -1, 0])
true_w = np.array([0.8, -0.5, 1.5, 0.0, 0.2])
p = 1 / (1 + np.exp(-(Xc @ true_w - 0.3)))
yc = (rng.random(400) < p).astype(int)
case = pd.DataFrame(Xc, columns=[f"x{j}" for j in range(5)])
case["y"] = yc
case.to_csv(HERE / "logistic_case.csv", index=False, float_format="%.17g")
Xc = case[[f"x{j}" for j in range(5)]].to_numpy()
lbfgs = LogisticRegression(C=0.5, tol=1e-12, max_iter=100000).fit(Xc, yc)
newton = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(Xc, yc)
assert np.allclose(lbfgs.coef_, newton.coef_, atol=1e-9), (lbfgs.coef_, newton.coef_)
assert np.allclose(lbfgs.intercept_, newton.intercept_, atol=1e-9)

out = {
    "sklearn_version": sklearn.__version__,
    "features": names,
    "positives": int(y.sum()),
    "rows": int(len(y)),
    "test_rows": sorted(int(r) for r in test),
    "hist_gradient_boosting": hgb_figures,
    "hist_gradient_boosting_native_categories": native_figures,
    "logistic_regression": lr_figures,
    "logistic_case": {
        "c": 0.5,
        "coefficients": lbfgs.coef_[0].tolist(),
        "intercept": float(lbfgs.intercept_[0]),
    },
}
(HERE / "sklearn_bank_propensity.json").write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps({k: v for k, v in out.items() if k not in ("test_rows", "features")}, indent=1))
