//! Reasons in the units of the source columns: a numeric feature is named by the band
//! its customer's original value falls in ("income 41,000–58,000", "age under 25"),
//! not by its scaled value. A feature's bands are its quintiles over the customers with
//! features, turned back into the source column's units by the feature's origin (the
//! preprocess stage's transform, centre and scale) and rounded to two significant
//! digits, so that a relationship manager reads round numbers.

use clientele_shared::schema::Unscale;

use crate::content::CustomerFeatures;

/// Customers read for a feature's quintiles at most: beyond this, every `n / MOST`-th.
const MOST_ROWS: usize = 100_000;

/// One numeric feature's bands.
#[derive(Debug, Clone)]
pub struct Bands {
    /// The source column, in words.
    source: String,
    unscale: Unscale,
    /// The band edges in the source column's units, ascending, distinct.
    edges: Vec<f64>,
}

impl Bands {
    /// The bands of feature `j`, when its origin is known and its values spread.
    pub fn fit(features: &CustomerFeatures, j: usize) -> Option<Bands> {
        let unscale = features.unscale.get(j).copied().flatten()?;
        let d = features.d;
        let rows = features.values.len() / d.max(1);
        if rows == 0 {
            return None;
        }
        let step = rows.div_ceil(MOST_ROWS);
        let mut values: Vec<f64> = (0..rows)
            .step_by(step)
            .map(|r| features.values[r * d + j])
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            return None;
        }
        let mut edges = Vec::with_capacity(4);
        for fifth in 1..5 {
            let at = (fifth * values.len() / 5).min(values.len() - 1);
            let (_, q, _) = values.select_nth_unstable_by(at, f64::total_cmp);
            let edge = round_significant(unscale.original(*q));
            if edge.is_finite() && edges.last().is_none_or(|&last| edge > last) {
                edges.push(edge);
            }
        }
        let name = features.names.get(j)?;
        let source = name.split("__").next().unwrap_or(name).replace('_', " ");
        (!edges.is_empty()).then_some(Bands {
            source,
            unscale,
            edges,
        })
    }

    /// The band of a customer's scaled value, in words.
    pub fn describe(&self, value: f64) -> String {
        let original = self.unscale.original(value);
        let at = self.edges.partition_point(|&e| e <= original);
        let source = &self.source;
        match at {
            0 => format!("{source} under {}", format_number(self.edges[0])),
            n if n == self.edges.len() => {
                format!("{source} {} or more", format_number(self.edges[n - 1]))
            }
            n => format!(
                "{source} {}–{}",
                format_number(self.edges[n - 1]),
                format_number(self.edges[n])
            ),
        }
    }
}

/// `v` rounded to two significant digits.
fn round_significant(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let exponent = v.abs().log10().floor() as i32 - 1;
    // Dividing by a power of ten, not multiplying by its inverse, which is inexact.
    if exponent >= 0 {
        let unit = 10f64.powi(exponent);
        (v / unit).round() * unit
    } else {
        let per_unit = 10f64.powi(-exponent);
        (v * per_unit).round() / per_unit
    }
}

/// A rounded number as people write it: thousands grouped, no trailing digits.
fn format_number(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        return if v < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        };
    }
    // Two significant digits need this many decimals.
    let decimals = if v == 0.0 {
        0
    } else {
        (1 - v.abs().log10().floor() as i32).max(0) as usize
    };
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use clientele_shared::schema::Transform;

    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(round_significant(41_234.0), 41_000.0);
        assert_eq!(round_significant(0.3456), 0.35);
        assert_eq!(round_significant(-1_549.0), -1_500.0);
        assert_eq!(format_number(41_000.0), "41,000");
        assert_eq!(format_number(1_200_000.0), "1,200,000");
        assert_eq!(format_number(-1_500.0), "-1,500");
        assert_eq!(format_number(25.0), "25");
        assert_eq!(format_number(round_significant(0.3456)), "0.35");
        assert_eq!(format_number(0.0), "0");
    }

    #[test]
    fn a_customer_is_named_by_the_band_of_the_original_value() {
        // Ages 18..=77 standardised around 47.5 with scale 17.3; incomes log1p'd.
        let ages: Vec<f64> = (18..78).map(|a| a as f64).collect();
        let age = Unscale {
            transform: Transform::None,
            center: 47.5,
            scale: 17.3,
        };
        let income = Unscale {
            transform: Transform::Log1p,
            center: 10.5,
            scale: 0.5,
        };
        let incomes: Vec<f64> = (0..60).map(|i| 20_000.0 + 1_000.0 * i as f64).collect();
        let values: Vec<f64> = ages
            .iter()
            .zip(&incomes)
            .flat_map(|(&a, &m)| [(a - 47.5) / 17.3, (m.ln_1p() - 10.5) / 0.5])
            .collect();
        let features = CustomerFeatures {
            d: 3,
            names: vec![
                "age__standard".into(),
                "income__log1p__standard".into(),
                "region=north".into(),
            ],
            unscale: vec![Some(age), Some(income), None],
            values: values
                .chunks(2)
                .flat_map(|pair| [pair[0], pair[1], 1.0])
                .collect(),
            row_of: (0..60).map(Some).collect(),
            panel: None,
        };
        let bands = Bands::fit(&features, 0).unwrap();
        // Quintiles of 18..=77: 30, 42, 54, 66.
        assert_eq!(bands.edges, vec![30.0, 42.0, 54.0, 66.0]);
        assert_eq!(bands.describe((25.0 - 47.5) / 17.3), "age under 30");
        assert_eq!(bands.describe((30.0 - 47.5) / 17.3), "age 30–42");
        assert_eq!(bands.describe((70.0 - 47.5) / 17.3), "age 66 or more");
        let bands = Bands::fit(&features, 1).unwrap();
        assert_eq!(bands.edges, vec![32_000.0, 44_000.0, 56_000.0, 68_000.0]);
        let scaled = |m: f64| (m.ln_1p() - 10.5) / 0.5;
        assert_eq!(bands.describe(scaled(50_000.0)), "income 44,000–56,000");
        assert!(
            Bands::fit(&features, 2).is_none(),
            "a one-hot column has no units"
        );
    }
}
