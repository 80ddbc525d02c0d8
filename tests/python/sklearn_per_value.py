"""Compares clientele's preprocess outputs with scikit-learn's, value by value.

Usage: python sklearn_per_value.py cc CC_GENERAL.csv FEATURES.parquet
       python sklearn_per_value.py bank BANK_FULL.csv ROBUST.parquet MINMAX.parquet WINSOR.parquet

The cases are those of tests/pipelines/cc_general.toml and tests/pipelines/bank_full.toml.
Output columns are matched by name (scikit-learn's FEATURE_CATEGORY is clientele's
FEATURE=CATEGORY; its infrequent_sklearn is clientele's FEATURE=other). Prints one JSON
object per output file: values compared, columns, and the largest absolute difference.
"""
import json
import sys

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler


def compare(reference, path):
    """reference: dict of clientele column name -> numpy array."""
    ours = pd.read_parquet(path)
    extra = sorted(set(ours.columns) - set(reference) - {"customer_id"})
    missing = sorted(set(reference) - set(ours.columns))
    worst = 0.0
    for name, values in reference.items():
        if name in ours.columns:
            worst = max(worst, float(np.max(np.abs(ours[name].to_numpy(dtype="float64") - values))))
    print(json.dumps({"file": path, "rows": len(ours), "columns": len(reference), "values": len(ours) * len(reference),
                      "max_abs_diff": worst, "missing": missing, "extra": extra}))


def onehot_names(encoder, columns):
    names = []
    for column, categories, infrequent in zip(columns, encoder.categories_, encoder.infrequent_categories_):
        kept = [c for c in categories if infrequent is None or c not in set(infrequent)]
        names += [f"{column}={c}" for c in kept]
        if infrequent is not None:
            names.append(f"{column}=__other__" if "other" in kept else f"{column}=other")
    return names


case = sys.argv[1]
if case == "cc":
    df = pd.read_csv(sys.argv[2])
    X = df.drop(columns=["CUST_ID"]).astype("float64")
    scaled = StandardScaler().fit_transform(SimpleImputer(strategy="median").fit_transform(X))
    compare({f"{c}__standard": scaled[:, i] for i, c in enumerate(X.columns)}, sys.argv[3])
elif case == "bank":
    df = pd.read_csv(sys.argv[2], encoding="utf-8-sig", na_values=["unknown"], keep_default_na=False)
    numeric = ["age", "balance", "day", "duration", "campaign", "pdays", "previous"]
    categorical = ["job", "marital", "education", "contact", "month", "poutcome"]
    X = df[numeric].astype("float64").to_numpy()
    C = SimpleImputer(strategy="most_frequent").fit_transform(df[categorical])

    robust = RobustScaler().fit_transform(X)
    encoder = OneHotEncoder(max_categories=5, handle_unknown="infrequent_if_exist", sparse_output=False).fit(C)
    onehot = encoder.transform(C)
    reference = {f"{c}__robust": robust[:, i] for i, c in enumerate(numeric)}
    reference.update({n: onehot[:, i] for i, n in enumerate(onehot_names(encoder, categorical))})
    compare(reference, sys.argv[3])

    minmax = MinMaxScaler().fit_transform(X)
    ordinal = OrdinalEncoder().fit_transform(C)
    reference = {f"{c}__minmax": minmax[:, i] for i, c in enumerate(numeric)}
    reference.update({f"{c}__ordinal": ordinal[:, i] for i, c in enumerate(categorical)})
    compare(reference, sys.argv[4])

    reference = {}
    for i, c in enumerate(numeric):
        x = X[:, i]
        if c in ("balance", "duration"):
            low, high = np.percentile(x, [1, 99])
            t = np.clip(x, low, high)
            t = (np.sign(t) * np.log1p(np.abs(t))).reshape(-1, 1)
            reference[f"{c}__signed_log1p__standard"] = StandardScaler().fit_transform(t)[:, 0]
        else:
            reference[f"{c}__standard"] = StandardScaler().fit_transform(x.reshape(-1, 1))[:, 0]
    compare(reference, sys.argv[5])
else:
    sys.exit(f"unknown case {case}")
