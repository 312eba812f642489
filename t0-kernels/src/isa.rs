//! Instruction-set paths and their detection.
//!
//! Under `std` the best path is detected once at run time (`is_x86_feature_detected!`) and
//! cached; without `std` it is chosen from the compile-time target features. Every public
//! kernel has a `*_with(isa, ...)` form so tests and benchmarks can force each path.

/// One implementation path of the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Portable Rust, one lane at a time (always available).
    Scalar,
    /// x86-64 AVX2 + FMA + F16C, 8 f32 lanes.
    Avx2,
    /// x86-64 AVX-512F, 16 f32 lanes.
    Avx512,
    /// aarch64 Advanced SIMD (NEON), 4 f32 lanes.
    Neon,
}

impl Isa {
    /// Every path, best first.
    pub const ALL: [Isa; 4] = [Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Scalar];

    /// Lower-case name (`avx512`, `avx2`, `neon`, `scalar`).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Whether this CPU (under `std`) or this compilation target (without `std`) can run
    /// the path. Cheap: the detection runs once and is cached.
    pub fn is_available(self) -> bool {
        avail_mask() & (1 << self as u8) != 0
    }

    /// The paths available here, best first (always ends with [`Isa::Scalar`]).
    pub fn available() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available())
    }

    /// The best available path (what the plain kernel functions use).
    pub fn best() -> Isa {
        Isa::available().next().unwrap_or(Isa::Scalar)
    }
}

#[cfg(feature = "std")]
fn avail_mask() -> u8 {
    use core::sync::atomic::{AtomicU8, Ordering};
    // Bit 7 marks "detected"; bits 0..4 are the Isa discriminants.
    static MASK: AtomicU8 = AtomicU8::new(0);
    let m = MASK.load(Ordering::Relaxed);
    if m & 0x80 != 0 {
        return m;
    }
    let m = detect() | 0x80;
    MASK.store(m, Ordering::Relaxed);
    m
}

#[cfg(feature = "std")]
fn detect() -> u8 {
    let mut m = 1 << Isa::Scalar as u8;
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            m |= 1 << Isa::Avx512 as u8;
        }
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
        {
            m |= 1 << Isa::Avx2 as u8;
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            m |= 1 << Isa::Neon as u8;
        }
    }
    m
}

#[cfg(not(feature = "std"))]
fn avail_mask() -> u8 {
    let mut m = 1 << Isa::Scalar as u8;
    if cfg!(all(target_arch = "x86_64", target_feature = "avx512f")) {
        m |= 1 << Isa::Avx512 as u8;
    }
    if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    )) {
        m |= 1 << Isa::Avx2 as u8;
    }
    if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
        m |= 1 << Isa::Neon as u8;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_always_available_and_best_is_available() {
        assert!(Isa::Scalar.is_available());
        assert!(Isa::best().is_available());
        assert_eq!(Isa::available().last(), Some(Isa::Scalar));
        #[cfg(not(target_arch = "x86_64"))]
        assert!(!Isa::Avx512.is_available() && !Isa::Avx2.is_available());
    }
}
