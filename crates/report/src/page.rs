//! The page around the figures: a card per published group, the summary, the privacy
//! lines, the gate's line and the metrics tables.

use std::collections::BTreeMap;

use clientele_shared::stage::{StageContext, StageIo};

use crate::charts;
use crate::errors::ReportError;
use crate::figures::{metric_key, readable_feature};
use crate::html::{self, Card, Figure, Page, Row, Table};
use crate::inputs::{self, Metrics, Profiles};
use crate::publish::{Group, GroupKind, Publication};
use crate::read::ReportInputs;
use crate::ReportParams;

/// The page: the figures, and around them the cards, summary, privacy lines, gate and
/// tables.
pub(crate) fn build_page(
    io: &StageIo,
    read: &ReportInputs,
    figures: Vec<Figure>,
    params: &ReportParams,
    ctx: &StageContext<'_>,
) -> Result<Page, ReportError> {
    let ReportInputs {
        profiles,
        publication,
        metrics,
        group_of_customer,
    } = read;
    let recommended = match (io.input("recommendations"), &group_of_customer) {
        (Some(path), Some(groups)) => {
            ctx.progress.step("recommendations per segment");
            Some(recommended_per_group(
                &inputs::read_recommendations(path, ctx.parquet_key)?,
                groups,
                publication.groups.len(),
            ))
        }
        _ => None,
    };

    let cards = cards(
        profiles,
        publication,
        recommended.as_ref(),
        metrics.as_ref(),
        params,
    );
    Ok(Page {
        title: params.title.clone(),
        summary: summary(profiles, publication, metrics.as_ref()),
        privacy: privacy_lines(publication),
        cards,
        tables: metrics
            .as_ref()
            .map(|m| {
                let mut out = tables(m);
                out.extend(lift_table(&publication.groups, m));
                out
            })
            .unwrap_or_default(),
        gate: metrics.as_ref().and_then(gate_line),
        figures,
        footer: format!(
            "Made by clientele {} (stage `{}`). Every chart is embedded; the charts \
             directory of the run holds each as PNG and SVG.",
            env!("CARGO_PKG_VERSION"),
            ctx.stage
        ),
    })
}

