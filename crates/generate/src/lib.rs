//! Deterministic synthetic bank data: customers, product holdings over monthly
//! snapshots (six by default), and the product catalogue.
//!
//! Customers are drawn from a handful of latent types (young digital, family with a
//! mortgage, affluent investor, retired saver, small business, credit-reliant). A type
//! shapes both the customer's behaviour (age, income, balances, spending, digital use)
//! and which products the customer holds at first. Each month after, a customer takes up
//! products at a rate set by their type, life stage and income and by what they already
//! hold (a mortgage leads to home and life insurance, a payroll account to a credit
//! card, a business account to a card terminal, securities to funds), and drops a few:
//! so that segmentation and recommendation, and a propensity model learning from the
//! month-to-month transitions, have real structure to find. The data has what real extracts have:
//! missing values, heavy-tailed money amounts, a few outliers, and direct identifiers
//! (name, e-mail) for the privacy work to remove. Names and e-mails are invented and use
//! the reserved `example.com` domain.
//!
//! The same seed always gives the same bytes: one ChaCha8 stream (whose output is fixed
//! by its specification), consumed in a fixed order. This crate does not read data or
//! run stages.

#![forbid(unsafe_code)]

use std::path::Path;

use clientele_shared::atomic::AtomicFile;
use clientele_shared::SharedError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Shared(#[from] SharedError),
    #[error("cannot write `{path}`: {source}")]
    Csv {
        path: std::path::PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("--customers must be at least 1")]
    NoCustomers,
    #[error("--snapshots must be between 2 and {max} (monthly, ending {last})", max = ALL_SNAPSHOTS.len(), last = ALL_SNAPSHOTS[ALL_SNAPSHOTS.len() - 1])]
    Snapshots,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub customers: usize,
    pub seed: u64,
    /// Monthly holdings snapshots, the last at 2026-10-31.
    pub snapshots: usize,
}

/// The default number of monthly snapshots.
pub const DEFAULT_SNAPSHOTS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub customers: usize,
    pub holdings: usize,
    pub products: usize,
}

/// The month ends a generated holdings table may have, oldest first; `--snapshots N`
/// takes the last N.
pub const ALL_SNAPSHOTS: [&str; 12] = [
    "2025-11-30",
    "2025-12-31",
    "2026-01-31",
    "2026-02-28",
    "2026-03-31",
    "2026-04-30",
    "2026-05-31",
    "2026-06-30",
    "2026-07-31",
    "2026-08-31",
    "2026-09-30",
    "2026-10-31",
];

/// The snapshot dates of `count` monthly extracts, oldest first.
pub fn snapshot_dates(count: usize) -> &'static [&'static str] {
    &ALL_SNAPSHOTS[ALL_SNAPSHOTS.len() - count.min(ALL_SNAPSHOTS.len())..]
}

/// (id, name, category, minimum age, minimum annual income)
pub const PRODUCTS: [(&str, &str, &str, u32, u32); 20] = [
    ("current_account", "Current account", "everyday", 16, 0),
    ("debit_card", "Debit card", "everyday", 16, 0),
    ("e_banking", "Online banking", "digital", 16, 0),
    ("mobile_banking", "Mobile banking app", "digital", 16, 0),
    ("savings_account", "Savings account", "savings", 16, 0),
    ("term_deposit", "Term deposit", "savings", 18, 0),
    ("credit_card", "Credit card", "credit", 18, 12_000),
    ("premium_card", "Premium credit card", "credit", 21, 60_000),
    ("overdraft", "Arranged overdraft", "credit", 18, 10_000),
    ("personal_loan", "Personal loan", "credit", 18, 15_000),
    ("car_loan", "Car loan", "credit", 18, 18_000),
    ("mortgage", "Mortgage", "credit", 21, 25_000),
    ("payroll_account", "Payroll account", "everyday", 18, 0),
    ("pension_plan", "Pension plan", "investment", 18, 0),
    (
        "securities_account",
        "Securities account",
        "investment",
        18,
        0,
    ),
    ("investment_funds", "Investment funds", "investment", 18, 0),
    ("life_insurance", "Life insurance", "insurance", 18, 0),
    ("home_insurance", "Home insurance", "insurance", 18, 0),
    ("business_account", "Business account", "business", 18, 0),
    ("pos_terminal", "Card payment terminal", "business", 18, 0),
];

