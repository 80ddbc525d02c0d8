//! Reading what the page shows: the profiles and the publication drawn from them, the
//! metrics, and each published customer's group.

use std::collections::BTreeMap;
use std::path::Path;

use clientele_shared::encryption::ParquetKey;
use clientele_shared::schema::read_assignments;
use clientele_shared::stage::StageIo;

use crate::errors::ReportError;
use crate::inputs::{self, Metrics, Profiles};
use crate::publish::Publication;
use crate::ReportParams;

/// What every part of the page reads.
pub(crate) struct ReportInputs {
    pub(crate) profiles: Profiles,
    /// The groups the page may show (see [`crate::publish`]).
    pub(crate) publication: Publication,
    pub(crate) metrics: Option<Metrics>,
    /// Each published customer's `(segment, group)`, when assignments were given.
    pub(crate) group_of_customer: Option<BTreeMap<String, (i32, usize)>>,
}

/// Reads the profiles, the metrics and the assignments.
pub(crate) fn read_inputs(
    io: &StageIo,
    profiles_path: &Path,
    params: &ReportParams,
    key: Option<&ParquetKey>,
) -> Result<ReportInputs, ReportError> {
    let profiles = inputs::read_profiles(profiles_path)?;
    let publication = Publication::new(&profiles, params.min_segment_size);
    let metrics = io.input("metrics").map(inputs::read_metrics).transpose()?;
    let assignments = match io.input("assignments") {
        Some(path) => Some(read_assignments(path, key)?),
        None => None,
    };
    // Each customer's group (published customers only).
    let group_of_customer: Option<BTreeMap<String, (i32, usize)>> =
        assignments.as_ref().map(|rows| {
            rows.iter()
                .filter_map(|(id, s)| publication.group_of(*s).map(|g| (id.clone(), (*s, g))))
                .collect()
        });
    Ok(ReportInputs {
        profiles,
        publication,
        metrics,
        group_of_customer,
    })
}
