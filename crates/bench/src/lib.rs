//! Shared parts of clientele's benchmark drivers: seeded synthetic data for the criterion
//! micro-benchmarks (`benches/kernels.rs`) and the memory-bandwidth measurement
//! (`clientele-bandwidth`). It times nothing itself and is not used by the pipeline.

// `deny`, not `forbid`: ndarray's `s!` macro allows unsafe code inside its expansion,
// which `forbid` refuses to let it do.
#![deny(unsafe_code)]

pub mod bandwidth;
pub mod synthetic;
