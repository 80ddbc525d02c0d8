//! The figures of the page, each drawn only when its input is there: the k sweep, the
//! silhouettes and projection, the profile heatmap, the segment sizes, product
//! penetration and precision and recall at k. Every chart is drawn from the
//! publication's groups, never from segments directly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use clientele_numeric::clustering::silhouette_samples;
use clientele_numeric::sample::sample_rows;
use clientele_shared::encryption::ParquetKey;
use clientele_shared::features::read_feature_matrix;
use clientele_shared::stage::{StageContext, StageIo};
use ndarray::{Array2, ArrayView2};

use crate::charts::{
    self, Chart, Heatmap, KSelection, PrecisionRecall, Projection, Scale, Sizes, GREY, PALETTE,
};
use crate::errors::ReportError;
use crate::html::Figure;
use crate::inputs::{self, Metrics, Profiles};
use crate::pca::Pca;
use crate::publish::{GroupKind, Publication};
use crate::read::ReportInputs;
use crate::ReportParams;

/// Every figure the inputs allow, in page order, and notes on what was left out.
pub(crate) fn draw_figures(
    io: &StageIo,
    read: &ReportInputs,
    params: &ReportParams,
    ctx: &StageContext<'_>,
) -> Result<(Vec<Figure>, Vec<String>), ReportError> {
    let ReportInputs {
        profiles,
        publication,
        metrics,
        group_of_customer,
    } = read;
    let mut figures = Vec::new();
    let mut notes = publication.notes.clone();

    if let Some(path) = io.input("sweep") {
        ctx.progress.step("k selection");
        figures.extend(k_selection(&inputs::read_sweep(path, ctx.parquet_key)?)?);
    }

    if let (Some(path), Some(groups)) = (io.input("features"), &group_of_customer) {
        ctx.progress.step("silhouettes and projection");
        let (silhouette, projection) =
            per_customer_charts(path, groups, publication, params, ctx.seed, ctx.parquet_key)?;
        match silhouette {
            Some(f) => figures.push(f),
            None => notes.push(
                "The silhouette analysis needs at least two published segments; it is left out."
                    .to_string(),
            ),
        }
        figures.push(projection);
    }

    ctx.progress.step("profiles");
    if let Some(f) = heatmap(profiles, publication, params)? {
        figures.push(f);
    }
    figures.push(sizes_chart(publication)?);

    if let (Some(path), Some(groups)) = (io.input("holdings"), &group_of_customer) {
        ctx.progress.step("product penetration");
        let held = inputs::read_latest_holdings(path, ctx.parquet_key)?;
        if let Some(f) = penetration(&held, groups, publication)? {
            figures.push(f);
        }
    }

    if let Some(metrics) = &metrics {
        if let Some(f) = precision_recall(metrics)? {
            figures.push(f);
        }
    }

    Ok((figures, notes))
}

/// The k sweep: mean silhouette and inertia against k, the chosen k marked; none for
/// an empty sweep.
pub(crate) fn k_selection(sweep: &[inputs::SweepRow]) -> Result<Option<Figure>, ReportError> {
    if sweep.is_empty() {
        return Ok(None);
    }
    let chosen = sweep.iter().find(|r| r.chosen).map(|r| r.k);
    let chart = KSelection {
        rows: sweep
            .iter()
            .map(|r| (r.k, r.inertia, r.silhouette))
            .collect(),
        chosen,
    };
    Ok(Some(figure(
        "k_selection",
        "Choosing the number of segments",
        format!(
            "The mean silhouette (left axis) and the inertia (right axis) of K-Means \
                 for k = {}…{}; {}",
            sweep[0].k,
            sweep[sweep.len() - 1].k,
            match chosen {
                Some(k) => format!("k = {k} was chosen, the highest silhouette."),
                None => "no k is marked as chosen.".to_string(),
            }
        ),
        &chart,
    )?))
}

