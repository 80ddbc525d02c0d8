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
//! [`Report::run`] reads (`read`), draws the figures (`figures`), builds the page around
//! them (`page`) and writes it (`write`).
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
mod check;
mod errors;
mod figures;
pub mod html;
mod inputs;
mod page;
pub mod params;
pub mod pca;
pub mod publish;
mod read;
mod write;

use std::collections::BTreeMap;

use clientele_shared::stage::{Port, Stage, StageContext, StageIo, StageReport};

pub use check::check_params;
pub use errors::{ParamError, ReportError};
pub use params::ReportParams;

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
    // 2: the table of propensity's lift over popularity by segment.
    const ALGORITHM_VERSION: u32 = 2;
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
        let read = read::read_inputs(io, profiles_path, params, ctx.parquet_key)?;
        let (figures, notes) = figures::draw_figures(io, &read, params, ctx)?;
        let page = page::build_page(io, &read, figures, params, ctx)?;
        let publication = &read.publication;

        write::write_outputs(io, report_path, &page)?;

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
