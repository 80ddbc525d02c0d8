//! Scores of a binary classifier's probabilities against the labels, with
//! scikit-learn's definitions: `roc_auc_score` (ties count half) and
//! `average_precision_score` (precision at each distinct threshold, weighted by the
//! recall it adds; no interpolation).

/// The area under the ROC curve: the chance that a random positive scores above a random
/// negative, ties counting half. `None` without both classes.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let order = descending(scores);
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Walking down the scores, each negative is beaten by the positives above it, and
    // ties with those in its own group by half.
    let mut above = 0.0;
    let mut wins = 0.0;
    for group in ties(&order, scores) {
        let p = group.iter().filter(|&&i| labels[i]).count() as f64;
        let n = group.len() as f64 - p;
        wins += n * (above + p / 2.0);
        above += p;
    }
    Some(wins / (positives * negatives))
}

/// Average precision: Σ over the distinct thresholds, highest first, of the precision
/// there times the recall gained. `None` without a positive.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let order = descending(scores);
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    if positives == 0.0 {
        return None;
    }
    let (mut tp, mut seen, mut ap) = (0.0, 0.0, 0.0);
    for group in ties(&order, scores) {
        let p = group.iter().filter(|&&i| labels[i]).count() as f64;
        tp += p;
        seen += group.len() as f64;
        ap += (p / positives) * (tp / seen);
    }
    Some(ap)
}

/// The share of positives among the `ceil(fraction × n)` highest scores (ties by row
/// order), the lift chart's first point.
pub fn top_share(scores: &[f64], labels: &[bool], fraction: f64) -> Option<f64> {
    let take = (fraction * scores.len() as f64).ceil() as usize;
    if take == 0 {
        return None;
    }
    let order = descending(scores);
    let hits = order[..take.min(order.len())]
        .iter()
        .filter(|&&i| labels[i])
        .count();
    Some(hits as f64 / take as f64)
}

/// Row indices by score, highest first, ties in row order.
fn descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Runs of equal scores in `order`.
fn ties<'a>(order: &'a [usize], scores: &'a [f64]) -> impl Iterator<Item = &'a [usize]> {
    order.chunk_by(move |&a, &b| scores[a] == scores[b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_and_average_precision_match_scikit_learn() {
        // sklearn.metrics on these: roc_auc_score 0.75, average_precision_score 0.8333…
        let scores = [0.1, 0.4, 0.35, 0.8];
        let labels = [false, false, true, true];
        assert!((roc_auc(&scores, &labels).unwrap() - 0.75).abs() < 1e-15);
        assert!((average_precision(&scores, &labels).unwrap() - 5.0 / 6.0).abs() < 1e-15);
        // Ties: roc_auc_score([0,1,0,1,1], [.5,.5,.2,.9,.2]) = 0.6666…, and
        // average_precision_score = 0.7555…
        let scores = [0.5, 0.5, 0.2, 0.9, 0.2];
        let labels = [false, true, false, true, true];
        assert!((roc_auc(&scores, &labels).unwrap() - 2.0 / 3.0).abs() < 1e-15);
        let ap = average_precision(&scores, &labels).unwrap();
        assert!((ap - (1.0 / 3.0 + 1.0 / 3.0 * 2.0 / 3.0 + 1.0 / 3.0 * 3.0 / 5.0)).abs() < 1e-15);
        assert_eq!(roc_auc(&[0.3, 0.4], &[true, true]), None);
        assert_eq!(average_precision(&[0.3], &[false]), None);
    }

    #[test]
    fn top_share_takes_the_ceiling_of_the_fraction() {
        let scores = [0.9, 0.1, 0.8, 0.7, 0.2];
        let labels = [true, true, false, true, false];
        // ceil(0.5 × 5) = 3 rows: 0.9, 0.8, 0.7 → 2 of 3.
        assert!((top_share(&scores, &labels, 0.5).unwrap() - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(top_share(&[], &[], 0.1), None);
    }
}
