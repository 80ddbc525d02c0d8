//! Compiling a hot loop twice: for the baseline x86-64 (SSE2, two f64 lanes) and for
//! AVX2 (four lanes), chosen at run time. Written by hand because the loops are few and
//! the standard library's feature detection is all it takes.
//!
//! Only AVX2 is enabled, not FMA: additions, multiplications and square roots round the
//! same in both builds (Rust never contracts `a * b + c` into a fused operation), so the
//! results are identical bit for bit on every machine; only the speed differs.

/// Defines `fn $name(args) -> ret` that runs `body` compiled with AVX2 when the CPU has
/// it, and compiled for the baseline otherwise.
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
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { avx2($($arg),*) };
            }
            kernel($($arg),*)
        }
    };
}
