"""Reference preprocessing of the real UCI bank-marketing data by scikit-learn 1.9.1.

Run: python tests/golden/make_preprocess_golden.py ../shared/data/bank_full.csv
     (scikit-learn 1.9.1, numpy, pandas); writes sklearn_bank_golden.json beside this script.

Conventions, matching tests/pipelines/bank_full.toml:
- the file is read as it is (UTF-8 with a byte-order mark, comma-separated); the text
  "unknown" marks a missing value, as the pipeline's null_markers say;
- numeric: age, balance, day, duration, campaign, pdays, previous as float64;
- categorical: job, marital, education, contact, month, poutcome, missing values imputed
  by SimpleImputer(strategy="most_frequent");
- "robust": RobustScaler() on the numeric columns; OneHotEncoder(max_categories=5,
  handle_unknown="infrequent_if_exist") on the imputed categoricals, whose infrequent
  column clientele calls COLUMN=other;
- "minmax": MinMaxScaler() on the numeric columns;
- "winsor": numpy percentiles 1 and 99 (linear) of balance and duration, values clipped to
  them, then sign(x)·log1p(|x|), then StandardScaler().
"""
import json
import pathlib
import sys

import numpy as np
import pandas as pd
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

HERE = pathlib.Path(__file__).parent
df = pd.read_csv(sys.argv[1], encoding="utf-8-sig", na_values=["unknown"], keep_default_na=False)
numeric = ["age", "balance", "day", "duration", "campaign", "pdays", "previous"]
categorical = ["job", "marital", "education", "contact", "month", "poutcome"]
X = df[numeric].astype("float64").to_numpy()
imputer = SimpleImputer(strategy="most_frequent").fit(df[categorical])
C = imputer.transform(df[categorical])

robust = RobustScaler().fit(X)
onehot = OneHotEncoder(max_categories=5, handle_unknown="infrequent_if_exist").fit(C)
encoded = onehot.transform(C).toarray()
names = [n.replace("infrequent_sklearn", "other") for n in onehot.get_feature_names_out(categorical)]
minmax = MinMaxScaler().fit(X)

winsor = {}
for column in ["balance", "duration"]:
    x = df[column].astype("float64").to_numpy()
    low, high = np.percentile(x, [1, 99])
    t = np.clip(x, low, high)
    t = np.sign(t) * np.log1p(np.abs(t))
    scaler = StandardScaler().fit(t.reshape(-1, 1))
    winsor[column] = {
        "low": float(low),
        "high": float(high),
        "clipped": int(((x < low) | (x > high)).sum()),
        "mean": float(scaler.mean_[0]),
        "scale": float(scaler.scale_[0]),
    }

out = {
    "sklearn_version": sklearn.__version__,
    "rows": int(len(df)),
    "categorical_missing": {c: int(df[c].isna().sum()) for c in categorical},
    "most_frequent": dict(zip(categorical, map(str, imputer.statistics_))),
    "robust_center": dict(zip(numeric, map(float, robust.center_))),
    "robust_scale": dict(zip(numeric, map(float, robust.scale_))),
    # scikit-learn names an output FEATURE_CATEGORY; clientele FEATURE=CATEGORY (no
    # feature here has an underscore in its name).
    "onehot_columns": [n.replace("_", "=", 1) for n in names],
    "onehot_column_sums": [float(s) for s in encoded.sum(axis=0)],
    "minmax_min": dict(zip(numeric, map(float, minmax.data_min_))),
    "minmax_range": dict(zip(numeric, map(float, minmax.data_range_))),
    "winsor": winsor,
}
(HERE / "sklearn_bank_golden.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps({k: out[k] for k in ("most_frequent", "onehot_columns")}, indent=1))
