"""Writes the matrix of tests/golden/make_propensity_golden.py (bank_full.csv, `duration`
dropped, numbers as they are, text columns one-hot in sorted value order) split as
scikit-learn split it (the golden file's test rows), column-major f64, into
bench/work/forust/: xtrain.bin, ytrain.bin, xtest.bin, ytest.bin.
Run from the repository root with ../shared beside it."""
import json
import pathlib

import numpy as np
import pandas as pd

out = pathlib.Path("bench/work/forust")
out.mkdir(parents=True, exist_ok=True)
df = pd.read_csv("../shared/data/bank_full.csv", encoding="utf-8-sig")
y = (df["y"] == "Y").astype(int).to_numpy()
df = df.drop(columns=["duration", "y"])
numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
parts = []
for c in df.columns:
    if c in numeric:
        parts.append(df[c].astype("float64").to_numpy()[:, None])
    else:
        values = sorted(df[c].unique())
        parts.append(np.stack([(df[c] == v).to_numpy(dtype="float64") for v in values], axis=1))
x = np.hstack(parts)
golden = json.load(open("tests/golden/sklearn_bank_propensity.json"))
test = np.zeros(len(x), bool)
test[np.array(golden["test_rows"], dtype=np.int64)] = True
np.asfortranarray(x[~test]).T.tofile(out / "xtrain.bin")
np.asfortranarray(x[test]).T.tofile(out / "xtest.bin")
y[~test].astype("float64").tofile(out / "ytrain.bin")
y[test].astype("float64").tofile(out / "ytest.bin")
print(x.shape, int((~test).sum()), int(test.sum()))
