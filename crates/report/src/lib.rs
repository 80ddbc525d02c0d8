//! The report stage: charts of the segments and of the recommendations' quality, as PNG
//! and SVG files, and one self-contained `report.html` that a banker reads.
//!
//! - [`charts`]: k selection, silhouette analysis, a two-dimensional projection, the
//!   segment profile heatmap, segment sizes, product penetration per segment, precision
//!   and recall against k (plotters, with a bundled font).
//! - [`publish`]: the publication threshold. No chart, card or table describes fewer
//!   than `min_segment_size` customers; the page says what was merged or left out.
//! - [`pca`]: the two principal components the projection is drawn on.
//! - [`html`]: the page, every chart embedded, no script and nothing fetched.
//!
//! It reads what the segment, recommend and evaluate stages wrote (profiles, the k
//! sweep, assignments, features, holdings, recommendations, `metrics.json`); every input
//! but the profiles is optional, and a chart whose input is absent is left out. It
//! computes no segmentation, recommendation or quality metric of its own, except each
//! customer's silhouette and the projection, which only a picture needs.

// `deny`, not `forbid`: ndarray's `s!` macro allows unsafe code inside its expansion,
// which `forbid` refuses to let it do.
#![deny(unsafe_code)]

pub mod charts;
mod errors;
pub mod html;
mod inputs;
pub mod params;
pub mod pca;
pub mod publish;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use clientele_numeric::clustering::silhouette_samples;
use clientele_numeric::sample::sample_rows;
use clientele_shared::features::read_feature_matrix;
use clientele_shared::schema::read_assignments;
use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};
use clientele_shared::SharedError;
use ndarray::{Array2, ArrayView2};

use charts::{
    Chart, Heatmap, KSelection, PrecisionRecall, Projection, Scale, Sizes, GREY, PALETTE,
};
pub use errors::{ParamError, ReportError};
use html::{Card, Figure, Page, Row, Table};
use inputs::{Metrics, Profiles};
pub use params::ReportParams;
use pca::Pca;
use publish::{GroupKind, Publication};

/// The report stage, as the runner sees it.
pub struct Report;

/// Every chart the stage may draw, by file stem: a stem not drawn this run is removed
/// from the charts directory, so that no chart of an earlier run is taken for this one's.
pub const CHART_NAMES: [&str; 7] = [
    "k_selection",
    "silhouette",
    "segments_2d",
    "profile_heatmap",
    "segment_sizes",
    "product_penetration",
    "precision_recall_at_k",
];

