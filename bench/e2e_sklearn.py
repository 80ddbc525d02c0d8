"""The end-to-end benchmark's Python peer: the work of bench/e2e.toml, as a pandas +
scikit-learn notebook would write it.

Usage: python e2e_sklearn.py DATA_DIR OUT_DIR [--n-init N] [--dbscan-max ROWS] [--strong]

With --strong, the stronger notebook of issue 26: polars reads the CSV files and writes
every Parquet file (polars 2.1: multi-threaded, the fastest CSV reader measured in
bench/run_ingest.sh), and scikit-learn-intelex's `patch_sklearn()` runs before
scikit-learn is imported, so KMeans, DBSCAN, NearestNeighbors and the metrics it
accelerates run on Intel's oneDAL. Everything else is the same code.

DATA_DIR holds `clientele generate`'s customers.csv, holdings.csv and products.csv. The
work, stage by stage, as bench/e2e.toml asks of clientele:
- ingest: pandas.read_csv of the customers and the holdings, written to Parquet (zstd);
- preprocess: the ColumnTransformer of bench/preprocess_sklearn.py (SimpleImputer,
  winsorising, log1p, StandardScaler, OneHotEncoder), the features written to Parquet;
- segment: KMeans(algorithm="lloyd") for k = 2..10, each k scored by silhouette_score on a
  seeded sample of 20,000, Davies-Bouldin and Calinski-Harabasz; the best k by silhouette
  kept; per-segment means and medians of every feature; assignments written to Parquet;
- DBSCAN on four standardised columns (age, tenure, digital logins, branch visits), fitted
  on a seeded subsample of --dbscan-max rows when there are more customers (scikit-learn
  keeps every neighbourhood in memory); the other customers join the cluster of the
  nearest core point within eps, as clientele's `fit_sample` does;
- recommend: September's holdings predict the products newly held in October. Methods:
  popularity, segment popularity, user kNN (NearestNeighbors, cosine, brute force, over
  the distinct baskets, which is what a careful notebook does: there are far fewer
  baskets than customers), item kNN (item-item cosine), content kNN (NearestNeighbors in
  feature space over a seeded reference sample of 5,000 customers), product profiles;
  eligibility rules from the catalogue; each method min-max normalised over the
  customer's candidates and blended with clientele's default weights; top 5 written;
- evaluate: precision, recall, F1, MAP and NDCG at 5 (Microsoft Recommenders'
  definitions) overall and per segment; silhouette (sample of 20,000), Davies-Bouldin and
  Calinski-Harabasz of the chosen segmentation.

Progress goes to stderr with the elapsed seconds, so that a run that dies (out of memory)
says in which step. The last line on stdout is a JSON summary.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd

STRONG = "--strong" in sys.argv[1:]
if STRONG:
    import polars as pl
    from sklearnex import patch_sklearn

    patch_sklearn(verbose=False)

from sklearn.cluster import DBSCAN, KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from preprocess_sklearn import fit_transform  # noqa: E402

START = time.perf_counter()
SEED = 7
TOP_K = 5
NEIGHBOURS = 20
REFERENCE_SAMPLE = 5000
SILHOUETTE_SAMPLE = 20000
WEIGHTS = {"segment_popularity": 0.1, "user_knn": 0.3, "item_knn": 0.3, "content_knn": 0.2, "product_profile": 0.1}
DBSCAN_COLUMNS = ["age", "tenure_months", "digital_logins_month", "branch_visits_year"]
DBSCAN_EPS = 0.25
DBSCAN_MIN_SAMPLES = 10


def read_csv(path, dates=()):
    """A CSV file as a pandas frame: pandas' reader, or polars' with --strong."""
    if STRONG:
        # pandas reads "NA" as missing by default, polars only the empty field.
        frame = pl.read_csv(path, schema_overrides={c: pl.Date for c in dates}, null_values=["NA"])
        return frame.to_pandas()
    return pd.read_csv(path, parse_dates=list(dates))


def write_parquet(frame, path):
    """A pandas frame to Parquet (zstd): pyarrow through pandas, or polars with --strong."""
    if STRONG:
        pl.from_pandas(frame).write_parquet(path, compression="zstd")
    else:
        frame.to_parquet(path, compression="zstd", index=False)


def step(name):
    print(f"[{time.perf_counter() - START:8.1f} s] {name}", file=sys.stderr, flush=True)


def min_max(scores, candidates):
    """Each row's scores scaled to [0, 1] over its candidate products; 0 elsewhere."""
    masked_low = np.where(candidates, scores, np.inf).min(axis=1, keepdims=True)
    masked_high = np.where(candidates, scores, -np.inf).max(axis=1, keepdims=True)
    span = masked_high - masked_low
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(span > 0, (scores - masked_low) / span, 0.0)
    return np.where(candidates, out, 0.0)


