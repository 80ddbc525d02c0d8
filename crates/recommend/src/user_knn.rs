//! User-based collaborative filtering: a customer's nearest neighbours by holdings vote
//! for the products they hold and the customer does not.
//!
//! Exact search, by hand, because the catalogue is small: with tens of products the
//! similarity of two customers (cosine or Jaccard of their product sets) depends only
//! on how many products they share and how many the other holds, so there are a few
//! hundred possible similarity values, and a million customers fall into far fewer
//! distinct baskets than there are customers. For each distinct basket we walk the
//! similarity levels from the top, and find the baskets at each level by enumerating
//! the few sets that differ from it by r removed and s added products (a hash lookup
//! each), or by one scan over all distinct baskets when that enumeration would be
//! longer. Customers with the same basket have the same neighbours, so each distinct
//! basket is solved once. `bench/README.md` compares this with linfa-nn's KD-tree and
//! ball tree at this dimensionality.
//!
//! Which customers are neighbours:
//! - only those who hold something the customer does not: a neighbour whose products
//!   the customer already has all of cannot vote, and with few products the nearest
//!   customers are very often exact twins;
//! - only those with a similarity above zero (at least one product in common);
//! - at equal similarity, the customers first in `customer_id` order.

use std::cmp::Ordering;
use std::collections::HashMap;

use rayon::prelude::*;

use crate::holdings::{count, products_of, Basket};
use crate::params::Similarity;

/// Each distinct basket's neighbours' votes.
#[derive(Debug, Clone)]
pub struct UserKnn {
    n_products: usize,
    /// The distinct basket of each customer (an index into the per-basket tables).
    basket_of: Vec<u32>,
    /// `votes[b * n_products + p]`: neighbours of basket `b` holding product `p`.
    votes: Vec<u32>,
    /// Neighbours found for basket `b` (fewer than asked when few qualify).
    found: Vec<u32>,
}

impl UserKnn {
    /// Finds the `neighbours` nearest customers of every customer.
    pub fn fit(
        train: &[Basket],
        n_products: usize,
        neighbours: usize,
        similarity: Similarity,
    ) -> Self {
        let index = BasketIndex::new(train);
        let solved: Vec<(Vec<u32>, u32)> = index
            .baskets
            .par_iter()
            .map(|&a| index.votes(a, n_products, neighbours, similarity))
            .collect();
        let mut votes = Vec::with_capacity(solved.len() * n_products);
        let mut found = Vec::with_capacity(solved.len());
        for (v, f) in solved {
            votes.extend(v);
            found.push(f);
        }
        UserKnn {
            n_products,
            basket_of: index.basket_of,
            votes,
            found,
        }
    }

    /// Votes for each product, and the number of neighbours who voted.
    pub fn votes(&self, customer: usize) -> (&[u32], u32) {
        let b = self.basket_of[customer] as usize;
        (
            &self.votes[b * self.n_products..(b + 1) * self.n_products],
            self.found[b],
        )
    }

    /// Distinct baskets among the customers.
    pub fn distinct_baskets(&self) -> usize {
        self.found.len()
    }
}

/// Distinct baskets, and the customers holding each, in customer order.
struct BasketIndex {
    baskets: Vec<Basket>,
    members: Vec<Vec<u32>>,
    lookup: HashMap<Basket, u32>,
    basket_of: Vec<u32>,
}

impl BasketIndex {
    fn new(train: &[Basket]) -> Self {
        let mut baskets: Vec<Basket> = train.to_vec();
        baskets.sort_unstable();
        baskets.dedup();
        let lookup: HashMap<Basket, u32> = baskets
            .iter()
            .enumerate()
            .map(|(i, &b)| (b, i as u32))
            .collect();
        let mut members = vec![Vec::new(); baskets.len()];
        let basket_of: Vec<u32> = train.iter().map(|b| lookup[b]).collect();
        for (c, &b) in basket_of.iter().enumerate() {
            members[b as usize].push(c as u32);
        }
        BasketIndex {
            baskets,
            members,
            lookup,
            basket_of,
        }
    }

