"""The scikit-learn side of bench/run_segment.sh: one clustering kernel on a Parquet
matrix, timed around the scikit-learn call only, printed as one JSON line.

  python segment_sklearn.py FILE kmeans --k 8 [--n-init 1] [--batch-size 1024]
  python segment_sklearn.py FILE silhouette --k 8        (K-Means labels, not timed)
  python segment_sklearn.py FILE dbscan --eps E --min-samples M
  python segment_sklearn.py FILE make --rows N --dims D --centers C --seed S   (writes FILE)

With --engine sklearnex (before the kernel), scikit-learn-intelex's `patch_sklearn()` is
applied before scikit-learn is imported, so the same calls run on Intel's oneDAL: the
strongest peer on a CPU.

K-Means is sklearn.cluster.KMeans(algorithm="lloyd", init="k-means++"), the same
k-means++ and Lloyd stopping rule as clientele's.
"""
import argparse
import json
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def load(path):
    table = pq.read_table(path)
    names = [n for n in table.column_names if n != "customer_id"]
    return np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float64)


def make(path, rows, dims, centers, seed):
    """Gaussian blobs with unequal spreads, and 1 % uniform background noise."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-10, 10, size=(centers, dims))
    spreads = rng.uniform(0.5, 1.5, size=centers)
    which = rng.integers(0, centers, size=rows)
    x = means[which] + rng.standard_normal((rows, dims)) * spreads[which, None]
    noise = rng.random(rows) < 0.01
    x[noise] = rng.uniform(-15, 15, size=(int(noise.sum()), dims))
    columns = {"customer_id": pa.array([f"C{i}" for i in range(rows)])}
    for j in range(dims):
        columns[f"x{j}"] = pa.array(x[:, j])
    pq.write_table(pa.table(columns), path, compression="zstd")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--engine", choices=["sklearn", "sklearnex"], default="sklearn")
    sub = parser.add_subparsers(dest="kernel", required=True)
    k = sub.add_parser("kmeans")
    k.add_argument("--k", type=int, required=True)
    k.add_argument("--n-init", type=int, default=1)
    k.add_argument("--batch-size", type=int, default=None, help="MiniBatchKMeans with this batch")
    s = sub.add_parser("silhouette")
    s.add_argument("--k", type=int, required=True)
    d = sub.add_parser("dbscan")
    d.add_argument("--eps", type=float, required=True)
    d.add_argument("--min-samples", type=int, required=True)
    m = sub.add_parser("make")
    m.add_argument("--rows", type=int, required=True)
    m.add_argument("--dims", type=int, required=True)
    m.add_argument("--centers", type=int, required=True)
    m.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.kernel == "make":
        make(args.input, args.rows, args.dims, args.centers, args.seed)
        return
    if args.engine == "sklearnex":
        from sklearnex import patch_sklearn

        patch_sklearn(verbose=False)
    from sklearn.cluster import DBSCAN, KMeans, MiniBatchKMeans
    from sklearn.metrics import silhouette_score

    x = load(args.input)
    if args.kernel == "kmeans":
        started = time.perf_counter()
        if args.batch_size:
            km = MiniBatchKMeans(n_clusters=args.k, n_init=args.n_init, batch_size=args.batch_size, random_state=0).fit(x)
            out = {"inertia": float(km.inertia_), "iterations": int(km.n_steps_)}
        else:
            km = KMeans(n_clusters=args.k, n_init=args.n_init, algorithm="lloyd", random_state=0).fit(x)
            out = {"inertia": float(km.inertia_), "iterations": int(km.n_iter_)}
    elif args.kernel == "silhouette":
        labels = KMeans(n_clusters=args.k, n_init=1, random_state=0).fit(x).labels_
        started = time.perf_counter()
        out = {"silhouette": float(silhouette_score(x, labels))}
    else:
        started = time.perf_counter()
        db = DBSCAN(eps=args.eps, min_samples=args.min_samples).fit(x)
        out = {"clusters": int(db.labels_.max() + 1), "noise": int((db.labels_ == -1).sum())}
    out["seconds"] = time.perf_counter() - started
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