def top_list(scores, candidates):
    """The TOP_K best candidates of each row: (products, their scores, the masked scores)."""
    masked = np.where(candidates, scores, 0.0)
    top = np.argsort(-masked, axis=1, kind="stable")[:, :TOP_K]
    return top, np.take_along_axis(masked, top, axis=1), masked


def list_table(ids, products, top, top_scores):
    customer_of, rank = np.nonzero(top_scores > 0)
    return pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[customer_of],
            "rank": (rank + 1).astype(np.int32),
            "product": np.asarray(products)[top[customer_of, rank]],
            "score": top_scores[customer_of, rank].astype(np.float64),
        }
    )


def ranking_metrics(top, scores, truth):
    """Precision, recall, F1, MAP and NDCG at TOP_K, averaged over customers with a
    non-empty truth and at least one recommendation (Microsoft Recommenders)."""
    valid = np.take_along_axis(scores, top, axis=1) > 0
    hits = np.take_along_axis(truth, top, axis=1) & valid
    n_true = truth.sum(axis=1)
    scored = (n_true > 0) & valid.any(axis=1)
    hits, n_true = hits[scored], n_true[scored]
    precision = hits.sum(axis=1) / TOP_K
    recall = hits.sum(axis=1) / n_true
    cumulative = np.cumsum(hits, axis=1)
    ranks = np.arange(1, TOP_K + 1)
    average_precision = (hits * cumulative / ranks).sum(axis=1) / n_true
    discounts = 1.0 / np.log2(ranks + 1)
    dcg = (hits * discounts).sum(axis=1)
    ideal = np.array([discounts[: min(int(t), TOP_K)].sum() for t in range(TOP_K + 1)])
    ndcg = dcg / ideal[np.minimum(n_true, TOP_K)]
    p, r = precision.mean(), recall.mean()
    return scored, {
        "precision_at_5": float(p),
        "recall_at_5": float(r),
        "f1_at_5": float(2 * p * r / (p + r)) if p + r > 0 else 0.0,
        "map_at_5": float(average_precision.mean()),
        "ndcg_at_5": float(ndcg.mean()),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--n-init", type=int, default=3)
    parser.add_argument("--dbscan-max", type=int, default=200_000)
    parser.add_argument("--strong", action="store_true", help="polars for I/O, sklearnex for the estimators")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)

    step("ingest")
    customers = read_csv(os.path.join(args.data, "customers.csv"), ["last_contact_date"])
    write_parquet(customers, os.path.join(args.out, "customers.parquet"))
    holdings = read_csv(os.path.join(args.data, "holdings.csv"), ["snapshot"])
    write_parquet(holdings, os.path.join(args.out, "holdings.parquet"))
    catalogue = read_csv(os.path.join(args.data, "products.csv"))
    age = customers["age"].to_numpy(dtype=float)
    income = customers["income"].to_numpy(dtype=float)

    step("preprocess")
    ids, features = fit_transform(customers)
    del customers
    features.insert(0, "customer_id", ids.to_numpy())
    write_parquet(features, os.path.join(args.out, "features.parquet"))
    names = list(features.columns[1:])
    X = features[names].to_numpy(dtype=np.float64)
    del features
    n = X.shape[0]

    step(f"segment: K-Means for k = 2..10 on {n} x {X.shape[1]}")
    sweep = []
    best = None
    for k in range(2, 11):
        model = KMeans(n_clusters=k, n_init=args.n_init, algorithm="lloyd", random_state=SEED).fit(X)
        labels = model.labels_
        silhouette = silhouette_score(X, labels, sample_size=min(n, SILHOUETTE_SAMPLE), random_state=SEED)
        sweep.append(
            {
                "k": k,
                "inertia": float(model.inertia_),
                "silhouette": float(silhouette),
                "davies_bouldin": float(davies_bouldin_score(X, labels)),
                "calinski_harabasz": float(calinski_harabasz_score(X, labels)),
            }
        )
        step(f"  k = {k}: silhouette {silhouette:.4f}")
        if best is None or silhouette > best[0]:
            best = (silhouette, k, model)
    _, k, model = best
    labels = model.labels_
    distance = np.sqrt(((X - model.cluster_centers_[labels]) ** 2).sum(axis=1))
    frame = pd.DataFrame(X, columns=names)
    profiles = frame.groupby(labels).agg(["mean", "median"])
    del frame
    write_parquet(
        pd.DataFrame({"customer_id": ids.to_numpy(), "segment": labels.astype(np.int32), "distance_to_centroid": distance}),
        os.path.join(args.out, "segments.parquet"),
    )
    with open(os.path.join(args.out, "segment_profiles.json"), "w") as f:
        json.dump({"k": k, "sweep": sweep, "profiles": json.loads(profiles.to_json())}, f)

    dbscan_rows = min(n, args.dbscan_max)
    step(f"segment: DBSCAN on {dbscan_rows} x {len(DBSCAN_COLUMNS)}")
    columns = [names.index(c) for c in DBSCAN_COLUMNS]
    rows = np.sort(rng.choice(n, dbscan_rows, replace=False)) if dbscan_rows < n else np.arange(n)
    dbscan = DBSCAN(eps=DBSCAN_EPS, min_samples=DBSCAN_MIN_SAMPLES).fit(X[np.ix_(rows, columns)])
    dbscan_labels = dbscan.labels_
    if dbscan_rows < n:
        # The other customers join the cluster of the nearest core point within eps.
        step(f"segment: DBSCAN, assigning {n} customers to {len(dbscan.core_sample_indices_)} core points")
        core = dbscan.components_
        core_labels = dbscan.labels_[dbscan.core_sample_indices_]
        distance, nearest = NearestNeighbors(n_neighbors=1).fit(core).kneighbors(X[:, columns])
        dbscan_labels = np.where(distance[:, 0] <= DBSCAN_EPS, core_labels[nearest[:, 0]], -1)
        dbscan_labels[rows] = dbscan.labels_
    dbscan_clusters = int(dbscan_labels.max() + 1)
    dbscan_noise = int((dbscan_labels == -1).sum())
    write_parquet(
        pd.DataFrame({"customer_id": ids.to_numpy(), "segment": dbscan_labels.astype(np.int32)}),
        os.path.join(args.out, "segments_dbscan.parquet"),
    )

    step("recommend: holdings")
    products = list(catalogue["product_id"])
    snapshots = sorted(holdings["snapshot"].unique())
    train_snapshot, test_snapshot = snapshots[-2], snapshots[-1]
    row = pd.Index(ids).get_indexer(holdings["customer_id"])
    column = pd.Index(products).get_indexer(holdings["product"])
    keep = (row >= 0) & (column >= 0)
    held = np.zeros((n, len(products)), dtype=bool)
    later = np.zeros((n, len(products)), dtype=bool)
    train = keep & (holdings["snapshot"] == train_snapshot).to_numpy()
    test = keep & (holdings["snapshot"] == test_snapshot).to_numpy()
    held[row[train], column[train]] = True
    later[row[test], column[test]] = True
    del holdings, row, column
    truth = later & ~held
    eligible = np.ones_like(held)
    for j, rule in catalogue.iterrows():
        with np.errstate(invalid="ignore"):
            eligible[:, j] = (age >= rule["min_age"]) & (income >= rule["min_income"])
    candidates = eligible & ~held
    H = held.astype(np.float32)
    methods = {}

    step("recommend: popularity and segment popularity")
    popularity = H.mean(axis=0)
    methods["popularity"] = np.broadcast_to(popularity, H.shape)
    segment_share = np.stack([H[labels == s].mean(axis=0) for s in range(k)])
    methods["segment_popularity"] = segment_share[labels]

    step("recommend: user kNN over distinct baskets")
    baskets, basket_of, basket_count = np.unique(held, axis=0, return_inverse=True, return_counts=True)
    basket_of = basket_of.reshape(-1)
    neighbours = min(NEIGHBOURS + 1, len(baskets))
    index = NearestNeighbors(n_neighbors=neighbours, metric="cosine", algorithm="brute").fit(baskets)
    _, nearest = index.kneighbors(baskets)
    votes = np.zeros(baskets.shape, dtype=np.float32)
    B = baskets.astype(np.float32)
    for column in range(1, neighbours):
        other = nearest[:, column]
        votes += B[other] * basket_count[other][:, None]
    methods["user_knn"] = votes[basket_of]

    step("recommend: item kNN")
    co = H.T @ H
    norms = np.sqrt(np.diag(co))
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(np.outer(norms, norms) > 0, co / np.outer(norms, norms), 0.0)
    np.fill_diagonal(similarity, 0.0)
    methods["item_knn"] = H @ similarity.astype(np.float32)

    step(f"recommend: content kNN over {min(n, REFERENCE_SAMPLE)} reference customers")
    reference = np.sort(rng.choice(n, min(n, REFERENCE_SAMPLE), replace=False))
    index = NearestNeighbors(n_neighbors=min(NEIGHBOURS, len(reference))).fit(X[reference])
    _, nearest = index.kneighbors(X)
    content = np.zeros(H.shape, dtype=np.float32)
    for column in range(nearest.shape[1]):
        content += H[reference[nearest[:, column]]]
    methods["content_knn"] = content
    del nearest, content

    step("recommend: product profiles")
    centre = X.mean(axis=0)
    lean = np.stack([(X[held[:, j]].mean(axis=0) - centre) if held[:, j].any() else np.zeros_like(centre) for j in range(len(products))])
    methods["product_profile"] = np.maximum((X - centre) @ lean.T, 0.0)

    step("recommend: blend, top 5 of the blend and of each method")
    blended = np.zeros(H.shape)
    for method, weight in WEIGHTS.items():
        blended += weight * min_max(methods[method], candidates)
    lists = {"blend": top_list(blended, candidates)}
    for method, scores in methods.items():
        lists[method] = top_list(scores, candidates)
    tables = {method: list_table(ids, products, top, top_scores) for method, (top, top_scores, _) in lists.items()}
    write_parquet(tables["blend"], os.path.join(args.out, "recommendations.parquet"))
    write_parquet(
        pd.concat([table.assign(method=method) for method, table in tables.items() if method != "blend"]),
        os.path.join(args.out, "recommendations_by_method.parquet"),
    )

    step("evaluate")
    top, _, blended = lists["blend"]
    scored, metrics = ranking_metrics(top, blended, truth)
    for method, (method_top, _, method_scores) in lists.items():
        if method != "blend":
            _, per_method = ranking_metrics(method_top, method_scores, truth)
            metrics.update({f"{method}.{name}": value for name, value in per_method.items()})
    for s in range(k):
        in_segment = labels == s
        _, per_segment = ranking_metrics(top[in_segment], blended[in_segment], truth[in_segment])
        metrics.update({f"segment.{s}.{name}": value for name, value in per_segment.items()})
    metrics["silhouette"] = float(silhouette_score(X, labels, sample_size=min(n, SILHOUETTE_SAMPLE), random_state=SEED))
    metrics["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    metrics["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    step("done")
    summary = {
        "customers": n,
        "features": X.shape[1],
        "k": k,
        "dbscan_rows": dbscan_rows,
        "dbscan_clusters": dbscan_clusters,
        "dbscan_noise": dbscan_noise,
        "distinct_baskets": len(baskets),
        "scored_customers": int(scored.sum()),
        "precision_at_5": metrics["precision_at_5"],
        "recall_at_5": metrics["recall_at_5"],
        "seconds": time.perf_counter() - START,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