// Indices into `PRODUCTS`, for the take-up rules.
const CURRENT_ACCOUNT: usize = 0;
const DEBIT_CARD: usize = 1;
const E_BANKING: usize = 2;
const MOBILE_BANKING: usize = 3;
const SAVINGS_ACCOUNT: usize = 4;
const TERM_DEPOSIT: usize = 5;
const CREDIT_CARD: usize = 6;
const PREMIUM_CARD: usize = 7;
const OVERDRAFT: usize = 8;
const MORTGAGE: usize = 11;
const PAYROLL_ACCOUNT: usize = 12;
const PENSION_PLAN: usize = 13;
const SECURITIES: usize = 14;
const FUNDS: usize = 15;
const LIFE_INSURANCE: usize = 16;
const HOME_INSURANCE: usize = 17;
const BUSINESS_ACCOUNT: usize = 18;
const POS_TERMINAL: usize = 19;

/// A latent customer type: how its members look and what they hold.
struct CustomerType {
    share: f64,
    age: (f64, f64, u32, u32),
    /// Median annual income and log-normal sigma.
    income: (f64, f64),
    digital: f64,
    travel: f64,
    cash: f64,
    /// Probability of holding each product (in `PRODUCTS` order) in the first snapshot.
    holds: [f64; 20],
}

const TYPES: [CustomerType; 6] = [
    // young digital
    CustomerType {
        share: 0.24,
        age: (26.0, 4.0, 18, 40),
        income: (24_000.0, 0.35),
        digital: 24.0,
        travel: 0.8,
        cash: 0.3,
        holds: [
            0.97, 0.92, 0.70, 0.90, 0.45, 0.05, 0.35, 0.02, 0.20, 0.10, 0.05, 0.02, 0.40, 0.08,
            0.05, 0.06, 0.05, 0.03, 0.02, 0.01,
        ],
    },
    // family with a mortgage
    CustomerType {
        share: 0.22,
        age: (39.0, 6.0, 25, 60),
        income: (52_000.0, 0.30),
        digital: 12.0,
        travel: 1.0,
        cash: 0.6,
        holds: [
            0.99, 0.90, 0.75, 0.60, 0.65, 0.15, 0.70, 0.10, 0.30, 0.25, 0.30, 0.85, 0.80, 0.35,
            0.10, 0.15, 0.70, 0.80, 0.04, 0.02,
        ],
    },
    // affluent investor
    CustomerType {
        share: 0.12,
        age: (54.0, 8.0, 30, 80),
        income: (115_000.0, 0.45),
        digital: 10.0,
        travel: 3.0,
        cash: 0.4,
        holds: [
            0.99, 0.85, 0.80, 0.50, 0.85, 0.55, 0.60, 0.65, 0.05, 0.05, 0.15, 0.35, 0.55, 0.75,
            0.80, 0.75, 0.50, 0.55, 0.08, 0.03,
        ],
    },
    // retired saver
    CustomerType {
        share: 0.18,
        age: (72.0, 6.0, 60, 95),
        income: (21_000.0, 0.30),
        digital: 2.0,
        travel: 0.5,
        cash: 1.6,
        holds: [
            0.98, 0.70, 0.20, 0.08, 0.85, 0.60, 0.15, 0.03, 0.05, 0.03, 0.02, 0.05, 0.10, 0.30,
            0.15, 0.20, 0.30, 0.45, 0.01, 0.00,
        ],
    },
    // small business owner
    CustomerType {
        share: 0.10,
        age: (46.0, 9.0, 22, 75),
        income: (68_000.0, 0.55),
        digital: 16.0,
        travel: 1.5,
        cash: 1.0,
        holds: [
            0.99, 0.85, 0.85, 0.70, 0.50, 0.20, 0.60, 0.20, 0.55, 0.30, 0.20, 0.30, 0.15, 0.30,
            0.20, 0.15, 0.35, 0.40, 0.92, 0.75,
        ],
    },
    // credit-reliant
    CustomerType {
        share: 0.14,
        age: (35.0, 8.0, 19, 70),
        income: (27_000.0, 0.30),
        digital: 9.0,
        travel: 0.4,
        cash: 2.2,
        holds: [
            0.99, 0.92, 0.45, 0.45, 0.15, 0.02, 0.85, 0.02, 0.80, 0.65, 0.35, 0.08, 0.55, 0.05,
            0.01, 0.02, 0.10, 0.10, 0.02, 0.01,
        ],
    },
];