impl Stage for Report {
    const KIND: &'static str = "report";
    const INPUTS: &'static [Port] = &[
        Port {
            name: "profiles",
            required: true,
            doc: "the segment profiles (labels, sizes, per-feature standardised differences)",
        },
        Port {
            name: "assignments",
            required: false,
            doc: "each customer's segment: needed by every per-customer chart and card figure",
        },
        Port {
            name: "features",
            required: false,
            doc: "the features segmented on: the silhouette analysis and the 2-D projection",
        },
        Port {
            name: "sweep",
            required: false,
            doc: "the segment stage's k sweep: the k-selection chart",
        },
        Port {
            name: "holdings",
            required: false,
            doc: "holdings in long format (customer_id, product[, snapshot]): product penetration per segment, at the latest snapshot",
        },
        Port {
            name: "recommendations",
            required: false,
            doc: "the blended recommendations: each segment's most recommended products",
        },
        Port {
            name: "metrics",
            required: false,
            doc: "the evaluate stage's metrics.json: the metrics tables and precision/recall against k",
        },
    ];
    const OUTPUTS: &'static [Port] = &[
        Port {
            name: "report",
            required: true,
            doc: "report.html: every chart embedded, readable offline",
        },
        Port {
            name: "charts",
            required: false,
            doc: "a directory that receives each chart as NAME.png and NAME.svg",
        },
    ];
    type Params = ReportParams;
    type Error = ReportError;

    fn run(
        params: &ReportParams,
        io: &StageIo,
        ctx: &StageContext<'_>,
    ) -> Result<StageReport, ReportError> {
        check_params(params, io)?;
        let report_path = io
            .output("report")
            .ok_or(ParamError::MissingPort { port: "report" })?;
        let profiles_path = io
            .input("profiles")
            .ok_or(ParamError::MissingPort { port: "profiles" })?;
        let profiles = inputs::read_profiles(profiles_path)?;
        let publication = Publication::new(&profiles, params.min_segment_size);
        let metrics = io.input("metrics").map(inputs::read_metrics).transpose()?;
        let assignments = match io.input("assignments") {
            Some(path) => Some(read_assignments(path)?),
            None => None,
        };
        // Each customer's group (published customers only).
        let group_of_customer: Option<BTreeMap<String, (i32, usize)>> =
            assignments.as_ref().map(|rows| {
                rows.iter()
                    .filter_map(|(id, s)| publication.group_of(*s).map(|g| (id.clone(), (*s, g))))
                    .collect()
            });

        let mut figures = Vec::new();
        let mut notes = publication.notes.clone();

        if let Some(path) = io.input("sweep") {
            ctx.progress.step("k selection");
            let sweep = inputs::read_sweep(path)?;
            if !sweep.is_empty() {
                let chosen = sweep.iter().find(|r| r.chosen).map(|r| r.k);
                let chart = KSelection {
                    rows: sweep
                        .iter()
                        .map(|r| (r.k, r.inertia, r.silhouette))
                        .collect(),
                    chosen,
                };
                figures.push(figure(
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
                )?);
            }
        }

        if let (Some(path), Some(groups)) = (io.input("features"), &group_of_customer) {
            ctx.progress.step("silhouettes and projection");
            let (silhouette, projection) =
                per_customer_charts(path, groups, &publication, params, ctx.seed)?;
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
        if let Some(f) = heatmap(&profiles, &publication, params)? {
            figures.push(f);
        }
        figures.push(sizes_chart(&publication)?);

        if let (Some(path), Some(groups)) = (io.input("holdings"), &group_of_customer) {
            ctx.progress.step("product penetration");
            let held = inputs::read_latest_holdings(path)?;
            if let Some(f) = penetration(&held, groups, &publication)? {
                figures.push(f);
            }
        }

        if let Some(metrics) = &metrics {
            if let Some(f) = precision_recall(metrics)? {
                figures.push(f);
            }
        }

        let recommended = match (io.input("recommendations"), &group_of_customer) {
            (Some(path), Some(groups)) => {
                ctx.progress.step("recommendations per segment");
                Some(recommended_per_group(
                    &inputs::read_recommendations(path)?,
                    groups,
                    publication.groups.len(),
                ))
            }
            _ => None,
        };

        let cards = cards(
            &profiles,
            &publication,
            recommended.as_ref(),
            metrics.as_ref(),
            params,
        );
        let page = Page {
            title: params.title.clone(),
            summary: summary(&profiles, &publication, metrics.as_ref()),
            privacy: privacy_lines(&publication),
            cards,
            tables: metrics.as_ref().map(tables).unwrap_or_default(),
            gate: metrics.as_ref().and_then(gate_line),
            figures,
            footer: format!(
                "Made by clientele {} (stage `{}`). Every chart is embedded; the charts \
                 directory of the run holds each as PNG and SVG.",
                env!("CARGO_PKG_VERSION"),
                ctx.stage
            ),
        };

        if let Some(dir) = io.output("charts") {
            write_charts(dir, &page.figures)?;
        }
        let text = html::render(&page);
        clientele_shared::atomic::write_file(report_path, text.as_bytes())?;

        let mut counts = BTreeMap::new();
        counts.insert("charts".to_string(), page.figures.len() as u64);
        counts.insert("segment_cards".to_string(), page.cards.len() as u64);
        counts.insert(
            "suppressed_customers".to_string(),
            publication.suppressed_customers,
        );
        Ok(StageReport {
            rows: page.figures.len() as u64,
            counts,
            notes,
            ..StageReport::default()
        })
    }
}

/// Checks that need the ports as well as the parameters.
pub fn check_params(params: &ReportParams, io: &StageIo) -> Result<(), ReportError> {
    params.check()?;
    for (input, why) in [
        ("features", "drawn by segment"),
        ("holdings", "shown per segment"),
    ] {
        if io.input(input).is_some() && io.input("assignments").is_none() {
            return Err(ParamError::WithoutAssignments { input, why }.into());
        }
    }
    Ok(())
}

