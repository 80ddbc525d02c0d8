//! The report stage's `[stage.params]`.

use serde::{Deserialize, Serialize};

use crate::errors::ParamError;

/// What the report shows and how much of the data it draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportParams {
    /// The page's heading.
    pub title: String,
    /// Customers drawn in the silhouette analysis and the two-dimensional projection
    /// (a seeded sample when there are more). Silhouettes cost O(n²), and a scatter of
    /// millions of points is a grey cloud.
    pub sample: usize,
    /// The publication threshold: a segment of fewer customers is never described on its
    /// own. Such segments are merged into "other", which is itself suppressed when it is
    /// still smaller than this.
    pub min_segment_size: usize,
    /// Distinguishing features shown on a segment's card.
    pub card_features: usize,
    /// Most recommended products shown on a segment's card.
    pub card_products: usize,
    /// Rows of the profile heatmap: the features whose standardised difference is
    /// largest in some segment.
    pub heatmap_features: usize,
}

impl Default for ReportParams {
    fn default() -> Self {
        ReportParams {
            title: "Customer segments and recommendations".to_string(),
            sample: 5000,
            min_segment_size: 10,
            card_features: 3,
            card_products: 3,
            heatmap_features: 20,
        }
    }
}

impl ReportParams {
    /// Checks what serde cannot: the message names the key.
    pub fn check(&self) -> Result<(), ParamError> {
        if self.sample < 2 {
            return Err(ParamError::Sample(self.sample));
        }
        if self.min_segment_size == 0 {
            return Err(ParamError::MinSegmentSize);
        }
        if self.heatmap_features == 0 {
            return Err(ParamError::HeatmapFeatures);
        }
        Ok(())
    }
}