const REGIONS: [&str; 8] = [
    "north",
    "north_east",
    "east",
    "south_east",
    "south",
    "south_west",
    "west",
    "capital",
];
const JOBS: [&str; 10] = [
    "admin",
    "technician",
    "services",
    "management",
    "retired",
    "self_employed",
    "student",
    "blue_collar",
    "unemployed",
    "entrepreneur",
];
const MARITAL: [&str; 3] = ["single", "married", "divorced"];
const FIRST: [&str; 24] = [
    "Alex", "Maria", "Jonas", "Sofia", "Liam", "Emma", "Noah", "Olivia", "Lucas", "Mia", "Elias",
    "Lea", "Hugo", "Ines", "Marta", "Pablo", "Nora", "Omar", "Aylin", "Jan", "Eva", "Tomas", "Zoe",
    "Ivan",
];
const LAST: [&str; 24] = [
    "Silva", "Novak", "Meyer", "Rossi", "Garcia", "Jensen", "Kowalski", "Dubois", "Larsen",
    "Costa", "Fischer", "Moreau", "Horvat", "Nielsen", "Santos", "Weber", "Bianchi", "Popescu",
    "Ortiz", "Keller", "Vidal", "Berg", "Marino", "Lind",
];

pub const CUSTOMER_COLUMNS: [&str; 22] = [
    "customer_id",
    "name",
    "email",
    "age",
    "income",
    "tenure_months",
    "region",
    "job",
    "marital_status",
    "balance_current",
    "balance_savings",
    "credit_limit",
    "txn_count_card",
    "txn_count_transfer",
    "spend_groceries",
    "spend_travel",
    "spend_online",
    "spend_cash_withdrawals",
    "digital_logins_month",
    "branch_visits_year",
    "has_children",
    "last_contact_date",
];

/// Writes `customers.csv`, `holdings.csv` and `products.csv` into `out`.
pub fn generate(options: &GenerateOptions, out: &Path) -> Result<Counts, GenerateError> {
    if options.customers == 0 {
        return Err(GenerateError::NoCustomers);
    }
    if !(2..=ALL_SNAPSHOTS.len()).contains(&options.snapshots) {
        return Err(GenerateError::Snapshots);
    }
    let dates = snapshot_dates(options.snapshots);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let customers_path = out.join("customers.csv");
    let holdings_path = out.join("holdings.csv");
    let products_path = out.join("products.csv");
    let mut customers = csv::Writer::from_writer(AtomicFile::create(&customers_path)?);
    let mut holdings = csv::Writer::from_writer(AtomicFile::create(&holdings_path)?);
    let csv_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GenerateError::Csv {
            path: path.clone(),
            source,
        }
    };
    customers
        .write_record(CUSTOMER_COLUMNS)
        .map_err(csv_err(&customers_path))?;
    holdings
        .write_record(["customer_id", "product", "snapshot"])
        .map_err(csv_err(&holdings_path))?;

    let mut holding_rows = 0usize;
    let std_normal = Normal::new(0.0, 1.0).expect("unit normal is valid");
    for index in 1..=options.customers {
        let customer = draw_customer(&mut rng, &std_normal);
        let id = format!("C{index:07}");
        let record = customer.record(&id, index, &mut rng);
        customers
            .write_record(&record)
            .map_err(csv_err(&customers_path))?;
        for (snapshot, held) in customer
            .snapshots(options.snapshots, &mut rng)
            .iter()
            .enumerate()
        {
            for (p, _) in held.iter().enumerate().filter(|(_, h)| **h) {
                holdings
                    .write_record([id.as_str(), PRODUCTS[p].0, dates[snapshot]])
                    .map_err(csv_err(&holdings_path))?;
                holding_rows += 1;
            }
        }
    }

    let mut products = csv::Writer::from_writer(AtomicFile::create(&products_path)?);
    products
        .write_record(["product_id", "name", "category", "min_age", "min_income"])
        .map_err(csv_err(&products_path))?;
    for (id, name, category, min_age, min_income) in PRODUCTS {
        products
            .write_record([
                id,
                name,
                category,
                &min_age.to_string(),
                &min_income.to_string(),
            ])
            .map_err(csv_err(&products_path))?;
    }
    for (writer, path) in [
        (customers, &customers_path),
        (holdings, &holdings_path),
        (products, &products_path),
    ] {
        let file = writer
            .into_inner()
            .map_err(|e| GenerateError::Shared(SharedError::io("write", path, e.into_error())))?;
        file.commit()?;
    }
    Ok(Counts {
        customers: options.customers,
        holdings: holding_rows,
        products: PRODUCTS.len(),
    })
}

