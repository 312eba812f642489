//! Helpers shared by the `t0` command tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `t0` with `args`.
pub fn t0(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_t0"))
        .args(args)
        .output()
        .unwrap()
}

/// Its stdout, after asserting it succeeded (stderr shown otherwise).
pub fn stdout_ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "t0 failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A fixture model directory of t0-core (`t0-core/tests/fixtures/models/NAME`).
pub fn model_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../t0-core/tests/fixtures/models")
        .join(name)
}
