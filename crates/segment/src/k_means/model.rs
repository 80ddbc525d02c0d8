//! The fitted K-Means model: its centres, the training labels and inertia, and the
//! assignment of new rows (linfa's `PredictInplace`).

use linfa::traits::PredictInplace;
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix2};
use rayon::prelude::*;

use super::distances::{nearest_squared_rows, Centres};
use super::rows::Rows;
use super::CHUNK_ROWS;

/// A fitted K-Means model: the centres, and what fitting found.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    pub centroids: Array2<f64>,
    /// The label of each training row.
    pub labels: Vec<usize>,
    /// Sum of squared distances of the rows to their centres.
    pub inertia: f64,
    /// Lloyd iterations of the winning restart.
    pub iterations: usize,
}

impl KMeansModel {
    /// The nearest centre of each row, and the distance (not squared) to it.
    pub fn assign(&self, x: ArrayView2<f64>) -> (Vec<usize>, Vec<f64>) {
        let centres = Centres::new(self.centroids.view());
        let data = Rows::new(x);
        let mut labels = vec![0usize; data.n];
        let mut distances = vec![0.0f64; data.n];
        labels
            .par_chunks_mut(CHUNK_ROWS)
            .zip(distances.par_chunks_mut(CHUNK_ROWS))
            .enumerate()
            .for_each(|(chunk, (labels, distances))| {
                let first = chunk * CHUNK_ROWS;
                let rows = &data.values[first * data.d..(first + labels.len()) * data.d];
                nearest_squared_rows(rows, data.d, &centres, labels, distances);
                distances.iter_mut().for_each(|d| *d = d.sqrt());
            });
        (labels, distances)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for KMeansModel {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        let (labels, _) = self.assign(x.view());
        y.iter_mut().zip(labels).for_each(|(y, l)| *y = l);
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}
