//! Clustering quality metrics, shared by the segment stage (choosing k, profiles) and the
//! evaluate stage, with scikit-learn's definitions (`silhouette_samples`,
//! `silhouette_score`, `davies_bouldin_score`, `calinski_harabasz_score`, euclidean
//! distance), so that the same labels give the same numbers.
//!
//! Labels are cluster indices `0..k`; callers leave out DBSCAN noise before calling.
//! Distances are computed directly as `sqrt(Σ (a − b)²)`, not by scikit-learn's
//! `‖a‖² + ‖b‖² − 2a·b` shortcut, which loses precision for close points; the results
//! agree to far better than 1e-9.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

/// Why a clustering metric cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusteringError {
    #[error("there are {rows} rows but {labels} labels; each row needs one label")]
    LabelCount { rows: usize, labels: usize },
    #[error("{metric} needs between 2 and {max} clusters (one fewer than the rows), but the labels form {clusters}")]
    ClusterCount {
        metric: &'static str,
        clusters: usize,
        max: usize,
    },
}

fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The number of clusters, after checking the labels fit the rows and form between 2 and
/// `rows − 1` clusters, as scikit-learn requires.
fn clusters(
    x: ArrayView2<f64>,
    labels: &[usize],
    metric: &'static str,
) -> Result<usize, ClusteringError> {
    let rows = x.nrows();
    if labels.len() != rows {
        return Err(ClusteringError::LabelCount {
            rows,
            labels: labels.len(),
        });
    }
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let used = {
        let mut seen = vec![false; k];
        labels.iter().for_each(|&l| seen[l] = true);
        seen.iter().filter(|s| **s).count()
    };
    if used < 2 || used >= rows {
        return Err(ClusteringError::ClusterCount {
            metric,
            clusters: used,
            max: rows.saturating_sub(1),
        });
    }
    Ok(k)
}

/// Each row's silhouette: `(b − a) / max(a, b)`, where `a` is its mean distance to the
/// other members of its cluster and `b` its smallest mean distance to another cluster;
/// 0 for a row alone in its cluster. Exact: every pair is measured.
pub fn silhouette_samples(
    x: ArrayView2<f64>,
    labels: &[usize],
) -> Result<Vec<f64>, ClusteringError> {
    let mut all = silhouette_samples_many(x, &[labels])?;
    Ok(all.pop().unwrap_or_default())
}

/// The mean silhouette over all rows.
pub fn silhouette_score(x: ArrayView2<f64>, labels: &[usize]) -> Result<f64, ClusteringError> {
    Ok(silhouette_scores(x, &[labels])?[0])
}

/// The mean silhouette of each of several labelings of the same rows. Each distance is
/// computed once for all of them, so a k sweep costs one pass over the pairs.
pub fn silhouette_scores(
    x: ArrayView2<f64>,
    labelings: &[&[usize]],
) -> Result<Vec<f64>, ClusteringError> {
    Ok(silhouette_samples_many(x, labelings)?
        .iter()
        .map(|s| s.iter().sum::<f64>() / s.len() as f64)
        .collect())
}

/// Columns per block: 256 rows × 8 bytes × d features stay within a core's L2 cache.
const SILHOUETTE_COLUMN_BLOCK: usize = 256;
/// Rows per side of a tile of the pair matrix: each pair of tiles above the diagonal
/// is measured once, for both of its sides. Large, so that the partial sums kept until
/// the end (two per tile, a row's sum per cluster) stay small: at 20,000 rows and the
/// 54 clusters of a k = 2…10 sweep, 55 tiles and 97 MB.
const SILHOUETTE_TILE_ROWS: usize = 2048;

/// The silhouette of every row under each labeling: O(n²·d) time in parallel over tiles
/// of the pair matrix, each pair measured once (its distance added to both rows' sums),
/// O(n·d + n²·k / tile) memory. The data are laid out feature-major so that one row's
/// distances to a block of rows are summed feature by feature in a vectorisable loop;
/// each distance is still summed in feature order, `sqrt(Σ (a − b)²)`. A row's sum per
/// cluster adds one partial sum per tile of columns, in column order, each partial in
/// row order: the same bits on any number of threads.
fn silhouette_samples_many(
    x: ArrayView2<f64>,
    labelings: &[&[usize]],
) -> Result<Vec<Vec<f64>>, ClusteringError> {
    silhouette_tiled(x, labelings, SILHOUETTE_TILE_ROWS)
}

