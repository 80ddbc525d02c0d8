//! The parameters checked against each other and the ports before anything is read,
//! and the blend weights they resolve to.

use std::collections::BTreeMap;

use clientele_shared::stage::StageIo;

use crate::catalogue::rule_columns;
use crate::errors::{ParamError, RecommendError};
use crate::holdings::parse_date;
use crate::methods::Chosen;
use crate::params::{Method, ProductSpec, RecommendParams, SplitKind};

/// Checks the parameters against each other and the ports.
pub fn check_params(params: &RecommendParams, io: &StageIo) -> Result<(), RecommendError> {
    Ok(check(params, io)?)
}

fn check(params: &RecommendParams, io: &StageIo) -> Result<(), ParamError> {
    if params.top_k == 0 {
        return Err(ParamError::Zero { key: "top_k" });
    }
    if params.neighbours == 0 {
        return Err(ParamError::Zero { key: "neighbours" });
    }
    if params.propensity_min_positives == 0 {
        return Err(ParamError::Zero {
            key: "propensity_min_positives",
        });
    }
    if params.propensity_max_examples == 0 {
        return Err(ParamError::Zero {
            key: "propensity_max_examples",
        });
    }
    if params.reference_sample == 0 {
        return Err(ParamError::Zero {
            key: "reference_sample",
        });
    }
    for (key, value) in [
        ("holdout_fraction", params.holdout_fraction),
        ("validation_fraction", params.validation_fraction),
    ] {
        if !(value > 0.0 && value < 1.0) {
            return Err(ParamError::NotAFraction { key });
        }
    }
    if !(params.tune_step > 0.0 && params.tune_step <= 1.0) {
        return Err(ParamError::TuneStep);
    }
    if params.tune && params.tune_customers == 0 {
        return Err(ParamError::Zero {
            key: "tune_customers",
        });
    }
    if params.tune {
        let available = available_methods(
            io.input("assignments").is_some(),
            io.input("features").is_some(),
            params.methods.as_deref(),
        );
        let blended = resolve_weights(params, &available)
            .values()
            .filter(|w| **w > 0.0)
            .count();
        let points = grid_points(blended, params.tune_step);
        if points > MAX_TUNE_GRID {
            return Err(ParamError::TuneGrid {
                points,
                methods: blended,
            });
        }
    }
    for (key, value) in [
        ("snapshot", &params.snapshot),
        ("test_snapshot", &params.test_snapshot),
    ] {
        if let Some(text) = value {
            if parse_date(text).is_none() {
                return Err(ParamError::NotADate { key });
            }
        }
    }
    if !params.ages.is_empty()
        && (io.input("customers").is_none() || io.input("features").is_none())
    {
        return Err(ParamError::AgesWithoutCustomers);
    }
    if io.output("probabilities").is_some() && io.input("features").is_none() {
        return Err(ParamError::ProbabilitiesWithoutPropensity);
    }
    if params.test_snapshot.is_some() && params.split != SplitKind::Temporal {
        return Err(ParamError::TestSnapshotWithoutTemporal);
    }
    match (params.split, io.output("test")) {
        (SplitKind::None, Some(_)) => return Err(ParamError::TestOutputWithoutSplit),
        (SplitKind::Holdout | SplitKind::Temporal | SplitKind::Customers, None) => {
            return Err(ParamError::SplitWithoutTestOutput)
        }
        _ => {}
    }
    if io.input("catalogue").is_some() && params.products.is_some() {
        return Err(ParamError::TwoCatalogues);
    }
    if let Some(products) = &params.products {
        check_rules_have_inputs(products, io)?;
    }
    if let Some(methods) = &params.methods {
        for method in methods {
            if let Some(input) = method.needs() {
                if io.input(input).is_none() {
                    return Err(ParamError::MethodWithoutInput {
                        method: method.to_string(),
                        input,
                    });
                }
            }
        }
    }
    if let Some(weights) = &params.weights {
        for (method, w) in weights {
            if !Chosen::new(params.methods.as_deref()).has(*method) {
                return Err(ParamError::WeightOfUnlistedMethod {
                    method: method.to_string(),
                });
            }
            if !(w.is_finite() && *w >= 0.0) {
                return Err(ParamError::BadWeight {
                    method: method.to_string(),
                });
            }
            if *w > 0.0 {
                if let Some(input) = method.needs() {
                    if io.input(input).is_none() {
                        return Err(ParamError::WeightWithoutInput {
                            method: method.to_string(),
                            input,
                        });
                    }
                }
            }
        }
        if weights.values().all(|w| *w == 0.0) {
            return Err(ParamError::AllWeightsZero);
        }
    }
    Ok(())
}

