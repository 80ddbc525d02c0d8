//! The parameters checked against each other and the ports before anything is read.

use clientele_shared::stage::StageIo;

use crate::errors::{EvaluateError, ParamError};
use crate::EvaluateParams;

/// Checks the parameters against each other and the ports.
pub fn check_params(params: &EvaluateParams, io: &StageIo) -> Result<(), EvaluateError> {
    Ok(check(params, io)?)
}

fn check(params: &EvaluateParams, io: &StageIo) -> Result<(), ParamError> {
    if params.k.is_empty() || params.k.contains(&0) {
        return Err(ParamError::CutOffs);
    }
    if params.silhouette_sample < 2 {
        return Err(ParamError::SilhouetteSample);
    }
    let recs = io.input("recommendations").is_some() || io.input("by_method").is_some();
    if recs != io.input("test").is_some() {
        return Err(ParamError::ListsWithoutTest);
    }
    if io.input("features").is_some() && io.input("assignments").is_none() {
        return Err(ParamError::FeaturesWithoutAssignments);
    }
    if io.input("assignments_rerun").is_some() && io.input("assignments").is_none() {
        return Err(ParamError::RerunWithoutAssignments);
    }
    if let Some(g) = &params.gate {
        if let Some(drop) = g.max_drop {
            if !(drop.is_finite() && drop >= 0.0) {
                return Err(ParamError::MaxDrop);
            }
            if io.input("baseline").is_none() {
                return Err(ParamError::MaxDropWithoutBaseline);
            }
        }
        if g.min.is_empty() && g.max.is_empty() && g.max_drop.is_none() {
            return Err(ParamError::EmptyGate);
        }
    } else if io.input("baseline").is_some() {
        return Err(ParamError::BaselineWithoutGate);
    }
    Ok(())
}