fn silhouette_tiled(
    x: ArrayView2<f64>,
    labelings: &[&[usize]],
    tile_rows: usize,
) -> Result<Vec<Vec<f64>>, ClusteringError> {
    // No labeling to score (a sweep whose every k was too large for its sample).
    if labelings.is_empty() {
        return Ok(Vec::new());
    }
    let mut offsets = Vec::with_capacity(labelings.len());
    let mut sizes: Vec<Vec<usize>> = Vec::with_capacity(labelings.len());
    let mut total = 0;
    for labels in labelings {
        let k = clusters(x, labels, "the silhouette")?;
        let mut s = vec![0usize; k];
        labels.iter().for_each(|&l| s[l] += 1);
        offsets.push(total);
        total += k;
        sizes.push(s);
    }
    let (n, d) = x.dim();
    // Feature-major, each feature padded to a whole number of tiles.
    let stride = n.div_ceil(TILE) * TILE;
    let mut columns = vec![0.0f64; stride * d];
    for (i, row) in x.rows().into_iter().enumerate() {
        for (f, v) in row.iter().enumerate() {
            columns[f * stride + i] = *v;
        }
    }
    let span = |t: usize| t * tile_rows..((t + 1) * tile_rows).min(n);
    let tiles = n.div_ceil(tile_rows);
    let pairs: Vec<(usize, usize)> = (0..tiles)
        .flat_map(|a| (a..tiles).map(move |b| (a, b)))
        .collect();
    let slots = LabelSlots::new(labelings, &offsets, total, tile_rows);
    // Per tile pair (a, b), b ≥ a: the rows of a's sums over the columns of b, and
    // (b > a) the rows of b's sums over the rows of a; `total` values per row.
    let partials: Vec<(Vec<f64>, Vec<f64>)> = pairs
        .par_iter()
        .map(|&(a, b)| {
            let (rows, cols) = (span(a), span(b));
            // Distances are added per slot (a cluster of one labeling, or one tuple of
            // labels), then spread to each labeling's clusters at the end of the tile.
            let width = slots.count;
            let mut row_sums = vec![0.0f64; rows.len() * width];
            let mut col_sums = vec![0.0f64; if a == b { 0 } else { cols.len() * width }];
            let points: Vec<Vec<f64>> = rows.clone().map(|i| x.row(i).to_vec()).collect();
            let mut buffers = [[0.0f64; SILHOUETTE_COLUMN_BLOCK]; ROWS_AT_ONCE];
            for start in cols.clone().step_by(SILHOUETTE_COLUMN_BLOCK) {
                let block = SILHOUETTE_COLUMN_BLOCK.min(cols.end - start);
                for (g, group) in points.chunks(ROWS_AT_ONCE).enumerate() {
                    // A short last group repeats its last row; those results are unused.
                    let last = group.len() - 1;
                    let four: [&[f64]; ROWS_AT_ONCE] =
                        std::array::from_fn(|r| group[r.min(last)].as_slice());
                    distances(
                        &four,
                        &columns,
                        stride,
                        start,
                        block.div_ceil(TILE) * TILE,
                        &mut buffers,
                    );
                    for (r, buffer) in buffers.iter().take(group.len()).enumerate() {
                        let i = rows.start + g * ROWS_AT_ONCE + r;
                        let sums = &mut row_sums[(i - rows.start) * width..][..width];
                        // A row's distance to itself is 0, so adding it changes no sum.
                        for (column_slots, row_slot) in slots.of.iter().map(|s| (s, s[i])) {
                            for (&distance, &slot) in buffer[..block]
                                .iter()
                                .zip(&column_slots[start..start + block])
                            {
                                sums[slot as usize] += distance;
                            }
                            if a != b {
                                let first = (start - cols.start) * width + row_slot as usize;
                                for (&distance, sum) in buffer[..block]
                                    .iter()
                                    .zip(col_sums[first..].iter_mut().step_by(width))
                                {
                                    *sum += distance;
                                }
                            }
                        }
                    }
                }
            }
            (slots.spread(row_sums), slots.spread(col_sums))
        })
        .collect();
    // Each row's sums: one partial per tile of columns, in column order.
    let mut partial_of = vec![vec![usize::MAX; tiles]; tiles];
    for (p, &(a, b)) in pairs.iter().enumerate() {
        partial_of[a][b] = p;
        partial_of[b][a] = p;
    }
    let mut samples = vec![Vec::with_capacity(n); labelings.len()];
    for (t, row_partials) in partial_of.iter().enumerate() {
        let rows = span(t);
        let mut sums = vec![0.0f64; rows.len() * total];
        for (other, &p) in row_partials.iter().enumerate() {
            let part = if other >= t {
                &partials[p].0
            } else {
                &partials[p].1
            };
            sums.iter_mut().zip(part).for_each(|(s, v)| *s += v);
        }
        for (i, sums) in rows.zip(sums.chunks_exact(total)) {
            for (((labels, &offset), sizes), out) in labelings
                .iter()
                .zip(&offsets)
                .zip(&sizes)
                .zip(samples.iter_mut())
            {
                out.push(silhouette_of(
                    &sums[offset..offset + sizes.len()],
                    sizes,
                    labels[i],
                ));
            }
        }
    }
    Ok(samples)
}

