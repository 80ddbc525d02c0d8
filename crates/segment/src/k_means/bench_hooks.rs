//! Lloyd passes on their own, for the benchmarks only (`crates/bench`, with the
//! `bench-hooks` feature): not part of the library's API.

use ndarray::{Array2, ArrayView2};

use super::algorithm::{assign_step_with, lloyd_iteration};
use super::bounds::Assignment;
use super::distances::Centres;
use super::rows::Rows;

/// Lloyd passes over a fixed matrix, exposed on their own so that the benchmarks
/// (`crates/bench`) can time them and set them against the memory-bandwidth bound:
/// [`LloydPass::run`] is one full pass (every row to its nearest centre, by a scan of
/// every centre), [`LloydPass::iterate`] one iteration of [`fit`]'s loop, with the
/// bounds that spare most of the scan once the centres settle.
pub struct LloydPass<'a> {
    data: Rows<'a>,
    assignment: Assignment,
}

impl<'a> LloydPass<'a> {
    pub fn new(x: ArrayView2<'a, f64>) -> Self {
        let data = Rows::new(x);
        let assignment = Assignment::new(data.n, true);
        LloydPass { data, assignment }
    }

    /// Assigns every row to its nearest row of `centres` (k × d, with d the matrix's
    /// columns) by a full scan, keeping no bounds, and returns each centre's count of
    /// rows. The next [`LloydPass::iterate`] scans again.
    pub fn run(&mut self, centres: &Array2<f64>) -> Vec<usize> {
        self.full_pass(&Centres::new(centres.view()), centres.dim())
    }

    /// [`LloydPass::run`] with the portable kernels only, never the AVX-512 one (same
    /// results): the baseline the benchmarks set it against.
    pub fn run_portable(&mut self, centres: &Array2<f64>) -> Vec<usize> {
        self.full_pass(&Centres::portable(centres.view()), centres.dim())
    }

    fn full_pass(&mut self, table: &Centres, (k, d): (usize, usize)) -> Vec<usize> {
        let assignment = &mut self.assignment;
        assignment.last = None;
        assignment.scanned = self.data.n;
        let (labels, distances) = (&mut assignment.labels, &mut assignment.distances);
        assign_step_with(&self.data, table, k, d, labels, distances).1
    }

    /// Rows whose distances to every centre the last pass computed.
    pub fn scanned(&self) -> usize {
        self.assignment.scanned
    }

    /// One iteration of [`fit`]'s Lloyd loop from `centres`, which move to their rows'
    /// means; the assignment uses the bounds left by the previous call (the first call
    /// scans). Returns how many labels changed.
    pub fn iterate(&mut self, centres: &mut Array2<f64>) -> usize {
        lloyd_iteration(&self.data, &mut self.assignment, centres).1
    }
}
