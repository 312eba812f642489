//! t0-ffi: the C ABI of t0. The header is `include/t0.h`.
#![deny(missing_docs)]

/// The library version as a NUL-terminated string, for `t0_version()`.
static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// Returns the library version as a static NUL-terminated string. Never NULL; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn t0_version() -> *const core::ffi::c_char {
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_nul_terminated() {
        // SAFETY: t0_version returns a pointer to a static, NUL-terminated string.
        let s = unsafe { core::ffi::CStr::from_ptr(super::t0_version()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