pub(crate) fn figure<C: Chart>(
    name: &'static str,
    title: &str,
    caption: String,
    chart: &C,
) -> Result<Figure, ReportError> {
    let rendered = charts::render(chart).map_err(|message| ReportError::Draw {
        chart: name,
        message,
    })?;
    Ok(Figure {
        name,
        title: title.to_string(),
        caption,
        rendered,
    })
}

pub(crate) fn colour(publication: &Publication, g: usize) -> plotters::style::RGBColor {
    match publication.groups[g].kind {
        GroupKind::Segment(_) => PALETTE[g % PALETTE.len()],
        GroupKind::Noise | GroupKind::Other => GREY,
    }
}

pub(crate) fn display_name(publication: &Publication, g: usize) -> String {
    charts::short_name(g, &publication.groups[g].name)
}

/// The silhouette analysis and the projection, on a seeded sample of the published
/// customers. The silhouette is taken over segments (noise excluded, as scikit-learn's
/// silhouette of DBSCAN labels is usually taken), and drawn by published group.
pub(crate) fn per_customer_charts(
    path: &Path,
    groups: &BTreeMap<String, (i32, usize)>,
    publication: &Publication,
    params: &ReportParams,
    seed: u64,
    key: Option<&ParquetKey>,
) -> Result<(Option<Figure>, Figure), ReportError> {
    let matrix = read_feature_matrix(path, None, key)?;
    let d = matrix.names.len();
    let all = ArrayView2::from_shape((matrix.ids.len(), d), &matrix.values).map_err(|e| {
        ReportError::Matrix {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    })?;
    let pca = Pca::fit(all).map_err(|source| ReportError::Pca {
        path: path.to_path_buf(),
        source,
    })?;
    let published: Vec<(usize, i32, usize)> = matrix
        .ids
        .iter()
        .enumerate()
        .filter_map(|(r, id)| groups.get(id).map(|&(s, g)| (r, s, g)))
        .collect();
    let picked: Vec<(usize, i32, usize)> = sample_rows(published.len(), params.sample, seed)
        .into_iter()
        .map(|i| published[i])
        .collect();
    let sampled = picked.len() < published.len();
    let sample_words = if sampled {
        format!(
            "a seeded sample of {} of the {} published customers",
            charts::group_count(picked.len() as u64),
            charts::group_count(published.len() as u64)
        )
    } else {
        format!(
            "all {} published customers",
            charts::group_count(published.len() as u64)
        )
    };

    let mut points = vec![Vec::new(); publication.groups.len()];
    for &(r, _, g) in &picked {
        points[g].push(pca.project(matrix.row(r)));
    }
    let projection = Projection {
        groups: points
            .into_iter()
            .enumerate()
            .map(|(g, p)| (display_name(publication, g), colour(publication, g), p))
            .collect(),
        explained_variance_ratio: pca.explained_variance_ratio,
    };
    let projection = figure(
        "segments_2d",
        "Segments in two dimensions",
        format!(
            "Customers on the first two principal components of the features ({sample_words}); \
             together the two components carry {:.1} % of the variance, so segments that \
             overlap here may still be apart in the other dimensions.",
            (pca.explained_variance_ratio[0] + pca.explained_variance_ratio[1]) * 100.0
        ),
        &projection,
    )?;

    // Silhouettes: noise has none.
    let clustered: Vec<&(usize, i32, usize)> = picked.iter().filter(|p| p.1 >= 0).collect();
    let segments: BTreeSet<i32> = clustered.iter().map(|p| p.1).collect();
    if segments.len() < 2 {
        return Ok((None, projection));
    }
    let index: BTreeMap<i32, usize> = segments.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    let mut x = Array2::<f64>::zeros((clustered.len(), d));
    let mut labels = Vec::with_capacity(clustered.len());
    for (i, p) in clustered.iter().enumerate() {
        x.row_mut(i)
            .assign(&ndarray::ArrayView1::from(matrix.row(p.0)));
        labels.push(index[&p.1]);
    }
    let values = silhouette_samples(x.view(), &labels)?;
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let mut by_group = vec![Vec::new(); publication.groups.len()];
    for (p, v) in clustered.iter().zip(&values) {
        by_group[p.2].push(*v);
    }
    let chart = charts::SilhouetteAnalysis {
        groups: by_group
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(g, v)| (display_name(publication, g), colour(publication, g), v))
            .collect(),
        mean,
    };
    let silhouette = figure(
        "silhouette",
        "Silhouette analysis",
        format!(
            "Each customer's silhouette, sorted within its segment ({sample_words}, noise \
             excluded); the dashed line is their mean, {mean:.3}. A segment whose customers \
             mostly fall left of the mean, or below zero, is poorly separated."
        ),
        &chart,
    )?;
    Ok((Some(silhouette), projection))
}