    /// The votes of the nearest `k` neighbours of a customer holding `a`.
    fn votes(
        &self,
        a: Basket,
        n_products: usize,
        k: usize,
        similarity: Similarity,
    ) -> (Vec<u32>, u32) {
        let mut votes = vec![0u32; n_products];
        let na = count(a) as usize;
        if na == 0 || k == 0 {
            return (votes, 0);
        }
        let all = crate::catalogue::full(n_products);
        let lacking = all & !a;
        let nc = n_products - na;
        let levels = similarity_levels(na, nc, similarity);
        let held: Vec<usize> = products_of(a).collect();
        let not_held: Vec<usize> = products_of(lacking).collect();
        let mut scanned: Option<Vec<Vec<u32>>> = None;
        let mut taken = 0usize;
        for (level, shapes) in levels.iter().enumerate() {
            let enumeration: f64 = shapes
                .iter()
                .map(|&(r, s)| binomial(na, r) * binomial(nc, s))
                .sum();
            let found: Vec<u32> = if scanned.is_some() || enumeration > self.baskets.len() as f64 {
                let buckets = scanned.get_or_insert_with(|| self.scan(a, na, &levels));
                std::mem::take(&mut buckets[level])
            } else {
                let mut found = Vec::new();
                for &(r, s) in shapes {
                    for_each_subset(&held, r, &mut |removed| {
                        for_each_subset(&not_held, s, &mut |added| {
                            if let Some(&b) = self.lookup.get(&((a & !removed) | added)) {
                                found.push(b);
                            }
                        })
                    });
                }
                found
            };
            let customers: usize = found.iter().map(|&b| self.members[b as usize].len()).sum();
            if taken + customers <= k {
                for &b in &found {
                    let m = self.members[b as usize].len() as u32;
                    for p in products_of(self.baskets[b as usize]) {
                        votes[p] += m;
                    }
                }
                taken += customers;
                if taken == k {
                    break;
                }
            } else {
                // The level holds more customers than places left: the first in
                // customer order take them.
                let need = k - taken;
                let mut first: Vec<(u32, u32)> = found
                    .iter()
                    .flat_map(|&b| {
                        self.members[b as usize]
                            .iter()
                            .take(need)
                            .map(move |&c| (c, b))
                    })
                    .collect();
                first.sort_unstable();
                for &(_, b) in first.iter().take(need) {
                    for p in products_of(self.baskets[b as usize]) {
                        votes[p] += 1;
                    }
                }
                taken = k;
                break;
            }
        }
        (votes, taken as u32)
    }

    /// Every distinct basket that qualifies as a neighbour of `a`, bucketed by level.
    fn scan(&self, a: Basket, na: usize, levels: &[Vec<(usize, usize)>]) -> Vec<Vec<u32>> {
        let mut level_of: HashMap<(usize, usize), usize> = HashMap::new();
        for (level, shapes) in levels.iter().enumerate() {
            for &shape in shapes {
                level_of.insert(shape, level);
            }
        }
        let mut buckets = vec![Vec::new(); levels.len()];
        for (i, &b) in self.baskets.iter().enumerate() {
            let shared = count(a & b) as usize;
            let added = count(b & !a) as usize;
            if let Some(&level) = level_of.get(&(na - shared, added)) {
                buckets[level].push(i as u32);
            }
        }
        buckets
    }
}

/// The shapes `(r, s)` of the baskets that qualify as neighbours of a basket of `na`
/// products, with `nc` products it lacks: `r` of its products removed (keeping at least
/// one in common) and `s ≥ 1` added. Grouped by equal similarity, most similar first.
fn similarity_levels(na: usize, nc: usize, similarity: Similarity) -> Vec<Vec<(usize, usize)>> {
    let mut shapes: Vec<(usize, usize)> = (0..na)
        .flat_map(|r| (1..=nc).map(move |s| (r, s)))
        .collect();
    // Exact comparisons in integers, so that equal similarities are equal.
    let compare = |&(r1, s1): &(usize, usize), &(r2, s2): &(usize, usize)| -> Ordering {
        let (i1, i2) = ((na - r1) as u64, (na - r2) as u64);
        match similarity {
            // shared / sqrt(na · nb), nb = shared + added: compare shared² / nb.
            Similarity::Cosine => {
                let (nb1, nb2) = (i1 + s1 as u64, i2 + s2 as u64);
                (i2 * i2 * nb1).cmp(&(i1 * i1 * nb2))
            }
            // shared / (na + added).
            Similarity::Jaccard => {
                let (u1, u2) = ((na + s1) as u64, (na + s2) as u64);
                (i2 * u1).cmp(&(i1 * u2))
            }
        }
    };
    shapes.sort_by(compare);
    let mut levels: Vec<Vec<(usize, usize)>> = Vec::new();
    for shape in shapes {
        match levels.last_mut() {
            Some(level) if compare(&level[0], &shape) == Ordering::Equal => level.push(shape),
            _ => levels.push(vec![shape]),
        }
    }
    levels
}

fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Calls `f` with the union of every `size`-subset of `items` (products).
fn for_each_subset(items: &[usize], size: usize, f: &mut impl FnMut(Basket)) {
    fn go(items: &[usize], size: usize, acc: Basket, f: &mut impl FnMut(Basket)) {
        if size == 0 {
            f(acc);
            return;
        }
        for i in 0..items.len() {
            if items.len() - i < size {
                break;
            }
            go(&items[i + 1..], size - 1, acc | 1 << items[i], f);
        }
    }
    go(items, size, 0, f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// The definition, customer by customer: every other customer who qualifies,
    /// sorted by similarity (exactly) then customer order; the first k vote.
    fn brute_force(
        train: &[Basket],
        n_products: usize,
        k: usize,
        similarity: Similarity,
    ) -> Vec<(Vec<u32>, u32)> {
        train
            .iter()
            .map(|&a| {
                let na = count(a) as u64;
                let mut candidates: Vec<(u64, u64, usize)> = train
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| count(a & b) > 0 && b & !a != 0)
                    .map(|(c, &b)| {
                        let shared = count(a & b) as u64;
                        let (num, den) = match similarity {
                            Similarity::Cosine => (shared * shared, na * count(b) as u64),
                            Similarity::Jaccard => (shared, count(a | b) as u64),
                        };
                        (num, den, c)
                    })
                    .collect();
                candidates.sort_by(|x, y| (y.0 * x.1).cmp(&(x.0 * y.1)).then(x.2.cmp(&y.2)));
                let mut votes = vec![0u32; n_products];
                let chosen = candidates.iter().take(k);
                let found = chosen.len() as u32;
                for &(_, _, c) in chosen {
                    for p in products_of(train[c]) {
                        votes[p] += 1;
                    }
                }
                (votes, found)
            })
            .collect()
    }

    fn random_holdings(customers: usize, n_products: usize, seed: u64) -> Vec<Basket> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        // Products of unequal popularity, as in a bank, so that twins and ties abound.
        let popularity: Vec<f64> = (0..n_products).map(|p| 0.8 / (1.0 + p as f64)).collect();
        (0..customers)
            .map(|_| {
                (0..n_products)
                    .filter(|&p| rng.random::<f64>() < popularity[p])
                    .fold(0, |acc, p| acc | 1 << p)
            })
            .collect()
    }

    #[test]
    fn equals_brute_force_on_random_holdings() {
        for (customers, n_products, k, seed) in [(400, 8, 10, 1), (300, 12, 25, 2), (50, 5, 60, 3)]
        {
            let train = random_holdings(customers, n_products, seed);
            for similarity in [Similarity::Cosine, Similarity::Jaccard] {
                let fast = UserKnn::fit(&train, n_products, k, similarity);
                let slow = brute_force(&train, n_products, k, similarity);
                for (c, (votes, found)) in slow.iter().enumerate() {
                    let (v, f) = fast.votes(c);
                    assert_eq!(
                        (v, f),
                        (votes.as_slice(), *found),
                        "customer {c}, {similarity:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_product_held_by_every_neighbour_and_no_one_else_is_voted_for() {
        // Customers 0..5 hold {0, 1}; customer 5 holds {0, 1, 2}; customer 6 holds {3}.
        let mut train = vec![0b0011; 5];
        train.push(0b0111);
        train.push(0b1000);
        let knn = UserKnn::fit(&train, 4, 3, Similarity::Cosine);
        let (votes, found) = knn.votes(0);
        // Only customer 5 holds something customer 0 lacks and shares a product.
        assert_eq!(found, 1);
        assert_eq!(votes, &[1, 1, 1, 0]);
        // Customer 6 shares nothing with anyone: no neighbours.
        assert_eq!(knn.votes(6), (&[0u32, 0, 0, 0][..], 0));
    }
}
