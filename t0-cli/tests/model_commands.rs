//! `t0 forward`, `t0 generate` and `t0 score` on a fixture model, checked against the HF
//! reference numbers stored beside it (see scripts/make_fixtures.py).

use serde_json::Value;
use t0_core::safetensors::SafeTensors;
use t0_core::tensor::TensorSource;

mod common;
use common::{model_dir, stdout_ok, t0};

fn reference(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(model_dir(name).join("reference.json")).unwrap())
        .unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn join(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

#[test]
fn forward_writes_hf_logits_as_npy() {
    let name = "v11_gelu_untied";
    let r = reference(name);
    let input = ids(&r["inputs"][0]);
    let dec = ids(&r["decoder_ids"][0]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("logits.npy");
    let dir = model_dir(name);
    stdout_ok(&t0(&[
        "forward",
        "--model",
        dir.to_str().unwrap(),
        "--input-ids",
        &join(&input),
        "--decoder-ids",
        &join(&dec),
        "--out",
        out.to_str().unwrap(),
    ]));
    let b = std::fs::read(&out).unwrap();
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(&b[10..10 + hl]).unwrap();
    let vocab = 128;
    assert!(
        header.contains(&format!("'shape': ({}, {vocab})", dec.len())),
        "{header}"
    );
    assert!(header.contains("'descr': '<f4'"));
    let got: Vec<f32> = b[10 + hl..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let arrays = std::fs::read(dir.join("reference.safetensors")).unwrap();
    let st = SafeTensors::parse(&arrays).unwrap();
    let want = st.tensor("logits.0").unwrap().to_f32_vec().unwrap();
    assert_eq!(got.len(), want.len());
    let num: f64 = got
        .iter()
        .zip(&want)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let den: f64 = want.iter().map(|b| (*b as f64).powi(2)).sum();
    assert!((num / den).sqrt() < 1e-4);
}

#[test]
fn generate_ids_match_hf_greedy() {
    let name = "v11_gelu_untied";
    let r = reference(name);
    let max_new = r["max_new_tokens"].as_u64().unwrap().to_string();
    for i in 0..2 {
        let out = stdout_ok(&t0(&[
            "generate",
            "--model",
            model_dir(name).to_str().unwrap(),
            "--max-new-tokens",
            &max_new,
            "--input-ids",
            &join(&ids(&r["inputs"][i])),
        ]));
        assert_eq!(out.trim(), join(&ids(&r["greedy"][i])));
    }
}

#[test]
fn score_ids_match_hf_and_name_the_winner() {
    let name = "gated_silu";
    let r = reference(name);
    let choices: Vec<Vec<u32>> = r["choices"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(ids)
        .collect();
    let spec = choices
        .iter()
        .map(|c| join(c))
        .collect::<Vec<_>>()
        .join("|||");
    let out = stdout_ok(&t0(&[
        "score",
        "--model",
        model_dir(name).to_str().unwrap(),
        "--input-ids",
        &join(&ids(&r["inputs"][0])),
        "--choice-ids",
        &spec,
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), choices.len() + 1);
    let mut best = (f64::NEG_INFINITY, String::new());
    for (i, line) in lines[..choices.len()].iter().enumerate() {
        let (s, label) = line.split_once('\t').unwrap();
        let s: f64 = s.parse().unwrap();
        let want = r["scores"][0][i].as_f64().unwrap();
        assert!(
            (s - want).abs() < 1e-4 * want.abs().max(1.0),
            "{s} vs {want}"
        );
        assert_eq!(label, join(&choices[i]));
        if s > best.0 {
            best = (s, label.to_string());
        }
    }
    assert_eq!(lines[choices.len()], format!("winner: {}", best.1));
}

#[test]
fn overlong_input_fails_or_truncates_on_request() {
    let name = "v11_gelu_untied";
    let r = reference(name);
    let input = ids(&r["inputs"][1]);
    let dir = model_dir(name);
    let d = dir.to_str().unwrap();
    let o = t0(&[
        "generate",
        "--model",
        d,
        "--max-input-tokens",
        "3",
        "--input-ids",
        &join(&input),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("exceeds the maximum of 3"));
    let long = stdout_ok(&t0(&[
        "generate",
        "--model",
        d,
        "--max-input-tokens",
        "3",
        "--truncate",
        "--input-ids",
        &join(&input),
    ]));
    let short = stdout_ok(&t0(&[
        "generate",
        "--model",
        d,
        "--input-ids",
        &join(&input[..3]),
    ]));
    assert_eq!(long, short);
}

#[test]
fn errors_are_reported_not_panics() {
    let dir = model_dir("v11_gelu_untied");
    let d = dir.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["generate", "--model", d, "--input-ids", "5 999"],
            "999",
        ),
        (
            vec!["generate", "--model", d, "--input-ids", "5 x"],
            "\"x\"",
        ),
        (
            vec!["generate", "--model", d, "--input-ids", ""],
            "no tokens",
        ),
        (
            vec![
                "score",
                "--model",
                d,
                "--input-ids",
                "5",
                "--choice-ids",
                "7|||",
            ],
            "choice 1",
        ),
        (
            vec![
                "generate",
                "--model",
                "/nonexistent/model",
                "--input-ids",
                "5",
            ],
            "/nonexistent/model",
        ),
        (
            vec![
                "forward",
                "--model",
                d,
                "--input-ids",
                "5",
                "--decoder-ids",
                "",
                "--out",
                "/tmp/x.npy",
            ],
            "decoder input",
        ),
    ] {
        let o = t0(&args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `--device cuda` scores like the CPU (bf16 tolerance, as t0-cuda's parity tests) where a
/// GPU is present, and says why not (no panic) where there is none; bad device names and
/// quantized weights on a GPU are usage errors.
#[test]
fn device_cuda_scores_like_the_cpu_or_says_why_not() {
    let name = "gated_silu";
    let r = reference(name);
    let dir = model_dir(name);
    let spec = r["choices"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| join(&ids(c)))
        .collect::<Vec<_>>()
        .join("|||");
    let input = join(&ids(&r["inputs"][0]));
    let score = |extra: &[&str]| {
        let mut args = vec![
            "score",
            "--model",
            dir.to_str().unwrap(),
            "--input-ids",
            &input,
            "--choice-ids",
            &spec,
        ];
        args.extend_from_slice(extra);
        t0(&args)
    };
    let parse = |out: &str| -> Vec<f64> {
        out.lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(s, _)| s.parse().unwrap())
            .collect()
    };
    let cpu = parse(&stdout_ok(&score(&["--device", "cpu"])));
    let o = score(&["--device", "cuda"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    if o.status.success() {
        let gpu = parse(&String::from_utf8_lossy(&o.stdout));
        assert_eq!(gpu.len(), cpu.len());
        for (g, c) in gpu.iter().zip(&cpu) {
            assert!((g - c).abs() <= 3e-2 * c.abs().max(1.0), "gpu {g} cpu {c}");
        }
    } else {
        assert!(err.contains("--device cuda:0"), "{err}");
        eprintln!("no usable CUDA device here: {err}");
    }
    for (extra, why) in [
        (&["--device", "gpu"][..], "unknown device"),
        (&["--device", "cuda:x"][..], "unknown device"),
        (&["--device", "cuda", "--dtype", "int8"][..], "--dtype"),
    ] {
        let o = score(extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra:?} succeeded");
        assert!(
            err.contains(why) && !err.contains("panicked"),
            "{extra:?}: {err}"
        );
    }
    // generate takes the same option.
    let o = t0(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--device",
        "cuda:7",
        "--input-ids",
        &input,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    if !o.status.success() {
        assert!(err.contains("--device cuda:7"), "{err}");
    }
}