/// A feature's name as a person reads it: `income__log1p__standard` → "income",
/// `income__missing` → "income missing", `job=retired` → "job = retired".
pub(crate) fn readable_feature(feature: &str, source: &str) -> String {
    if let Some((column, category)) = feature.split_once('=') {
        format!("{column} = {category}")
    } else if feature.ends_with("__missing") {
        format!("{source} missing")
    } else {
        source.to_string()
    }
}

/// The standardised mean of each feature per published group; a pooled group's is the
/// size-weighted mean of its segments' (the difference of means is linear in them).
pub(crate) fn heatmap(
    profiles: &Profiles,
    publication: &Publication,
    params: &ReportParams,
) -> Result<Option<Figure>, ReportError> {
    let by_segment: BTreeMap<i32, &inputs::SegmentProfile> =
        profiles.segments.iter().map(|p| (p.segment, p)).collect();
    let Some(first) = profiles.segments.iter().find(|p| !p.features.is_empty()) else {
        return Ok(None);
    };
    let features: Vec<(&str, &str)> = first
        .features
        .iter()
        .map(|f| (f.feature.as_str(), f.source.as_str()))
        .collect();
    if features.is_empty() || publication.groups.is_empty() {
        return Ok(None);
    }
    // A pooled group is drawn only when every segment in it has a profile to pool.
    let drawn: Vec<usize> = (0..publication.groups.len())
        .filter(|&g| {
            publication.groups[g]
                .segments
                .iter()
                .all(|s| !by_segment[s].features.is_empty())
        })
        .collect();
    if drawn.is_empty() {
        return Ok(None);
    }
    let mut values = vec![vec![0.0; drawn.len()]; features.len()];
    for (column, &g) in drawn.iter().enumerate() {
        let group = &publication.groups[g];
        let total: u64 = group.segments.iter().map(|s| by_segment[s].size).sum();
        for s in &group.segments {
            let profile = by_segment[s];
            let weight = profile.size as f64 / total.max(1) as f64;
            for f in &profile.features {
                if let Some(row) = features.iter().position(|(name, _)| *name == f.feature) {
                    values[row][column] += weight * f.standardised_difference;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..features.len()).collect();
    let strength = |row: usize| values[row].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    order.sort_by(|&a, &b| strength(b).total_cmp(&strength(a)).then(a.cmp(&b)));
    order.truncate(params.heatmap_features);
    let limit = order
        .iter()
        .map(|&r| strength(r))
        .fold(0.0f64, f64::max)
        .max(0.5);
    let chart = Heatmap {
        title: "What sets each segment apart".to_string(),
        rows: order
            .iter()
            .map(|&r| readable_feature(features[r].0, features[r].1))
            .collect(),
        columns: drawn
            .iter()
            .map(|&g| display_name(publication, g))
            .collect(),
        values: order.iter().map(|&r| values[r].clone()).collect(),
        scale: Scale::Diverging { limit },
        format: |v| format!("{v:+.2}"),
    };
    let shown = order.len();
    Ok(Some(figure(
        "profile_heatmap",
        "Segment profiles",
        format!(
            "The mean of each feature in each segment minus its mean over all customers, in \
             standard deviations (red above, blue below). The {shown} features that differ \
             most in some segment are shown, strongest first."
        ),
        &chart,
    )?))
}

pub(crate) fn sizes_chart(publication: &Publication) -> Result<Figure, ReportError> {
    let chart = Sizes {
        groups: publication
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                (
                    display_name(publication, g),
                    colour(publication, g),
                    group.size,
                )
            })
            .collect(),
    };
    figure(
        "segment_sizes",
        "Segment sizes",
        format!(
            "Customers in each segment. No segment of fewer than {} customers is shown on its own.",
            publication.min_segment_size
        ),
        &chart,
    )
}

pub(crate) fn penetration(
    held: &BTreeMap<String, Vec<String>>,
    groups: &BTreeMap<String, (i32, usize)>,
    publication: &Publication,
) -> Result<Option<Figure>, ReportError> {
    let n_groups = publication.groups.len();
    let mut customers = vec![0u64; n_groups];
    for &(_, g) in groups.values() {
        customers[g] += 1;
    }
    let mut counts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (id, products) in held {
        let Some(&(_, g)) = groups.get(id) else {
            continue;
        };
        for product in products {
            counts
                .entry(product.as_str())
                .or_insert_with(|| vec![0; n_groups])[g] += 1;
        }
    }
    if counts.is_empty() {
        return Ok(None);
    }
    let total: u64 = customers.iter().sum();
    let mut products: Vec<(&str, Vec<u64>)> = counts.into_iter().collect();
    // Most held overall first; ties by name, as the map gave them.
    products.sort_by_key(|(_, c)| std::cmp::Reverse(c.iter().sum::<u64>()));
    let values: Vec<Vec<f64>> = products
        .iter()
        .map(|(_, c)| {
            c.iter()
                .zip(&customers)
                .map(|(&held, &n)| held as f64 / n.max(1) as f64)
                .collect()
        })
        .collect();
    let chart = Heatmap {
        title: "Who holds what".to_string(),
        rows: products.iter().map(|(p, _)| p.to_string()).collect(),
        columns: (0..n_groups)
            .map(|g| display_name(publication, g))
            .collect(),
        values,
        scale: Scale::Sequential { max: 1.0 },
        format: |v| format!("{:.0} %", v * 100.0),
    };
    Ok(Some(figure(
        "product_penetration",
        "Product penetration per segment",
        format!(
            "The share of each segment's customers holding each product at the latest \
             snapshot ({} customers), most held products first.",
            charts::group_count(total)
        ),
        &chart,
    )?))
}

/// A ranking metric's name in `metrics.json`: the blend's unprefixed, a method's prefixed
/// with it (`precision_at_5`, `user_knn.precision_at_5`).
pub(crate) fn metric_key(list: &str, name: &str, k: usize) -> String {
    if list == "blend" {
        format!("{name}_at_{k}")
    } else {
        format!("{list}.{name}_at_{k}")
    }
}

pub(crate) fn precision_recall(metrics: &Metrics) -> Result<Option<Figure>, ReportError> {
    let Some(ranking) = &metrics.ranking else {
        return Ok(None);
    };
    let mut ks = metrics.k.clone();
    ks.sort_unstable();
    ks.dedup();
    if ks.is_empty() {
        return Ok(None);
    }
    let metric =
        |list: &str, name: &str, k: usize| metrics.metrics.get(&metric_key(list, name, k)).copied();
    let mut lists = Vec::new();
    for list in &ranking.lists {
        let precision: Option<Vec<f64>> =
            ks.iter().map(|&k| metric(list, "precision", k)).collect();
        let recall: Option<Vec<f64>> = ks.iter().map(|&k| metric(list, "recall", k)).collect();
        if let (Some(p), Some(r)) = (precision, recall) {
            lists.push((list.clone(), p, r));
        }
    }
    // The blend is drawn first and heaviest.
    lists.sort_by_key(|l| l.0 != "blend");
    if lists.is_empty() {
        return Ok(None);
    }
    let chart = PrecisionRecall { ks, lists };
    Ok(Some(figure(
        "precision_recall_at_k",
        "Precision and recall at k",
        "Of the first k products recommended, the share the customer went on to take \
         (precision), and of the products the customer took, the share found in the first k \
         (recall), for the blend (black) and each method alone, popularity baselines \
         included."
            .to_string(),
        &chart,
    )?))
}