fn figure<C: Chart>(
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

fn colour(publication: &Publication, g: usize) -> plotters::style::RGBColor {
    match publication.groups[g].kind {
        GroupKind::Segment(_) => PALETTE[g % PALETTE.len()],
        GroupKind::Noise | GroupKind::Other => GREY,
    }
}

fn display_name(publication: &Publication, g: usize) -> String {
    charts::short_name(g, &publication.groups[g].name)
}

/// The silhouette analysis and the projection, on a seeded sample of the published
/// customers. The silhouette is taken over segments (noise excluded, as scikit-learn's
/// silhouette of DBSCAN labels is usually taken), and drawn by published group.
fn per_customer_charts(
    path: &Path,
    groups: &BTreeMap<String, (i32, usize)>,
    publication: &Publication,
    params: &ReportParams,
    seed: u64,
) -> Result<(Option<Figure>, Figure), ReportError> {
    let matrix = read_feature_matrix(path, None)?;
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
fn readable_feature(feature: &str, source: &str) -> String {
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
fn heatmap(
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

fn sizes_chart(publication: &Publication) -> Result<Figure, ReportError> {
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

fn penetration(
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
fn metric_key(list: &str, name: &str, k: usize) -> String {
    if list == "blend" {
        format!("{name}_at_{k}")
    } else {
        format!("{list}.{name}_at_{k}")
    }
}

fn precision_recall(metrics: &Metrics) -> Result<Option<Figure>, ReportError> {
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

/// For each group: how many of its customers were recommended each product.
fn recommended_per_group(
    lists: &BTreeMap<String, Vec<String>>,
    groups: &BTreeMap<String, (i32, usize)>,
    n_groups: usize,
) -> Vec<(u64, BTreeMap<String, u64>)> {
    let mut out = vec![(0u64, BTreeMap::new()); n_groups];
    for &(_, g) in groups.values() {
        out[g].0 += 1;
    }
    for (id, products) in lists {
        if let Some(&(_, g)) = groups.get(id) {
            for product in products {
                *out[g].1.entry(product.clone()).or_insert(0) += 1;
            }
        }
    }
    out
}

fn describe_feature(f: &inputs::FeatureProfile) -> String {
    let direction = if f.standardised_difference >= 0.0 {
        "above"
    } else {
        "below"
    };
    let how_far = format!(
        "{:.2} standard deviations {direction} all customers",
        f.standardised_difference.abs()
    );
    if f.feature.contains('=') || f.feature.ends_with("__missing") {
        format!("{:.0} % of them, {how_far}", f.mean * 100.0)
    } else {
        format!("mean {}, {how_far}", html::format_value(f.mean))
    }
}

fn cards(
    profiles: &Profiles,
    publication: &Publication,
    recommended: Option<&Vec<(u64, BTreeMap<String, u64>)>>,
    metrics: Option<&Metrics>,
    params: &ReportParams,
) -> Vec<Card> {
    let by_segment: BTreeMap<i32, &inputs::SegmentProfile> =
        profiles.segments.iter().map(|p| (p.segment, p)).collect();
    let largest_k = metrics.and_then(|m| m.k.iter().copied().max());
    publication
        .groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let (about, features) = match group.kind {
                GroupKind::Segment(s) => {
                    let profile = by_segment[&s];
                    let features = profile
                        .distinguishing
                        .iter()
                        .filter_map(|name| profile.features.iter().find(|f| &f.feature == name))
                        .take(params.card_features)
                        .map(|f| (readable_feature(&f.feature, &f.source), describe_feature(f)))
                        .collect();
                    (None, features)
                }
                GroupKind::Noise => (
                    Some("Customers in no dense group: DBSCAN's noise.".to_string()),
                    Vec::new(),
                ),
                GroupKind::Other => (
                    Some(format!(
                        "{} segments each smaller than the publication threshold of {}, pooled.",
                        group.segments.len(),
                        publication.min_segment_size
                    )),
                    Vec::new(),
                ),
            };
            let products = recommended
                .map(|per_group| {
                    let (customers, counts) = &per_group[g];
                    let mut ranked: Vec<(&String, &u64)> = counts.iter().collect();
                    ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                    ranked
                        .into_iter()
                        .take(params.card_products)
                        .map(|(p, &n)| (p.clone(), n as f64 / (*customers).max(1) as f64))
                        .collect()
                })
                .unwrap_or_default();
            let segment_metrics = match (group.kind, metrics, largest_k) {
                (GroupKind::Segment(s), Some(m), Some(k)) => [
                    ("precision", "precision"),
                    ("recall", "recall"),
                    ("map", "MAP"),
                ]
                .iter()
                .filter_map(|(key, label)| {
                    m.metrics
                        .get(&format!("segment.{s}.{key}_at_{k}"))
                        .map(|v| (format!("{label} at {k}"), *v))
                })
                .collect(),
                _ => Vec::new(),
            };
            Card {
                index: g,
                name: group.name.clone(),
                customers: group.size,
                share: group.size as f64 / profiles.customers.max(1) as f64,
                about,
                features,
                products,
                metrics: segment_metrics,
            }
        })
        .collect()
}

fn summary(
    profiles: &Profiles,
    publication: &Publication,
    metrics: Option<&Metrics>,
) -> Vec<String> {
    let segments = profiles.segments.iter().filter(|p| p.segment >= 0).count();
    let mut lines = vec![format!(
        "{} customers in {segments} segments ({}), of which {} are shown.",
        charts::group_count(profiles.customers),
        profiles.algorithm,
        publication.groups.len()
    )];
    if let Some(m) = metrics {
        if let Some(k) = m.k.iter().copied().max() {
            let get = |name: &str| m.metrics.get(&format!("{name}_at_{k}")).copied();
            if let (Some(p), Some(r)) = (get("precision"), get("recall")) {
                let mut line =
                    format!("Recommendations: precision at {k} {p:.3}, recall at {k} {r:.3}");
                if let Some(base) = m.metrics.get(&format!("popularity.map_at_{k}")) {
                    if let Some(map) = get("map") {
                        line.push_str(&format!(
                            "; MAP at {k} {map:.3} against {base:.3} for recommending the most popular products"
                        ));
                    }
                }
                line.push('.');
                lines.push(line);
            }
        }
        if let Some(s) = m.metrics.get("silhouette") {
            lines.push(format!("Segmentation: mean silhouette {s:.3}."));
        }
    }
    lines
}

fn privacy_lines(publication: &Publication) -> Vec<String> {
    let mut lines = publication.notes.clone();
    if !lines.is_empty() {
        lines.push(format!(
            "No chart, card or table on this page describes fewer than {} customers.",
            publication.min_segment_size
        ));
    }
    lines
}

fn gate_line(metrics: &Metrics) -> Option<String> {
    let gate = metrics.gate.as_ref()?;
    let passed = gate.passed?;
    let failed: Vec<String> = gate
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            let mut text = format!("{} ({}", c.metric, c.rule);
            if let Some(baseline) = c.baseline {
                text.push_str(&format!(", baseline {baseline:.4}"));
            }
            if let Some(now) = c.now {
                text.push_str(&format!(", now {now:.4}"));
            }
            text.push(')');
            text
        })
        .collect();
    Some(if passed {
        format!(
            "Quality gate: <span class=\"passed\">passed</span> ({} checks).",
            gate.checks.len()
        )
    } else {
        format!(
            "Quality gate: <span class=\"failed\">failed</span> on {}.",
            html::escape(&failed.join(", "))
        )
    })
}

/// The ranking metrics of every list at the largest k, and the segmentation's scores.
fn tables(metrics: &Metrics) -> Vec<Table> {
    let mut out = Vec::new();
    if let (Some(ranking), Some(k)) = (&metrics.ranking, metrics.k.iter().copied().max()) {
        let names = [
            "precision",
            "recall",
            "f1",
            "map",
            "ndcg",
            "hit_rate",
            "coverage",
        ];
        let mut rows: Vec<Row> = ranking
            .lists
            .iter()
            .map(|list| Row {
                name: list.clone(),
                cells: names
                    .iter()
                    .map(|name| metrics.metrics.get(&metric_key(list, name, k)).copied())
                    .collect(),
            })
            .collect();
        rows.sort_by_key(|r| r.name != "blend");
        out.push(Table {
            caption: format!(
                "Recommendation quality at k = {k}: the blend and each method on the held-out products"
            ),
            columns: std::iter::once("list".to_string())
                .chain(
                    ["precision", "recall", "F1", "MAP", "NDCG", "hit rate", "coverage"]
                        .iter()
                        .map(|c| format!("{c}@{k}")),
                )
                .collect(),
            rows,
        });
    }
    let clustering: Vec<Row> = [
        ("silhouette", "silhouette (higher is better)"),
        ("davies_bouldin", "Davies–Bouldin (lower is better)"),
        ("calinski_harabasz", "Calinski–Harabasz (higher is better)"),
        (
            "stability_ari",
            "stability: adjusted Rand index across seeds",
        ),
    ]
    .iter()
    .filter_map(|(key, name)| {
        metrics.metrics.get(*key).map(|v| Row {
            name: name.to_string(),
            cells: vec![Some(*v)],
        })
    })
    .collect();
    if !clustering.is_empty() {
        out.push(Table {
            caption: "Segmentation quality".to_string(),
            columns: vec!["score".to_string(), "value".to_string()],
            rows: clustering,
        });
    }
    out
}

/// Writes each chart as `NAME.png` and `NAME.svg`, each file whole, and removes the
/// files of charts not drawn this run.
fn write_charts(dir: &Path, figures: &[Figure]) -> Result<(), ReportError> {
    for figure in figures {
        clientele_shared::atomic::write_file(
            &dir.join(format!("{}.png", figure.name)),
            &figure.rendered.png,
        )?;
        clientele_shared::atomic::write_file(
            &dir.join(format!("{}.svg", figure.name)),
            figure.rendered.svg.as_bytes(),
        )?;
    }
    for name in CHART_NAMES {
        if figures.iter().any(|f| f.name == name) {
            continue;
        }
        for extension in ["png", "svg"] {
            let stale = dir.join(format!("{name}.{extension}"));
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .map_err(|e| SharedError::io("remove the stale chart", &stale, e))?;
            }
        }
    }
    Ok(())
}
