//! `t0 quantize` and `--dtype int8|q4` on `t0 score` / `t0 generate`.

use std::path::Path;
use std::process::Output;

mod common;
use common::t0;

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../t0-core/tests/fixtures/models/v11_gelu_untied")
        .to_string_lossy()
        .into_owned()
}

fn scores(o: &Output) -> Vec<f32> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split('\t').next()?.parse().ok())
        .collect()
}

#[test]
fn quantize_then_score_and_generate() {
    let dir = tempfile::tempdir().unwrap();
    let m = fixture();
    let score = [
        "--input-ids",
        "5 6 7 8",
        "--choice-ids",
        "3 1|||4 1|||9 9 1",
    ];
    let f32s = scores(&t0(&[&["score", "--model", &m][..], &score[..]].concat()));
    for dtype in ["int8", "q4"] {
        let out = dir.path().join(dtype);
        let out = out.to_str().unwrap();
        let o = t0(&["quantize", "--model", &m, "--out", out, "--dtype", dtype]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("quantized"));
        // Loading the quantized directory and quantizing at load give the same scores.
        let a = scores(&t0(&[
            &["score", "--model", out, "--dtype", dtype][..],
            &score[..],
        ]
        .concat()));
        let b = scores(&t0(&[
            &["score", "--model", &m, "--dtype", dtype][..],
            &score[..],
        ]
        .concat()));
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        let tol = if dtype == "int8" { 0.05 } else { 0.5 };
        for (x, y) in a.iter().zip(&f32s) {
            assert!((x - y).abs() <= tol * y.abs(), "{dtype}: {a:?} vs {f32s:?}");
        }
        let g = t0(&[
            "generate",
            "--model",
            out,
            "--dtype",
            dtype,
            "--input-ids",
            "5 6 7",
            "--max-new-tokens",
            "4",
        ]);
        assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
        assert!(!String::from_utf8_lossy(&g.stdout).trim().is_empty());
        // The wrong --dtype for a quantized checkpoint is a clear error.
        let other = if dtype == "int8" { "q4" } else { "int8" };
        let e = t0(&[&["score", "--model", out, "--dtype", other][..], &score[..]].concat());
        assert!(!e.status.success());
        assert!(String::from_utf8_lossy(&e.stderr).contains(&format!("quantized as {dtype}")));
    }
    let bad = t0(&[
        "quantize",
        "--model",
        &m,
        "--out",
        dir.path().join("x").to_str().unwrap(),
        "--dtype",
        "q3",
    ]);
    assert!(!bad.status.success());
}
