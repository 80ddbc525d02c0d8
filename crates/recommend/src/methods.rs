//! The methods, fitted on the training holdings, and how each explains itself.

use std::collections::BTreeMap;

use crate::ages::CustomerDates;
use crate::content::{ContentKnn, CustomerFeatures, ProductProfile};
use crate::holdings::{count, products_of, Basket};
use crate::params::{Method, Similarity};
use crate::propensity::method::{Propensity, PropensityModel, PropensitySettings};
use crate::user_knn::UserKnn;

/// What the methods are fitted on. Customers are indexed as in `train`.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// Display names of the products, for reasons.
    pub product_names: &'a [String],
    pub train: &'a [Basket],
    /// Earlier snapshots' baskets, oldest first, that `propensity` may learn transitions
    /// from: none of them holds what is held out.
    pub history: &'a [Vec<Basket>],
    /// With `split = "customers"`, the customers held out whole: their holdings are
    /// unknown, so `propensity` does not learn from them.
    pub held_out_customers: Option<&'a [bool]>,
    /// The date of the snapshot `train` holds, and of each of `history`'s, when the
    /// holdings have dates: the days ages are taken at.
    pub train_date: Option<i32>,
    pub history_dates: &'a [Option<i32>],
    /// The date columns `propensity` reads as ages (the `ages` parameter).
    pub dates: Option<&'a CustomerDates>,
    /// The segment of each customer, when assignments were given.
    pub segments: Option<&'a [Option<i32>]>,
    pub segment_labels: &'a BTreeMap<i32, String>,
    pub features: Option<&'a CustomerFeatures>,
}

impl<'a> Inputs<'a> {
    /// The same inputs with the dates of the snapshots they hold.
    pub fn dated(self, train_date: Option<i32>, history_dates: &'a [Option<i32>]) -> Self {
        Inputs {
            train_date,
            history_dates,
            ..self
        }
    }
}

/// Settings of the neighbour methods.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub neighbours: usize,
    pub similarity: Similarity,
    pub reference_sample: usize,
    pub seed: u64,
    pub propensity_model: PropensityModel,
    pub propensity_min_positives: usize,
    pub propensity_max_examples: usize,
    pub propensity_calibration: bool,
    /// Which methods to fit besides popularity.
    pub chosen: Chosen,
}

/// The methods a stage's `methods` parameter chose (all when it is left out), as a set
/// that `Settings` can copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chosen([bool; Method::ALL.len()]);

impl Chosen {
    pub fn new(methods: Option<&[Method]>) -> Self {
        Chosen(Method::ALL.map(|m| methods.is_none_or(|c| c.contains(&m))))
    }

    /// Popularity always is: it is the baseline and the fallback.
    pub fn has(self, method: Method) -> bool {
        method == Method::Popularity || self.0[method as usize]
    }
}

/// Every method the inputs allow (and the stage chose), fitted.
pub struct Fitted {
    pub methods: Vec<Method>,
    n_products: usize,
    share: Vec<f64>,
    segment_share: BTreeMap<i32, Vec<f64>>,
    user_knn: Option<UserKnn>,
    /// Item–item cosine similarity, `P × P`, zero on the diagonal.
    item_similarity: Vec<f64>,
    content: Option<ContentKnn>,
    profile: Option<ProductProfile>,
    propensity: Option<Propensity>,
    /// What fitting found that the stage notes should say.
    pub notes: Vec<String>,
}

/// Scratch space and results of scoring one customer.
pub struct Scores {
    /// Raw scores, `methods × P`, in the order of [`Fitted::methods`].
    pub raw: Vec<f64>,
    /// Neighbours found, by method index (0 where not a neighbour method).
    pub found: Vec<u32>,
    nearest: Vec<(f64, u32)>,
    /// Content neighbours searched ahead for a run of customers ([`Fitted::prepare`]),
    /// taken in order by [`Fitted::score`].
    ahead: Ahead,
}

/// The nearest references of a run of customers, in the run's order.
#[derive(Default)]
struct Ahead {
    customers: Vec<usize>,
    lists: Vec<Vec<(f64, u32)>>,
    next: usize,
}