/// For each group: how many of its customers were recommended each product.
pub(crate) fn recommended_per_group(
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

pub(crate) fn describe_feature(f: &inputs::FeatureProfile) -> String {
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

pub(crate) fn cards(
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

pub(crate) fn summary(
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

pub(crate) fn privacy_lines(publication: &Publication) -> Vec<String> {
    let mut lines = publication.notes.clone();
    if !lines.is_empty() {
        lines.push(format!(
            "No chart, card or table on this page describes fewer than {} customers.",
            publication.min_segment_size
        ));
    }
    lines
}

pub(crate) fn gate_line(metrics: &Metrics) -> Option<String> {
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
pub(crate) fn tables(metrics: &Metrics) -> Vec<Table> {
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
        // The share of the customers with something held out that each list reached: a
        // list that recommends to few of them is scored 0 for the others.
        let reached = |list: &String| {
            let counted = ranking.customers_counted.get(list)?;
            let of = ranking.customers_with_held_out_products;
            (of > 0).then(|| *counted as f64 / of as f64)
        };
        let mut rows: Vec<Row> = ranking
            .lists
            .iter()
            .map(|list| Row {
                name: list.clone(),
                cells: names
                    .iter()
                    .map(|name| metrics.metrics.get(&metric_key(list, name, k)).copied())
                    .chain(std::iter::once(reached(list)))
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
                        .map(|c| format!("{c}@{k}"))
                        .chain(std::iter::once("customers reached".to_string())),
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

/// Propensity's MAP against popularity's in each published segment, at the largest k:
/// where the propensity models add to the plain baseline, and where they do not. Only
/// segments shown on their own (never the pooled small ones), and only when both lists
/// were scored per segment.
pub(crate) fn lift_table(groups: &[Group], metrics: &Metrics) -> Option<Table> {
    let k = metrics.k.iter().copied().max()?;
    let map = |prefix: &str, list: &str| {
        metrics
            .metrics
            .get(&format!("{prefix}{list}.map_at_{k}"))
            .copied()
    };
    let row = |name: String, prefix: &str| {
        let (propensity, popularity) = (map(prefix, "propensity")?, map(prefix, "popularity")?);
        let lift = (popularity > 0.0).then(|| propensity / popularity);
        Some(Row {
            name,
            cells: vec![Some(propensity), Some(popularity), lift],
        })
    };
    let mut rows: Vec<Row> = groups
        .iter()
        .filter_map(|group| match group.kind {
            GroupKind::Segment(s) => row(group.name.clone(), &format!("segment.{s}.")),
            GroupKind::Noise | GroupKind::Other => None,
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.extend(row("all customers".to_string(), ""));
    Some(Table {
        caption: format!(
            "Propensity against popularity at k = {k}, by segment: MAP@{k} of each, and the lift (propensity ÷ popularity)"
        ),
        columns: vec![
            "segment".to_string(),
            format!("propensity MAP@{k}"),
            format!("popularity MAP@{k}"),
            "lift".to_string(),
        ],
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lift_table_has_the_published_segments_and_everyone() {
        let m = metrics(
            r#"{"k": [3, 5], "metrics": {
                "propensity.map_at_5": 0.5, "popularity.map_at_5": 0.4,
                "segment.0.propensity.map_at_5": 0.6, "segment.0.popularity.map_at_5": 0.3,
                "segment.1.propensity.map_at_5": 0.2, "segment.1.popularity.map_at_5": 0.0,
                "segment.2.propensity.map_at_5": 0.9, "segment.2.popularity.map_at_5": 0.1,
                "segment.0.propensity.map_at_3": 0.1, "segment.0.popularity.map_at_3": 0.1}}"#,
        );
        let group = |kind, name: &str, segments: Vec<i32>| Group {
            kind,
            name: name.to_string(),
            size: 100,
            segments,
        };
        // Segment 2 is small: pooled into "other", never shown on its own.
        let groups = [
            group(GroupKind::Segment(0), "young savers", vec![0]),
            group(GroupKind::Segment(1), "retired", vec![1]),
            group(GroupKind::Other, "other", vec![2]),
        ];
        let table = lift_table(&groups, &m).unwrap();
        assert!(table.caption.contains("k = 5"));
        let names: Vec<&str> = table.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["young savers", "retired", "all customers"]);
        assert_eq!(table.rows[0].cells, [Some(0.6), Some(0.3), Some(2.0)]);
        assert_eq!(table.rows[1].cells, [Some(0.2), Some(0.0), None]);
        assert_eq!(table.rows[2].cells[2], Some(0.5 / 0.4));
        // Without propensity scored per segment there is no table.
        let plain = metrics(r#"{"k": [5], "metrics": {"map_at_5": 0.4}}"#);
        assert!(lift_table(&groups, &plain).is_none());
    }

    fn metrics(json: &str) -> Metrics {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_failed_gate_names_each_failed_check_with_its_figures() {
        let m = metrics(
            r#"{"metrics": {}, "gate": {"passed": false, "checks": [
                {"metric": "map_at_5", "rule": ">= 0.3", "now": 0.25, "passed": false},
                {"metric": "recall_at_5", "rule": "no drop > 0.01", "baseline": 0.5, "now": 0.4, "passed": false},
                {"metric": "ndcg_at_5", "rule": ">= 0.1", "now": 0.2, "passed": true}]}}"#,
        );
        let line = gate_line(&m).unwrap();
        assert!(line.contains("failed"), "{line}");
        assert!(line.contains("map_at_5 (&gt;= 0.3, now 0.2500)"), "{line}");
        assert!(line.contains("baseline 0.5000, now 0.4000"), "{line}");
        assert!(!line.contains("ndcg"), "{line}");
        let passed = metrics(
            r#"{"metrics": {}, "gate": {"passed": true, "checks": [
            {"metric": "map_at_5", "rule": ">= 0.3", "passed": true}]}}"#,
        );
        assert!(gate_line(&passed)
            .unwrap()
            .contains("passed</span> (1 checks)"));
        assert_eq!(gate_line(&metrics(r#"{"metrics": {}}"#)), None);
    }

    #[test]
    fn the_ranking_table_is_at_the_largest_k_with_the_blend_first() {
        let m = metrics(
            r#"{"k": [3, 5], "metrics": {"map_at_5": 0.4, "popularity.map_at_5": 0.3,
                "map_at_3": 0.9, "silhouette": 0.25},
                "ranking": {"lists": ["popularity", "blend"],
                    "customers_with_held_out_products": 10,
                    "customers_counted": {"blend": 10, "popularity": 4}}}"#,
        );
        let tables = tables(&m);
        assert_eq!(tables.len(), 2);
        let ranking = &tables[0];
        assert!(ranking.caption.contains("k = 5"));
        assert_eq!(ranking.rows[0].name, "blend");
        assert_eq!(ranking.rows[0].cells[3], Some(0.4));
        assert_eq!(ranking.rows[1].cells[3], Some(0.3));
        assert_eq!(
            ranking.rows[1].cells[0], None,
            "a metric not in the file is blank"
        );
        assert_eq!(ranking.rows[0].cells[7], Some(1.0));
        assert_eq!(ranking.rows[1].cells[7], Some(0.4));
        assert_eq!(
            ranking.columns.last().map(String::as_str),
            Some("customers reached")
        );
        assert_eq!(tables[1].rows[0].cells, [Some(0.25)]);
    }
}
