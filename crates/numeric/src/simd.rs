//! Compiling a hot loop twice: for the baseline x86-64 (SSE2, two f64 lanes) and for
//! AVX2 (four lanes), chosen at run time. Written by hand because the loops are few and
//! the standard library's feature detection is all it takes.
//!
//! Only AVX2 is enabled, not FMA: additions, multiplications and square roots round the
//! same in both builds (Rust never contracts `a * b + c` into a fused operation), so the
//! results are identical bit for bit on every machine; only the speed differs.
//!
//! `CLIENTELE_SIMD` caps what the kernels may use, so that every path can be tested on
//! any machine that has the widest one ([`SimdCap`]): `native` (the default) uses what
//! the CPU has, `portable` keeps the hand-written AVX-512 kernels off (the portable
//! Rust kernels run, compiled for AVX2 where the CPU has it), `sse2` also keeps AVX2
//! off (the baseline build everywhere).

use std::sync::OnceLock;

/// The widest instruction set the kernels may use, read once from `CLIENTELE_SIMD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdCap {
    /// The baseline build: SSE2 on x86-64.
    Sse2,
    /// The portable kernels, compiled for AVX2 where the CPU has it.
    Portable,
    /// Whatever the CPU has, AVX-512 kernels included.
    Native,
}

/// The environment variable that caps the kernels.
pub const SIMD_ENV: &str = "CLIENTELE_SIMD";

impl SimdCap {
    /// Reads a value of `CLIENTELE_SIMD`; unset is `native`.
    pub fn parse(value: Option<&str>) -> Result<SimdCap, String> {
        match value.map(str::trim) {
            None | Some("") | Some("native") => Ok(SimdCap::Native),
            Some("portable") => Ok(SimdCap::Portable),
            Some("sse2") => Ok(SimdCap::Sse2),
            Some(other) => Err(format!(
                "{SIMD_ENV} is `{other}`; it takes `native`, `portable` or `sse2`"
            )),
        }
    }

    /// The cap this process runs under: `CLIENTELE_SIMD`, or `native` when it is unset
    /// or not one of the three values (the runner refuses such a value before any
    /// stage runs, with [`SimdCap::parse`]'s message).
    pub fn current() -> SimdCap {
        static CAP: OnceLock<SimdCap> = OnceLock::new();
        *CAP.get_or_init(|| {
            let value = std::env::var(SIMD_ENV).ok();
            SimdCap::parse(value.as_deref()).unwrap_or(SimdCap::Native)
        })
    }
}

/// Whether the multiversioned loops run their AVX2 build: the CPU has AVX2 and the cap
/// allows it.
#[inline]
pub fn avx2_enabled() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        SimdCap::current() >= SimdCap::Portable && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether hand-written AVX-512 kernels may run: the CPU has AVX-512F and FMA and the
/// cap allows them.
#[inline]
pub fn avx512_enabled() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        SimdCap::current() >= SimdCap::Native
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `fn $name(args) -> ret` that runs `body` compiled with AVX2 when the CPU has
/// it and [`avx2_enabled`] allows it, and compiled for the baseline otherwise.
#[macro_export]
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn kernel($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                kernel($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            if $crate::simd::avx2_enabled() {
                // SAFETY: the CPU supports AVX2, checked by `avx2_enabled`.
                return unsafe { avx2($($arg),*) };
            }
            kernel($($arg),*)
        }
    };
}

/// Asks the CPU to fetch the cache lines of `values`: for rows read in an order its own
/// prefetcher does not see coming. Only a hint; it changes no result.
#[inline(always)]
pub fn prefetch_lines<T>(values: &[T]) {
    let line = (64 / std::mem::size_of::<T>().max(1)).max(1);
    #[cfg(target_arch = "x86_64")]
    for values in values.chunks(line) {
        // SAFETY: a prefetch only hints; the address is inside `values`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                values.as_ptr() as *const i8
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (values, line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_reads_its_three_values_and_names_a_wrong_one() {
        assert_eq!(SimdCap::parse(None), Ok(SimdCap::Native));
        assert_eq!(SimdCap::parse(Some("native")), Ok(SimdCap::Native));
        assert_eq!(SimdCap::parse(Some("portable")), Ok(SimdCap::Portable));
        assert_eq!(SimdCap::parse(Some(" sse2 ")), Ok(SimdCap::Sse2));
        let Err(message) = SimdCap::parse(Some("avx9")) else {
            panic!("an unknown cap must be refused");
        };
        assert!(message.contains("CLIENTELE_SIMD is `avx9`"), "{message}");
        assert!(SimdCap::Sse2 < SimdCap::Portable && SimdCap::Portable < SimdCap::Native);
    }

    crate::multiversion! {
        fn sum_of_squares(values: &[f64]) -> f64 {
            values.iter().map(|v| v * v).sum()
        }
    }

    #[test]
    fn the_multiversioned_loop_runs_under_the_cap_and_gives_the_scalar_bits() {
        let values: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
        let scalar: f64 = values.iter().map(|v| v * v).sum();
        assert_eq!(sum_of_squares(&values).to_bits(), scalar.to_bits());
        if SimdCap::current() == SimdCap::Sse2 {
            assert!(!avx2_enabled(), "CLIENTELE_SIMD=sse2 keeps AVX2 off");
        }
        if SimdCap::current() < SimdCap::Native {
            assert!(
                !avx512_enabled(),
                "the AVX-512 kernels need CLIENTELE_SIMD=native"
            );
        }
        eprintln!(
            "SIMD cap {:?}: AVX2 build {}, AVX-512 kernels {}",
            SimdCap::current(),
            if avx2_enabled() { "on" } else { "off" },
            if avx512_enabled() { "on" } else { "off" }
        );
    }
}
