//! f64 references.
