"""The quickstart's preprocess stage, as a pandas + scikit-learn notebook would write it.

Usage: python preprocess_sklearn.py CUSTOMERS.parquet FEATURES.parquet

Same work as the `preprocess` stage of bench/preprocess.toml: drop the direct identifiers
and the date; median imputation with missing-value indicators and standard scaling for
numbers; money amounts winsorised at the 1st/99th percentiles, log-transformed (signed
for balances) and standardised; most-frequent imputation and one-hot encoding with at
most 8 columns per categorical; the result written to Parquet (zstd).
"""
import sys

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

MONEY = ["income", "balance_current", "balance_savings", "spend_travel"]


def winsorise(x):
    low, high = np.percentile(x, [1, 99], axis=0)
    return np.clip(x, low, high)


def signed_log1p(x):
    return np.sign(x) * np.log1p(np.abs(x))


def fit_transform(df):
    """The customer table (identifiers and date still in it) to (ids, feature frame)."""
    ids = df.pop("customer_id")
    df = df.drop(columns=["name", "email", "last_contact_date"])
    categorical = [c for c in df.columns if df[c].dtype == object or isinstance(df[c].dtype, (pd.CategoricalDtype, pd.StringDtype))]
    numeric = [c for c in df.columns if c not in categorical and c not in MONEY]
    for c in categorical:
        df[c] = df[c].astype(object)
    for c in numeric + MONEY:
        df[c] = df[c].astype("float64")
    features = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())]), numeric),
            (
                "money",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median")),
                        ("winsor", FunctionTransformer(winsorise, feature_names_out="one-to-one")),
                        ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                        ("scale", StandardScaler()),
                    ]
                ),
                MONEY,
            ),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(max_categories=8, handle_unknown="infrequent_if_exist", sparse_output=False)),
                    ]
                ),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    X = features.fit_transform(df)
    return ids, pd.DataFrame(X, columns=[str(c) for c in features.get_feature_names_out()])


if __name__ == "__main__":
    source, target = sys.argv[1], sys.argv[2]
    ids, out = fit_transform(pd.read_parquet(source))
    out.insert(0, "customer_id", ids.to_numpy())
    out.to_parquet(target, compression="zstd", index=False)
    print(f"{len(out)} rows, {out.shape[1] - 1} features", file=sys.stderr)
