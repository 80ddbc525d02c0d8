//! Shared parts of clientele's benchmark drivers: seeded synthetic data for the criterion
//! micro-benchmarks (`benches/kernels.rs`) and the memory-bandwidth measurement
//! (`clientele-bandwidth`). It times nothing itself and is not used by the pipeline.

pub mod bandwidth;
pub mod synthetic;