/// A catalogue's rules need the inputs they read: the customer table for column rules,
/// the assignments for excluded segments.
pub(crate) fn check_rules_have_inputs(
    products: &[ProductSpec],
    io: &StageIo,
) -> Result<(), ParamError> {
    let columns = rule_columns(products);
    if !columns.is_empty() && io.input("customers").is_none() {
        return Err(ParamError::RulesWithoutCustomers {
            columns: columns.join(", "),
        });
    }
    if products.iter().any(|p| !p.excluded_segments.is_empty()) && io.input("assignments").is_none()
    {
        return Err(ParamError::ExclusionsWithoutAssignments);
    }
    Ok(())
}

/// The most weight vectors tuning tries: each is scored on every validation customer, so
/// a finer grid is hours of work (with seven methods, `tune_step = 0.01` is 1.6 billion).
pub const MAX_TUNE_GRID: u64 = 100_000;

/// How many weight vectors of `methods` weights in steps of `step` sum to 1: the
/// multisets of size `methods - 1` from `1/step + 1` values, saturating.
pub fn grid_points(methods: usize, step: f64) -> u64 {
    if methods == 0 {
        return 0;
    }
    let units = (1.0 / step).round().max(1.0) as u64;
    // C(units + methods - 1, methods - 1), one factor at a time; exact at each step.
    let mut points: u64 = 1;
    for i in 1..methods as u64 {
        // `units` saturates at u64::MAX for a step of 1e-300: every sum is checked too.
        points = match units.checked_add(i).and_then(|n| points.checked_mul(n)) {
            Some(p) => p / i,
            None => return u64::MAX,
        };
    }
    points
}

/// The methods the inputs allow, in [`Method`] order; of those, only `chosen` (and
/// `popularity`) when a choice is given.
pub fn available_methods(segments: bool, features: bool, chosen: Option<&[Method]>) -> Vec<Method> {
    let chosen = Chosen::new(chosen);
    Method::ALL
        .into_iter()
        .filter(|m| match m.needs() {
            Some("assignments") => segments,
            Some(_) => features,
            None => true,
        })
        .filter(|m| chosen.has(*m))
        .collect()
}

/// Each available method's weight: the configured one (0 when left out), else the
/// method's default.
pub fn resolve_weights(params: &RecommendParams, available: &[Method]) -> BTreeMap<Method, f64> {
    match &params.weights {
        Some(weights) => available
            .iter()
            .map(|m| (*m, weights.get(m).copied().unwrap_or(0.0)))
            .collect(),
        None => available.iter().map(|m| (*m, m.default_weight())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(inputs: &[&str], outputs: &[&str]) -> StageIo {
        StageIo::with_ports(inputs, outputs)
    }

    #[test]
    fn grid_points_count_the_weight_grid() {
        for (methods, step) in [(1, 0.1), (2, 0.1), (3, 0.5), (4, 0.1), (5, 0.25)] {
            assert_eq!(
                grid_points(methods, step),
                crate::blend::weight_grid(methods, step).len() as u64,
                "{methods} methods, step {step}"
            );
        }
        assert_eq!(grid_points(7, 0.01), 1_705_904_746);
        // A step so fine that the unit count saturates: the count saturates, no overflow.
        assert_eq!(grid_points(7, 1e-300), u64::MAX);
        let mut params = RecommendParams {
            tune: true,
            tune_step: 0.01,
            ..RecommendParams::default()
        };
        let ports = io(
            &["holdings", "assignments", "features"],
            &["recommendations"],
        );
        let err = check(&params, &ports).unwrap_err().to_string();
        assert!(err.contains("tune_step gives a grid of"), "{err}");
        params.tune_step = 0.1;
        assert!(check(&params, &ports).is_ok());
    }

    #[test]
    fn the_propensity_rules_name_their_keys() {
        let refused = |params: &RecommendParams, io: &StageIo| check(params, io).err();
        let params = RecommendParams::default();
        let plain = io(&["holdings"], &["recommendations"]);
        assert!(refused(&params, &plain).is_none());
        let asked = io(&["holdings"], &["recommendations", "probabilities"]);
        let e = refused(&params, &asked)
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("`probabilities`") && e.contains("`features`"),
            "{e}"
        );
        let with_features = io(
            &["holdings", "features"],
            &["recommendations", "probabilities"],
        );
        assert!(refused(&params, &with_features).is_none());
        let zero = RecommendParams {
            propensity_min_positives: 0,
            ..RecommendParams::default()
        };
        let e = refused(&zero, &plain)
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("propensity_min_positives"), "{e}");
        assert!(available_methods(false, true, None).contains(&Method::Propensity));
        let chosen = [Method::ItemKnn, Method::Propensity];
        assert_eq!(
            available_methods(true, true, Some(&chosen)),
            [Method::Popularity, Method::ItemKnn, Method::Propensity]
        );
        let set = Chosen::new(Some(&chosen));
        for m in Method::ALL {
            assert_eq!(
                set.has(m),
                m == Method::Popularity || chosen.contains(&m),
                "{m}"
            );
        }
        assert!(!available_methods(true, false, None).contains(&Method::Propensity));
    }
}
