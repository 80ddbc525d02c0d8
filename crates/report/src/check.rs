//! The parameters checked against the ports before anything is read.

use clientele_shared::stage::StageIo;

use crate::errors::{ParamError, ReportError};
use crate::ReportParams;

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
