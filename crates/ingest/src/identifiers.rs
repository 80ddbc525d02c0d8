//! Columns that look like direct identifiers, for `clientele validate`'s warnings: by
//! their header (name, e-mail, phone, IBAN, card number, address, …) or by their first
//! values (e-mail addresses, IBANs, card numbers that pass the Luhn check, phone
//! numbers). A column the stage drops or pseudonymises is not reported. What is found is
//! named by column and kind only, never by value.

use std::path::Path;

use crate::error::IngestError;
use crate::params::{Format, IngestParams};
use crate::read::format_of;
use crate::text::{self, CsvSource, RawRecord, RecordSource};

/// How many records the value patterns look at.
const SAMPLE: usize = 200;

/// Header words of direct identifiers, compared on the lower-case name with `-`, ` ` and
/// `.` read as `_`.
const IDENTIFIER_NAMES: &[(&str, &str)] = &[
    ("name", "a name"),
    ("first_name", "a name"),
    ("firstname", "a name"),
    ("last_name", "a name"),
    ("lastname", "a name"),
    ("surname", "a name"),
    ("full_name", "a name"),
    ("customer_name", "a name"),
    ("email", "e-mail addresses"),
    ("e_mail", "e-mail addresses"),
    ("mail", "e-mail addresses"),
    ("phone", "phone numbers"),
    ("telephone", "phone numbers"),
    ("mobile", "phone numbers"),
    ("iban", "IBANs"),
    ("card_number", "card numbers"),
    ("pan", "card numbers"),
    ("address", "addresses"),
    ("street", "addresses"),
    ("ssn", "national identity numbers"),
    ("national_id", "national identity numbers"),
    ("passport", "passport numbers"),
    ("tax_id", "tax identifiers"),
];

/// `(column, what it looks like)` for each column of `source` that looks like a direct
/// identifier and that `params` neither drops nor pseudonymises. CSV sources only (the
/// others are written by systems that already chose their columns); `Ok(empty)` else.
pub fn identifier_columns(
    params: &IngestParams,
    source: &Path,
) -> Result<Vec<(String, &'static str)>, IngestError> {
    if format_of(params, source)? != Format::Csv || !source.is_file() {
        return Ok(Vec::new());
    }
    let (params, _) = text::resolve_delimiter(params, source)?;
    let params = &*params;
    let mut csv = CsvSource::open(source, params)?;
    let header = csv.header().to_vec();
    let mut matches = vec![[0usize; 4]; header.len()];
    let mut filled = vec![0usize; header.len()];
    let mut rec = RawRecord::default();
    let mut seen = 0;
    while seen < SAMPLE && csv.next_record(&mut rec)? {
        seen += 1;
        for (c, field) in rec.fields.iter().enumerate().take(header.len()) {
            let Ok(value) = std::str::from_utf8(field) else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() || text::is_null_marker(value, &params.null_markers) {
                continue;
            }
            filled[c] += 1;
            for (k, fits) in [is_email, is_iban, is_card_number, is_phone]
                .iter()
                .enumerate()
            {
                matches[c][k] += usize::from(fits(value));
            }
        }
    }
    let kinds = ["e-mail addresses", "IBANs", "card numbers", "phone numbers"];
    let handled = |name: &str| {
        params.drop.iter().any(|d| d == name) || params.pseudonymise.iter().any(|p| p == name)
    };
    let mut found = Vec::new();
    for (c, name) in header.iter().enumerate() {
        if handled(name) {
            continue;
        }
        let normal = name.to_lowercase().replace(['-', ' ', '.'], "_");
        let by_name = IDENTIFIER_NAMES
            .iter()
            .find(|(n, _)| *n == normal)
            .map(|(_, what)| *what);
        // Most of the sampled values fit one pattern.
        let by_value = (0..kinds.len())
            .find(|&k| filled[c] > 0 && matches[c][k] * 2 > filled[c])
            .map(|k| kinds[k]);
        if let Some(what) = by_value.or(by_name) {
            found.push((name.clone(), what));
        }
    }
    Ok(found)
}

fn is_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !v.contains(' ')
        }
        None => false,
    }
}

/// Two letters, two check digits, 11 to 30 letters and digits (spaces allowed), and the
/// ISO 13616 check: the number mod 97 is 1.
fn is_iban(v: &str) -> bool {
    let compact: Vec<u8> = v.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&compact.len())
        || !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
        || !compact.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let mut remainder = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b.to_ascii_uppercase() - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// 13 to 19 digits (spaces or dashes between groups) passing the Luhn check.
fn is_card_number(v: &str) -> bool {
    let digits: Vec<u32> = v
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .unwrap_or_default();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A leading `+`, `0` or `(`, then 8 to 15 digits with spaces, dashes, dots or brackets,
/// and not a number (`0.4285714285` is a score).
fn is_phone(v: &str) -> bool {
    let starts = v.starts_with('+') || v.starts_with('0') || v.starts_with('(');
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v
        .chars()
        .all(|c| c.is_ascii_digit() || " -.()+".contains(c));
    starts
        && allowed
        && (8..=15).contains(&digits)
        && v.chars().any(|c| !c.is_ascii_digit())
        && v.parse::<f64>().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_know_their_identifiers() {
        assert!(is_email("ana.silva@example.com"));
        assert!(!is_email("not an email"));
        assert!(is_iban("GB82 WEST 1234 5698 7654 32"));
        assert!(!is_iban("GB82 WEST 1234 5698 7654 33"), "bad check digits");
        assert!(is_card_number("4111 1111 1111 1111"));
        assert!(!is_card_number("4111 1111 1111 1112"));
        assert!(!is_card_number("12345"), "a balance is not a card number");
        assert!(is_phone("+44 20 7946 0958"));
        assert!(is_phone("020-7946-0958"));
        assert!(!is_phone("20260131"), "a date written as digits");
        assert!(!is_phone("2143"));
        assert!(!is_phone("0.4285714285"), "a score");
    }

    #[test]
    fn columns_found_by_name_or_values_unless_dropped_or_pseudonymised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        let mut text = String::from("customer_id;Full Name;contact;balance;iban\n");
        for i in 0..30 {
            text += &format!(
                "C{i};Person {i};p{i}@example.com;{}.5;GB82 WEST 1234 5698 7654 32\n",
                i * 100
            );
        }
        std::fs::write(&path, text).unwrap();
        let mut params = IngestParams::default();
        let found = identifier_columns(&params, &path).unwrap();
        assert_eq!(
            found,
            vec![
                ("Full Name".to_string(), "a name"),
                ("contact".to_string(), "e-mail addresses"),
                ("iban".to_string(), "IBANs"),
            ]
        );
        params.drop = vec!["Full Name".into(), "iban".into()];
        params.pseudonymise = vec!["contact".into()];
        assert!(identifier_columns(&params, &path).unwrap().is_empty());
    }
}
