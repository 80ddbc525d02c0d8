//! The parameters checked against each other and the ports before anything is read.

use clientele_shared::stage::StageIo;

use crate::errors::{ParamError, SegmentError};
use crate::{Algorithm, Auto, Mode, SegmentParams};

/// The most segments a fit may make: past it a segmentation describes no group one can
/// act on, and the k sweep's memory (a centre per segment per restart) grows with it.
pub const MAX_SEGMENTS: usize = 1000;
/// The most restarts, and Lloyd passes per restart: each is a pass over the data.
pub const MAX_RESTARTS: usize = 1000;
pub const MAX_PASSES: usize = 100_000;

/// Checks the parameters against each other and the ports.
pub fn check_params(params: &SegmentParams, io: &StageIo) -> Result<(), SegmentError> {
    Ok(check(params, io)?)
}

fn check(params: &SegmentParams, io: &StageIo) -> Result<(), ParamError> {
    match params.mode {
        Mode::Apply if io.input("model").is_none() => return Err(ParamError::ApplyWithoutModel),
        Mode::Apply if io.output("model").is_some() || io.output("sweep").is_some() => {
            return Err(ParamError::ApplyWritesNoModel)
        }
        Mode::Fit if io.input("model").is_some() => return Err(ParamError::ModelInputWithoutApply),
        _ => {}
    }
    if params.mode == Mode::Fit
        && params.algorithm == Algorithm::Dbscan
        && io.output("sweep").is_some()
    {
        return Err(ParamError::DbscanWritesNoSweep);
    }
    if params.k_min < 2 || params.k_min > params.k_max {
        return Err(ParamError::KRange);
    }
    let at_most = |key: &'static str, value: usize, most: usize, why: &'static str| {
        (value > most).then_some(ParamError::TooLarge { key, most, why })
    };
    let fixed_k = match params.k {
        Auto::Value(k) => k,
        Auto::Auto => 0,
    };
    let limits = [
        ("k", fixed_k, MAX_SEGMENTS, "segments for people to act on"),
        (
            "k_max",
            params.k_max,
            MAX_SEGMENTS,
            "segments for people to act on",
        ),
        (
            "n_init",
            params.n_init,
            MAX_RESTARTS,
            "each restart is a fit",
        ),
        (
            "max_iter",
            params.max_iter,
            MAX_PASSES,
            "each is a pass over the data",
        ),
    ];
    if let Some(e) = limits
        .iter()
        .find_map(|&(k, v, most, why)| at_most(k, v, most, why))
    {
        return Err(e);
    }
    let at_least = |key: &'static str, value: usize, least: usize| {
        (value < least).then_some(ParamError::TooSmall { key, least })
    };
    let counts = [
        ("n_init", params.n_init, 1),
        ("max_iter", params.max_iter, 1),
        ("min_samples", params.min_samples, 1),
        ("silhouette_sample", params.silhouette_sample, 2),
    ];
    if let Some(e) = counts.iter().find_map(|&(k, v, l)| at_least(k, v, l)) {
        return Err(e);
    }
    if !(params.tol >= 0.0 && params.tol.is_finite()) {
        return Err(ParamError::Tolerance);
    }
    if let Some(e) = params.fit_sample.and_then(|m| at_least("fit_sample", m, 2)) {
        return Err(e);
    }
    if params.mode == Mode::Apply && params.fit_sample.is_some() {
        return Err(ParamError::FitSampleInApply);
    }
    if let Some(e) = params.batch_size.and_then(|b| at_least("batch_size", b, 1)) {
        return Err(e);
    }
    if params.batch_size.is_some()
        && (params.mode == Mode::Apply || params.algorithm != Algorithm::Kmeans)
    {
        return Err(ParamError::BatchSizeNotKMeansFit);
    }
    if let Some(key) = params.labels.keys().find(|k| k.parse::<i32>().is_err()) {
        return Err(ParamError::LabelNotASegment { key: key.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(inputs: &[&str], outputs: &[&str]) -> StageIo {
        StageIo::with_ports(inputs, outputs)
    }

    fn refused(params: SegmentParams, io: &StageIo) -> Option<ParamError> {
        check(&params, io).err()
    }

    #[test]
    fn each_rule_is_its_own_error_naming_its_key() {
        let fit = io(&["features"], &["assignments"]);
        assert_eq!(refused(SegmentParams::default(), &fit), None);
        let apply = SegmentParams {
            mode: Mode::Apply,
            ..SegmentParams::default()
        };
        assert_eq!(
            refused(apply.clone(), &fit),
            Some(ParamError::ApplyWithoutModel)
        );
        let with_model = io(&["features", "model"], &["assignments", "sweep"]);
        assert_eq!(
            refused(apply, &with_model),
            Some(ParamError::ApplyWritesNoModel)
        );
        let small_sample = SegmentParams {
            silhouette_sample: 1,
            ..SegmentParams::default()
        };
        let e = refused(small_sample, &fit);
        assert_eq!(
            e.as_ref().map(ToString::to_string).as_deref(),
            Some("silhouette_sample must be at least 2")
        );
        let zero_batch = SegmentParams {
            batch_size: Some(0),
            ..SegmentParams::default()
        };
        assert_eq!(
            refused(zero_batch, &fit),
            Some(ParamError::TooSmall {
                key: "batch_size",
                least: 1
            })
        );
        let mut bad_label = SegmentParams::default();
        bad_label.labels.insert("first".into(), "Savers".into());
        assert_eq!(
            refused(bad_label, &fit),
            Some(ParamError::LabelNotASegment {
                key: "first".into()
            })
        );
    }
}