struct Customer {
    kind: usize,
    age: u32,
    income: f64,
    tenure_months: u32,
    balance_current: f64,
    balance_savings: f64,
    digital_logins: f64,
    travel: f64,
    cash: f64,
    /// Per-customer appetite for products, so that holdings vary within a type.
    appetite: f64,
}

fn draw_customer(rng: &mut ChaCha8Rng, std_normal: &Normal<f64>) -> Customer {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    let kind = TYPES
        .iter()
        .position(|t| {
            acc += t.share;
            u < acc
        })
        .unwrap_or(TYPES.len() - 1);
    let t = &TYPES[kind];
    let age = (t.age.0 + t.age.1 * std_normal.sample(rng))
        .round()
        .clamp(t.age.2 as f64, t.age.3 as f64) as u32;
    let income = LogNormal::new(t.income.0.ln(), t.income.1).map_or(t.income.0, |d| d.sample(rng));
    let max_tenure = (age.saturating_sub(16) * 12).max(1);
    let tenure_months = rng.random_range(1..=max_tenure.min(480));
    let savings_scale = match kind {
        2 => 1.6,
        3 => 1.2,
        5 => 0.1,
        0 => 0.25,
        _ => 0.5,
    };
    let balance_current = LogNormal::new((income / 12.0).ln(), 0.8).map_or(0.0, |d| d.sample(rng));
    let balance_savings =
        LogNormal::new((income * savings_scale).max(1.0).ln(), 1.0).map_or(0.0, |d| d.sample(rng));
    let digital_logins = (t.digital * (0.6 + 0.8 * rng.random::<f64>())).round();
    Customer {
        kind,
        age,
        income,
        tenure_months,
        balance_current,
        balance_savings,
        digital_logins,
        travel: t.travel,
        cash: t.cash,
        appetite: 0.75 + 0.5 * rng.random::<f64>(),
    }
}