impl Fitted {
    pub fn fit(inputs: &Inputs<'_>, settings: Settings, progress: &dyn Fn(&str)) -> Self {
        let n_products = inputs.product_names.len();
        let train = inputs.train;
        let mut methods = vec![Method::Popularity];
        let holders = |customers: &mut dyn Iterator<Item = usize>| {
            let mut counts = vec![0usize; n_products];
            let mut total = 0usize;
            for c in customers {
                total += 1;
                for p in products_of(train[c]) {
                    counts[p] += 1;
                }
            }
            counts
                .iter()
                .map(|&n| n as f64 / total.max(1) as f64)
                .collect::<Vec<f64>>()
        };
        let share = holders(&mut (0..train.len()));
        let mut segment_share = BTreeMap::new();
        let chosen = settings.chosen;
        if let Some(segments) = inputs
            .segments
            .filter(|_| chosen.has(Method::SegmentPopularity))
        {
            methods.push(Method::SegmentPopularity);
            let mut members: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
            for (c, s) in segments.iter().enumerate() {
                if let Some(s) = s {
                    members.entry(*s).or_default().push(c);
                }
            }
            for (s, customers) in members {
                segment_share.insert(s, holders(&mut customers.into_iter()));
            }
        }
        let user_knn = chosen.has(Method::UserKnn).then(|| {
            progress("user_knn: neighbours by holdings");
            methods.push(Method::UserKnn);
            UserKnn::fit(train, n_products, settings.neighbours, settings.similarity)
        });
        if chosen.has(Method::ItemKnn) {
            methods.push(Method::ItemKnn);
        }
        // Kept whether item_knn is listed or not: the model file and export-sql read it.
        let item_similarity = item_similarity(train, n_products);
        let content = inputs
            .features
            .filter(|_| chosen.has(Method::ContentKnn))
            .map(|features| {
                methods.push(Method::ContentKnn);
                ContentKnn::new(
                    features,
                    settings.neighbours,
                    settings.reference_sample,
                    settings.seed,
                )
            });
        let profile = inputs
            .features
            .filter(|_| chosen.has(Method::ProductProfile))
            .map(|features| {
                methods.push(Method::ProductProfile);
                ProductProfile::fit(features, train, n_products)
            });
        let mut notes = Vec::new();
        let propensity = inputs
            .features
            .filter(|_| chosen.has(Method::Propensity))
            .and_then(|_| {
                progress("propensity: one model per product");
                let settings = PropensitySettings {
                    model: settings.propensity_model,
                    min_positives: settings.propensity_min_positives,
                    calibrate: settings.propensity_calibration,
                    seed: settings.seed,
                    max_examples: settings.propensity_max_examples,
                };
                Propensity::fit(inputs, settings).map(|(method, found)| {
                    notes.extend(found);
                    method
                })
            });
        if propensity.is_some() {
            methods.push(Method::Propensity);
        }
        Fitted {
            methods,
            n_products,
            share,
            segment_share,
            user_knn,
            item_similarity,
            content,
            profile,
            propensity,
            notes,
        }
    }

    /// The share of customers holding each product: the tie-break of every list.
    pub fn popularity(&self) -> &[f64] {
        &self.share
    }

    /// Item–item cosine similarities, `P × P` row-major.
    pub fn item_similarity(&self) -> &[f64] {
        &self.item_similarity
    }

    pub fn distinct_baskets(&self) -> usize {
        self.user_knn.as_ref().map_or(0, UserKnn::distinct_baskets)
    }

    /// The propensity models, as the model file keeps them.
    pub fn propensity_models(
        &self,
        products: &[String],
        dates: Option<&CustomerDates>,
        scored_day: Option<i32>,
        panel: bool,
    ) -> Option<crate::model::PropensityModels> {
        self.propensity
            .as_ref()
            .map(|p| p.to_file(products, dates, scored_day, panel))
    }

    pub fn content_references(&self) -> Option<usize> {
        self.content.as_ref().map(ContentKnn::references)
    }

    pub fn scratch(&self) -> Scores {
        Scores {
            raw: vec![0.0; self.methods.len() * self.n_products],
            found: vec![0; self.methods.len()],
            nearest: Vec::new(),
            ahead: Ahead::default(),
        }
    }

    /// Searches the content neighbours of `customers` ahead, several customers per pass
    /// over the references ([`clientele_numeric::nearest::QUERIES_PER_PASS`]); [`Fitted::score`] then takes
    /// them when called for the same customers in the same order. The lists are those
    /// `score` would find alone.
    pub fn prepare(&self, inputs: &Inputs<'_>, customers: &[usize], scores: &mut Scores) {
        let ahead = &mut scores.ahead;
        ahead.customers.clear();
        ahead.next = 0;
        let (Some(knn), Some(features)) = (&self.content, inputs.features) else {
            return;
        };
        if !self.methods.contains(&Method::ContentKnn) {
            return;
        }
        let queries: Vec<(&[f64], usize)> = customers
            .iter()
            .filter_map(|&c| features.row(c).map(|x| (x, c)))
            .collect();
        ahead.customers.extend(queries.iter().map(|&(_, c)| c));
        if ahead.lists.len() < queries.len() {
            ahead.lists.resize_with(queries.len(), Vec::new);
        }
        knn.nearest(&queries, &mut ahead.lists[..queries.len()]);
    }

