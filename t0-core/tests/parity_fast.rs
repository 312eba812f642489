//! The HF parity tests of `parity.rs` (same body, same tolerances), run on the fast SIMD
//! backend (`FastCpuBackend`, best ISA of this CPU).

use t0_core::backend::FastCpuBackend as TestBackend;

include!("common/parity_body.rs");