impl Customer {
    fn record(&self, id: &str, index: usize, rng: &mut ChaCha8Rng) -> Vec<String> {
        let money = |v: f64| format!("{v:.2}");
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let name = format!("{first} {last}");
        let email = format!(
            "{}.{}{index}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let region = REGIONS[rng.random_range(0..REGIONS.len())];
        let job = match (self.kind, self.age) {
            (_, a) if a >= 66 => "retired",
            (4, _) => {
                if rng.random_bool(0.7) {
                    "self_employed"
                } else {
                    "entrepreneur"
                }
            }
            (0, a) if a < 24 && rng.random_bool(0.5) => "student",
            (2, _) if rng.random_bool(0.6) => "management",
            _ => JOBS[rng.random_range(0..JOBS.len())],
        };
        let marital = if self.kind == 1 {
            if rng.random_bool(0.85) {
                "married"
            } else {
                "divorced"
            }
        } else {
            MARITAL[rng.random_range(0..MARITAL.len())]
        };
        let has_children = self.kind == 1 || rng.random_bool(0.25);
        let card_txn = (30.0
            * self.appetite
            * (1.0 + self.digital_logins / 15.0)
            * (0.5 + rng.random::<f64>()))
        .round();
        let transfers =
            (4.0 + 6.0 * rng.random::<f64>() + if self.kind == 4 { 25.0 } else { 0.0 }).round();
        let monthly = self.income / 12.0;
        let groceries = monthly * 0.12 * (0.6 + 0.8 * rng.random::<f64>());
        let travel =
            monthly * 0.03 * self.travel * LogNormal::new(0.0, 0.9).map_or(1.0, |d| d.sample(rng));
        let online = monthly * 0.02 * (self.digital_logins / 8.0) * (0.5 + rng.random::<f64>());
        let cash = monthly * 0.05 * self.cash * (0.5 + rng.random::<f64>());
        let branch_visits = ((1.0 + self.cash * 3.0)
            * (30.0 / (self.digital_logins + 5.0))
            * (0.5 + rng.random::<f64>()))
        .round();
        let credit_limit =
            (self.income * (0.08 + 0.12 * rng.random::<f64>()) / 100.0).round() * 100.0;
        let contact_day = rng.random_range(0..365);
        // A few outliers, as real extracts have: data-entry errors and genuinely rich accounts.
        let outlier = rng.random_bool(0.004);
        let balance_current = if outlier {
            self.balance_current * 60.0
        } else {
            self.balance_current
        };
        // Missing values at realistic rates.
        let missing = |rng: &mut ChaCha8Rng, p: f64| rng.random_bool(p);
        let income = if missing(rng, 0.03) {
            String::new()
        } else {
            money(self.income)
        };
        let logins = if missing(rng, 0.02) {
            "NA".to_string()
        } else {
            format!("{}", self.digital_logins)
        };
        let marital = if missing(rng, 0.01) {
            String::new()
        } else {
            marital.to_string()
        };
        let credit_limit = if missing(rng, 0.015) {
            String::new()
        } else {
            money(credit_limit)
        };
        vec![
            id.to_string(),
            name,
            email,
            self.age.to_string(),
            income,
            self.tenure_months.to_string(),
            region.to_string(),
            job.to_string(),
            marital,
            money(balance_current),
            money(self.balance_savings),
            credit_limit,
            card_txn.to_string(),
            transfers.to_string(),
            money(groceries),
            money(travel),
            money(online),
            money(cash),
            logins,
            branch_visits.to_string(),
            has_children.to_string(),
            date_2026(contact_day),
        ]
    }

    /// Products held at each of `count` monthly snapshots: the first drawn from the
    /// type's propensities, each later one keeping most of the month before (a little
    /// churn) and adding the month's take-ups ([`Customer::monthly_take_up`]).
    fn snapshots(&self, count: usize, rng: &mut ChaCha8Rng) -> Vec<[bool; 20]> {
        let t = &TYPES[self.kind];
        let eligible: Vec<bool> = PRODUCTS
            .iter()
            .map(|&(_, _, _, min_age, min_income)| {
                self.age >= min_age && self.income >= min_income as f64
            })
            .collect();
        let mut first = [false; 20];
        for (p, held) in first.iter_mut().enumerate() {
            let p_hold = (t.holds[p] * self.appetite).min(0.995);
            *held = eligible[p] && rng.random_bool(p_hold);
        }
        let mut months = vec![first];
        for _ in 1..count {
            let before = months[months.len() - 1];
            let mut next = [false; 20];
            for p in 0..PRODUCTS.len() {
                next[p] = if before[p] {
                    // The current account is where everything else hangs: never closed.
                    p == CURRENT_ACCOUNT || !rng.random_bool(0.01)
                } else {
                    eligible[p] && rng.random_bool(self.monthly_take_up(p, &before))
                };
            }
            months.push(next);
        }
        months
    }

    /// The chance of taking up product `p` in a month, holding `held` at its start: the
    /// type's propensity for it, raised by life stage and by the products that lead to it.
    fn monthly_take_up(&self, p: usize, held: &[bool; 20]) -> f64 {
        let t = &TYPES[self.kind];
        let base = 0.05 * (t.holds[p] * self.appetite).min(0.995);
        let has = |q: usize| held[q];
        let age = self.age;
        let lift = match p {
            DEBIT_CARD if has(CURRENT_ACCOUNT) => 3.0,
            E_BANKING if has(MOBILE_BANKING) => 2.0,
            MOBILE_BANKING if age < 35 => 2.5,
            TERM_DEPOSIT if has(SAVINGS_ACCOUNT) && age >= 55 => 2.5,
            CREDIT_CARD if has(PAYROLL_ACCOUNT) => 4.0,
            PREMIUM_CARD if has(CREDIT_CARD) && self.income >= 90_000.0 => 5.0,
            OVERDRAFT if has(CREDIT_CARD) && self.cash > 1.5 => 3.0,
            MORTGAGE if (28..=45).contains(&age) => 2.0,
            PENSION_PLAN if (40..65).contains(&age) => 2.5,
            FUNDS if has(SECURITIES) => 4.0,
            SECURITIES if has(FUNDS) => 3.0,
            LIFE_INSURANCE if has(MORTGAGE) => 4.0,
            HOME_INSURANCE if has(MORTGAGE) => 8.0,
            HOME_INSURANCE => 0.3,
            POS_TERMINAL if has(BUSINESS_ACCOUNT) => 6.0,
            _ => 1.0,
        };
        (base * lift).min(0.5)
    }
}

/// `2026-01-01` plus `day` days, as ISO text.
fn date_2026(day: u32) -> String {
    const MONTH_DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut rest = day;
    for (m, &len) in MONTH_DAYS.iter().enumerate() {
        if rest < len {
            return format!("2026-{:02}-{:02}", m + 1, rest + 1);
        }
        rest -= len;
    }
    "2026-12-31".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        for (dir, seed) in dirs.iter().zip([7, 7, 8]) {
            generate(
                &GenerateOptions {
                    customers: 300,
                    seed,
                    snapshots: DEFAULT_SNAPSHOTS,
                },
                dir.path(),
            )
            .unwrap();
        }
        for file in ["customers.csv", "holdings.csv", "products.csv"] {
            let read = |d: &tempfile::TempDir| std::fs::read(d.path().join(file)).unwrap();
            assert_eq!(
                read(&dirs[0]),
                read(&dirs[1]),
                "{file} differs for one seed"
            );
        }
        let read = |d: &tempfile::TempDir| std::fs::read(d.path().join("customers.csv")).unwrap();
        assert_ne!(read(&dirs[0]), read(&dirs[2]));
    }