/// Where a row's distance to another is added. Direct: one slot per cluster of each
/// labeling (`offset + label`), one add per labeling. Tuples: the rows are numbered by
/// their tuple of labels over all the labelings, one add per pair, and each tuple's sum
/// is spread to its clusters at the end of the tile pair. The clusterings of a k sweep
/// nearly nest, so 20,000 rows under k = 2…10 form a few hundred tuples, not the tile's
/// 2,048 columns: tuples are used when spreading them (tuples × labelings adds a row)
/// costs less than the adds they save (tile rows × (labelings − 1)).
struct LabelSlots {
    /// Per pass over a tile's columns, the slot of every row.
    of: Vec<Vec<u32>>,
    /// Slots per row.
    count: usize,
    /// Tuples only: each tuple's cluster (`offset + label`) under each labeling.
    clusters: Option<Vec<usize>>,
    /// Sums per row once spread: the clusters of all labelings.
    total: usize,
}

impl LabelSlots {
    fn new(labelings: &[&[usize]], offsets: &[usize], total: usize, tile_rows: usize) -> Self {
        let direct = || LabelSlots {
            of: labelings
                .iter()
                .zip(offsets)
                .map(|(labels, &offset)| labels.iter().map(|&l| (offset + l) as u32).collect())
                .collect(),
            count: total,
            clusters: None,
            total,
        };
        let passes = labelings.len();
        if passes < 2 {
            return direct();
        }
        let most = tile_rows * (passes - 1) / passes;
        let rows = labelings[0].len();
        let mut numbers: std::collections::HashMap<Vec<usize>, u32> =
            std::collections::HashMap::new();
        let mut clusters = Vec::new();
        let mut of = Vec::with_capacity(rows);
        for i in 0..rows {
            let tuple: Vec<usize> = labelings
                .iter()
                .zip(offsets)
                .map(|(labels, &offset)| offset + labels[i])
                .collect();
            let next = numbers.len() as u32;
            let number = *numbers.entry(tuple).or_insert_with_key(|tuple| {
                clusters.extend_from_slice(tuple);
                next
            });
            if numbers.len() > most {
                return direct();
            }
            of.push(number);
        }
        LabelSlots {
            of: vec![of],
            count: numbers.len(),
            clusters: Some(clusters),
            total,
        }
    }

