//! The backend conformance suite (f64 oracle) on `FastCpuBackend`, once per ISA path this
//! CPU has, at the f32 tolerance.

use t0_core::backend::FastCpuBackend;
use t0_core::backend::conformance::{Tolerance, check_all};
use t0_kernels::Isa;

#[test]
fn fast_backend_conforms_on_every_isa() {
    for isa in Isa::available() {
        let be = FastCpuBackend::with_isa(isa).unwrap();
        if let Err(e) = check_all(&be, Tolerance::F32) {
            panic!("{isa:?}: {e}");
        }
    }
}