    /// Every method's raw scores for customer `c`. A method with nothing to say about
    /// the customer (no segment, no features) scores every product 0.
    pub fn score(&self, inputs: &Inputs<'_>, c: usize, scores: &mut Scores) {
        let np = self.n_products;
        let held = inputs.train[c];
        for (m, method) in self.methods.iter().enumerate() {
            let Scores {
                raw,
                found,
                nearest,
                ahead,
            } = scores;
            let out = &mut raw[m * np..(m + 1) * np];
            out.iter_mut().for_each(|v| *v = 0.0);
            found[m] = 0;
            match method {
                Method::Popularity => out.copy_from_slice(&self.share),
                Method::SegmentPopularity => {
                    let segment = inputs.segments.and_then(|s| s[c]);
                    if let Some(shares) = segment.and_then(|s| self.segment_share.get(&s)) {
                        out.copy_from_slice(shares);
                    }
                }
                Method::UserKnn => {
                    if let Some(user_knn) = &self.user_knn {
                        let (votes, n) = user_knn.votes(c);
                        for (o, &v) in out.iter_mut().zip(votes) {
                            *o = v as f64;
                        }
                        found[m] = n;
                    }
                }
                Method::ItemKnn => {
                    for h in products_of(held) {
                        let row = &self.item_similarity[h * np..(h + 1) * np];
                        for (o, s) in out.iter_mut().zip(row) {
                            *o += s;
                        }
                    }
                }
                Method::ContentKnn => {
                    if let (Some(knn), Some(x)) =
                        (&self.content, inputs.features.and_then(|f| f.row(c)))
                    {
                        found[m] = match ahead.customers.get(ahead.next) {
                            Some(&next) if next == c => {
                                ahead.next += 1;
                                ContentKnn::votes_of(
                                    &ahead.lists[ahead.next - 1],
                                    inputs.train,
                                    out,
                                )
                            }
                            _ => knn.votes(x, c, inputs.train, nearest, out),
                        };
                    }
                }
                Method::ProductProfile => {
                    if let (Some(profile), Some(x)) =
                        (&self.profile, inputs.features.and_then(|f| f.row(c)))
                    {
                        profile.scores(x, out);
                    }
                }
                Method::Propensity => {
                    if let Some(propensity) = &self.propensity {
                        propensity.scores(inputs, c, out);
                    }
                }
            }
        }
    }

    /// A sentence saying why `method` recommends product `p` to customer `c`.
    pub fn reason(
        &self,
        inputs: &Inputs<'_>,
        c: usize,
        m: usize,
        p: usize,
        scores: &Scores,
    ) -> String {
        let np = self.n_products;
        let raw = scores.raw[m * np + p];
        let percent = |share: f64| format!("{:.0}%", share * 100.0);
        match self.methods[m] {
            Method::Popularity => format!("held by {} of customers", percent(raw)),
            Method::SegmentPopularity => {
                let segment = inputs.segments.and_then(|s| s[c]).unwrap_or(-1);
                let name = inputs
                    .segment_labels
                    .get(&segment)
                    .map_or_else(|| segment.to_string(), |l| l.clone());
                format!("held by {} of customers in segment '{name}'", percent(raw))
            }
            Method::UserKnn => format!(
                "held by {raw:.0} of your {} most similar customers",
                scores.found[m]
            ),
            Method::ItemKnn => {
                let mut best: Option<(f64, usize)> = None;
                for h in products_of(inputs.train[c]) {
                    let s = self.item_similarity[h * np + p];
                    if best.is_none_or(|(b, _)| s > b) {
                        best = Some((s, h));
                    }
                }
                match best {
                    Some((_, h)) => format!("often held with your {}", inputs.product_names[h]),
                    None => "often held with products like yours".to_string(),
                }
            }
            Method::ContentKnn => format!(
                "held by {raw:.0} of the {} customers who bank most like you",
                scores.found[m]
            ),
            Method::ProductProfile => {
                "customers with a banking pattern like yours hold it".to_string()
            }
            Method::Propensity => match &self.propensity {
                Some(propensity) => propensity.reason(inputs, c, p, raw),
                None => String::new(),
            },
        }
    }
}

/// Cosine similarity of products by co-holding: customers holding both, over the
/// square root of the product of their holders.
pub fn item_similarity(train: &[Basket], n_products: usize) -> Vec<f64> {
    let mut baskets: Vec<Basket> = train.iter().copied().filter(|&b| count(b) > 0).collect();
    baskets.sort_unstable();
    let mut co = vec![0u64; n_products * n_products];
    let mut i = 0;
    while i < baskets.len() {
        let b = baskets[i];
        let run = baskets[i..].iter().take_while(|&&x| x == b).count() as u64;
        let held: Vec<usize> = products_of(b).collect();
        for &x in &held {
            for &y in &held {
                co[x * n_products + y] += run;
            }
        }
        i += run as usize;
    }
    let mut similarity = vec![0.0; n_products * n_products];
    for x in 0..n_products {
        for y in 0..n_products {
            let (nx, ny) = (co[x * n_products + x], co[y * n_products + y]);
            if x != y && nx > 0 && ny > 0 {
                similarity[x * n_products + y] =
                    co[x * n_products + y] as f64 / ((nx * ny) as f64).sqrt();
            }
        }
    }
    similarity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_similarity_is_cosine_of_co_holding() {
        // Product 0 held by customers 0, 1, 2; product 1 by 1, 2; product 2 by 3.
        let train: Vec<Basket> = vec![0b001, 0b011, 0b011, 0b100];
        let s = item_similarity(&train, 3);
        assert!((s[1] - 2.0 / (3.0f64 * 2.0).sqrt()).abs() < 1e-15);
        assert_eq!(s[3], s[1]);
        assert_eq!(s[2], 0.0);
        assert_eq!(s[0], 0.0);
    }
}