    /// Per-row slot sums as per-row cluster sums, tuples added in their numbering order.
    fn spread(&self, sums: Vec<f64>) -> Vec<f64> {
        let Some(clusters) = &self.clusters else {
            return sums;
        };
        let passes = clusters.len() / self.count.max(1);
        let mut out = vec![0.0f64; sums.len() / self.count.max(1) * self.total];
        for (row, spread) in sums
            .chunks_exact(self.count)
            .zip(out.chunks_exact_mut(self.total))
        {
            for (&sum, tuple) in row.iter().zip(clusters.chunks_exact(passes)) {
                for &cluster in tuple {
                    spread[cluster] += sum;
                }
            }
        }
        out
    }
}

/// Columns per tile of the distance kernel: two AVX2 vectors.
const TILE: usize = 8;
/// Rows whose distances the kernel computes together.
const ROWS_AT_ONCE: usize = 4;

crate::multiversion! {
    /// Euclidean distances from each of four points to the rows `start..start + width` of
    /// the feature-major `columns` (`stride` values per feature; `width` a multiple of
    /// [`TILE`]), into `out`. Four points and one tile of rows at a time, so that the
    /// 4 × 8 sums stay in registers while the features stream past; each distance is
    /// still summed in feature order, `sqrt(Σ (a − b)²)`.
    fn distances(
        points: &[&[f64]; ROWS_AT_ONCE],
        columns: &[f64],
        stride: usize,
        start: usize,
        width: usize,
        out: &mut [[f64; SILHOUETTE_COLUMN_BLOCK]; ROWS_AT_ONCE],
    ) {
        let d = points[0].len();
        for t in (0..width).step_by(TILE) {
            let mut acc = [[0.0f64; TILE]; ROWS_AT_ONCE];
            for f in 0..d {
                let at = f * stride + start + t;
                let tile: &[f64; TILE] = match columns[at..at + TILE].try_into() {
                    Ok(tile) => tile,
                    Err(_) => return,
                };
                for (acc, point) in acc.iter_mut().zip(points) {
                    let v = point[f];
                    for (a, &c) in acc.iter_mut().zip(tile) {
                        let diff = v - c;
                        *a += diff * diff;
                    }
                }
            }
            for (out, acc) in out.iter_mut().zip(&acc) {
                for (o, a) in out[t..t + TILE].iter_mut().zip(acc) {
                    *o = a.sqrt();
                }
            }
        }
    }
}

/// One row's silhouette from its summed distances to each cluster.
fn silhouette_of(sums: &[f64], sizes: &[usize], own: usize) -> f64 {
    if sizes[own] <= 1 {
        return 0.0;
    }
    let a = sums[own] / (sizes[own] - 1) as f64;
    let b = (0..sizes.len())
        .filter(|&c| c != own && sizes[c] > 0)
        .map(|c| sums[c] / sizes[c] as f64)
        .fold(f64::INFINITY, f64::min);
    let m = a.max(b);
    if m > 0.0 {
        (b - a) / m
    } else {
        0.0
    }
}

pub use crate::sample::sample_rows;

/// Cluster means, and the size of each cluster.
pub fn centroids(x: ArrayView2<f64>, labels: &[usize], k: usize) -> (Array2<f64>, Vec<usize>) {
    let mut sums = Array2::<f64>::zeros((k, x.ncols()));
    let mut sizes = vec![0usize; k];
    for (row, &l) in x.axis_iter(Axis(0)).zip(labels) {
        sums.row_mut(l).zip_mut_with(&row, |s, v| *s += v);
        sizes[l] += 1;
    }
    for (mut c, &n) in sums.axis_iter_mut(Axis(0)).zip(&sizes) {
        if n > 0 {
            c /= n as f64;
        }
    }
    (sums, sizes)
}