    #[test]
    fn data_has_missing_values_holdings_in_both_snapshots_and_new_acquisitions() {
        let dir = tempfile::tempdir().unwrap();
        let counts = generate(
            &GenerateOptions {
                customers: 2000,
                seed: 1,
                snapshots: DEFAULT_SNAPSHOTS,
            },
            dir.path(),
        )
        .unwrap();
        assert_eq!(counts.customers, 2000);
        let mut reader = csv::Reader::from_path(dir.path().join("customers.csv")).unwrap();
        let headers = reader.headers().unwrap().clone();
        let income = headers.iter().position(|h| h == "income").unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2000);
        let missing = rows.iter().filter(|r| r[income].is_empty()).count();
        assert!(
            (20..=120).contains(&missing),
            "income missing in {missing} rows"
        );

        let mut holdings = csv::Reader::from_path(dir.path().join("holdings.csv")).unwrap();
        let mut per_snapshot = std::collections::BTreeMap::<
            String,
            std::collections::BTreeSet<(String, String)>,
        >::new();
        for row in holdings.records() {
            let row = row.unwrap();
            per_snapshot
                .entry(row[2].to_string())
                .or_default()
                .insert((row[0].to_string(), row[1].to_string()));
        }
        let dates = snapshot_dates(DEFAULT_SNAPSHOTS);
        assert_eq!(per_snapshot.len(), 6);
        assert_eq!(
            dates,
            [
                "2026-05-31",
                "2026-06-30",
                "2026-07-31",
                "2026-08-31",
                "2026-09-30",
                "2026-10-31"
            ]
        );
        let first = &per_snapshot[dates[0]];
        for month in dates.windows(2) {
            let acquired = per_snapshot[month[1]]
                .difference(&per_snapshot[month[0]])
                .count();
            assert!(
                acquired > 200,
                "only {acquired} new acquisitions by {}",
                month[1]
            );
        }
        // A mortgage leads to home insurance: those with one take it up far more often.
        let (mut with, mut with_n, mut without, mut without_n) = (0, 0, 0, 0);
        for month in dates.windows(2) {
            let (before, after) = (&per_snapshot[month[0]], &per_snapshot[month[1]]);
            let customers: std::collections::BTreeSet<&String> =
                before.iter().map(|(c, _)| c).collect();
            for c in customers {
                let holds = |set: &std::collections::BTreeSet<(String, String)>, p: &str| {
                    set.contains(&(c.clone(), p.to_string()))
                };
                if holds(before, "home_insurance") {
                    continue;
                }
                let took = usize::from(holds(after, "home_insurance"));
                if holds(before, "mortgage") {
                    (with, with_n) = (with + took, with_n + 1);
                } else {
                    (without, without_n) = (without + took, without_n + 1);
                }
            }
        }
        let (rate_with, rate_without) = (
            with as f64 / with_n as f64,
            without as f64 / without_n as f64,
        );
        assert!(
            rate_with > 5.0 * rate_without,
            "{rate_with} against {rate_without}"
        );
        assert!(
            first.len() > 2000 * 5,
            "about eight products per customer expected, got {}",
            first.len()
        );
    }
}