/// Davies–Bouldin: the mean over clusters of the worst ratio of within-cluster scatter
/// (mean distance to the centroid) to the distance between centroids. Lower is better.
pub fn davies_bouldin(x: ArrayView2<f64>, labels: &[usize]) -> Result<f64, ClusteringError> {
    let k = clusters(x, labels, "Davies–Bouldin")?;
    let (centres, sizes) = centroids(x, labels, k);
    let mut scatter = vec![0.0f64; k];
    for (row, &l) in x.axis_iter(Axis(0)).zip(labels) {
        scatter[l] += distance(row, centres.row(l));
    }
    for (s, &n) in scatter.iter_mut().zip(&sizes) {
        if n > 0 {
            *s /= n as f64;
        }
    }
    let used: Vec<usize> = (0..k).filter(|&c| sizes[c] > 0).collect();
    let mut total = 0.0;
    for &i in &used {
        let worst = used
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| {
                let d = distance(centres.row(i), centres.row(j));
                if d > 0.0 {
                    (scatter[i] + scatter[j]) / d
                } else {
                    f64::INFINITY
                }
            })
            .fold(f64::NEG_INFINITY, f64::max);
        total += worst;
    }
    Ok(total / used.len() as f64)
}

/// Calinski–Harabasz: between-cluster dispersion over within-cluster dispersion, each
/// divided by its degrees of freedom. Higher is better.
pub fn calinski_harabasz(x: ArrayView2<f64>, labels: &[usize]) -> Result<f64, ClusteringError> {
    let k = clusters(x, labels, "Calinski–Harabasz")?;
    let (centres, sizes) = centroids(x, labels, k);
    let used = sizes.iter().filter(|&&n| n > 0).count() as f64;
    let n = x.nrows() as f64;
    let mean: Array1<f64> = x
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()));
    let mut between = 0.0;
    for (c, &size) in centres.axis_iter(Axis(0)).zip(&sizes) {
        between += size as f64
            * c.iter()
                .zip(mean.iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>();
    }
    let mut within = 0.0;
    for (row, &l) in x.axis_iter(Axis(0)).zip(labels) {
        within += row
            .iter()
            .zip(centres.row(l).iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>();
    }
    Ok(if within == 0.0 {
        1.0
    } else {
        between * (n - used) / (within * (used - 1.0))
    })
}

/// Adjusted Rand index of two labelings of the same rows: 1 for the same partition
/// (whatever the numbering), about 0 for unrelated ones (scikit-learn's
/// `adjusted_rand_score`).
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> Result<f64, ClusteringError> {
    if a.len() != b.len() {
        return Err(ClusteringError::LabelCount {
            rows: a.len(),
            labels: b.len(),
        });
    }
    let ka = a.iter().max().map_or(0, |m| m + 1);
    let kb = b.iter().max().map_or(0, |m| m + 1);
    let mut table = vec![0u64; ka * kb];
    for (&i, &j) in a.iter().zip(b) {
        table[i * kb + j] += 1;
    }
    let pairs = |n: u64| (n * n.saturating_sub(1) / 2) as f64;
    let index: f64 = table.iter().map(|&n| pairs(n)).sum();
    let rows: f64 = (0..ka)
        .map(|i| pairs(table[i * kb..(i + 1) * kb].iter().sum()))
        .sum();
    let cols: f64 = (0..kb)
        .map(|j| pairs((0..ka).map(|i| table[i * kb + j]).sum()))
        .sum();
    let expected = rows * cols / pairs(a.len() as u64);
    let max = (rows + cols) / 2.0;
    Ok(if max == expected {
        1.0
    } else {
        (index - expected) / (max - expected)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn small_case_by_hand() {
        // Two tight pairs far apart on a line: 0, 1 and 10, 11.
        let x = array![[0.0], [1.0], [10.0], [11.0]];
        let labels = [0, 0, 1, 1];
        // Row 0: a = 1, b = (10 + 11) / 2 = 10.5, s = 9.5 / 10.5.
        let s = silhouette_samples(x.view(), &labels).unwrap();
        assert!((s[0] - 9.5 / 10.5).abs() < 1e-15);
        // Scatter 0.5 each, centroids 0.5 and 10.5 apart by 10: DB = 1 / 10.
        assert!((davies_bouldin(x.view(), &labels).unwrap() - 0.1).abs() < 1e-15);
        // Between 2·25 + 2·25 = 100, within 4·0.25 = 1: CH = 100·2 / (1·1).
        assert!((calinski_harabasz(x.view(), &labels).unwrap() - 200.0).abs() < 1e-12);
    }

    #[test]
    fn blocked_silhouette_equals_the_plain_definition_bit_for_bit() {
        // 301 rows: not a whole number of tiles, row groups or blocks.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((301, 5), |_| rng.random::<f64>());
        let labels: Vec<usize> = (0..301).map(|i| (i * 7 + i / 13) % 4).collect();
        let plain: Vec<f64> = (0..301)
            .map(|i| {
                let mut sums = [0.0f64; 4];
                let mut sizes = [0usize; 4];
                for j in 0..301 {
                    sums[labels[j]] += distance(x.row(i), x.row(j));
                    sizes[labels[j]] += 1;
                }
                silhouette_of(&sums, &sizes, labels[i])
            })
            .collect();
        assert_eq!(silhouette_samples(x.view(), &labels).unwrap(), plain);
    }

    /// Tiles of 64 over 301 rows (tiles above the diagonal and a short last one), on one
    /// and three threads, against each row's sums over every other row.
    fn assert_tiled_agrees_with_the_plain_definition(labelings: &[&[usize]]) {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = Array2::from_shape_fn((301, 5), |_| rng.random::<f64>());
        let tiled = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| silhouette_tiled(x.view(), labelings, 64).unwrap())
        };
        let one = tiled(1);
        assert_eq!(one, tiled(3));
        for (labels, tiled) in labelings.iter().zip(&one) {
            let k = labels.iter().max().unwrap() + 1;
            for i in 0..301 {
                let mut sums = vec![0.0f64; k];
                let mut sizes = vec![0usize; k];
                for j in 0..301 {
                    sums[labels[j]] += distance(x.row(i), x.row(j));
                    sizes[labels[j]] += 1;
                }
                let plain = silhouette_of(&sums, &sizes, labels[i]);
                assert!(
                    (plain - tiled[i]).abs() < 1e-14,
                    "{i}: {plain} {}",
                    tiled[i]
                );
            }
        }
    }

    #[test]
    fn each_pair_measured_once_agrees_with_the_plain_definition_on_any_thread_count() {
        let first: Vec<usize> = (0..301).map(|i| (i * 7 + i / 13) % 4).collect();
        let second: Vec<usize> = (0..301).map(|i| (i * 3) % 7).collect();
        let many: Vec<usize> = (0..301).map(|i| (i * 11) % 40).collect();
        let labelings: [&[usize]; 2] = [&first, &second];
        // At most 28 tuples of labels: added per tuple, then spread.
        let slots = LabelSlots::new(&labelings, &[0, 4], 11, 64);
        assert!(slots.clusters.is_some() && slots.count <= 28);
        assert_tiled_agrees_with_the_plain_definition(&labelings);
        // 160 tuples, more than a tile of 64 saves: added per cluster of each labeling.
        let labelings: [&[usize]; 2] = [&first, &many];
        let slots = LabelSlots::new(&labelings, &[0, 4], 44, 64);
        assert!(slots.clusters.is_none() && slots.count == 44);
        assert_tiled_agrees_with_the_plain_definition(&labelings);
        assert_tiled_agrees_with_the_plain_definition(&[&first, &second, &many]);
    }

    #[test]
    fn no_labeling_scores_nothing() {
        let x = array![[0.0], [1.0]];
        assert_eq!(silhouette_scores(x.view(), &[]).unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn adjusted_rand_index_ignores_numbering() {
        assert_eq!(
            adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap(),
            1.0
        );
        // scikit-learn: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.5714285714285714
        let ari = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap();
        assert!((ari - 0.5714285714285714).abs() < 1e-15, "{ari}");
    }

    #[test]
    fn one_cluster_or_a_label_per_row_is_refused() {
        let x = array![[0.0], [1.0], [2.0]];
        assert!(silhouette_score(x.view(), &[0, 0, 0]).is_err());
        assert!(davies_bouldin(x.view(), &[0, 1, 2]).is_err());
        assert!(matches!(
            calinski_harabasz(x.view(), &[0, 1]).unwrap_err(),
            ClusteringError::LabelCount { rows: 3, labels: 2 }
        ));
    }
}
