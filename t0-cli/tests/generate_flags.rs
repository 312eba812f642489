//! `t0 generate`'s HF-named flags: beam search, sampling, penalties, constraints and
//! streaming, checked against the library (itself checked token for token against HF in
//! t0-core/tests/generate_parity.rs), and bad flags as clear errors.

use std::path::{Path, PathBuf};

use t0_core::backend::CpuBackend;
use t0_core::config::T5Config;
use t0_core::generate::{EarlyStopping, GenerateOptions};
use t0_core::model::T5Model;
use t0_core::safetensors::SafeTensors;
use t0_core::tokenizer::Tokenizer;

mod common;
use common::{model_dir, stdout_ok, t0};

fn tokenizer_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../t0-core/tests/fixtures/tokenizer/t5style-4k.model")
}

fn model(name: &str) -> T5Model<CpuBackend> {
    let d = model_dir(name);
    let cfg =
        T5Config::from_json(&std::fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
    let bytes = std::fs::read(d.join("model.safetensors")).unwrap();
    T5Model::load(
        CpuBackend::new(),
        &SafeTensors::parse(&bytes).unwrap(),
        &cfg,
    )
    .unwrap()
}

fn lines_of_ids(out: &[t0_core::generate::Generation]) -> String {
    out.iter()
        .map(|g| {
            g.tokens
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ")
                + "\n"
        })
        .collect()
}

const INPUT: &str = "11 42 7 99 5";
const IDS: [u32; 5] = [11, 42, 7, 99, 5];

#[test]
fn beam_and_penalty_flags_match_the_library() {
    let name = "enc3_dec2";
    let m = model(name);
    let d = model_dir(name);
    let d = d.to_str().unwrap();
    let cases: Vec<(Vec<&str>, GenerateOptions)> = vec![
        (
            vec![
                "--num-beams",
                "4",
                "--num-return-sequences",
                "3",
                "--length-penalty",
                "-0.5",
                "--early-stopping",
                "never",
            ],
            GenerateOptions {
                num_beams: 4,
                num_return_sequences: 3,
                length_penalty: -0.5,
                early_stopping: EarlyStopping::Never,
                ..Default::default()
            },
        ),
        (
            vec![
                "--num-beams",
                "2",
                "--early-stopping",
                "true",
                "--repetition-penalty",
                "1.5",
                "--no-repeat-ngram-size",
                "2",
                "--min-new-tokens",
                "3",
            ],
            GenerateOptions {
                num_beams: 2,
                early_stopping: EarlyStopping::OnceComplete,
                repetition_penalty: 1.5,
                no_repeat_ngram_size: 2,
                min_new_tokens: 3,
                ..Default::default()
            },
        ),
        (
            vec![
                "--do-sample",
                "--seed",
                "5",
                "--top-k",
                "10",
                "--top-p",
                "0.9",
                "--temperature",
                "0.8",
                "--num-return-sequences",
                "2",
            ],
            GenerateOptions {
                do_sample: true,
                seed: 5,
                top_k: 10,
                top_p: 0.9,
                temperature: 0.8,
                num_return_sequences: 2,
                ..Default::default()
            },
        ),
        (
            vec!["--forced-eos", "--constrain-to", "5 6 1|||5 7|||9"],
            GenerateOptions {
                forced_eos: true,
                constraints: Some(vec![vec![5, 6, 1], vec![5, 7], vec![9]]),
                ..Default::default()
            },
        ),
    ];
    for (flags, mut opts) in cases {
        opts.max_new_tokens = 8;
        let mut args = vec![
            "generate",
            "--model",
            d,
            "--max-new-tokens",
            "8",
            "--input-ids",
            INPUT,
        ];
        args.extend(&flags);
        let got = stdout_ok(&t0(&args));
        let want = lines_of_ids(&m.generate(&[IDS], &opts).unwrap()[0]);
        assert_eq!(got, want, "{flags:?}");
    }
}

#[test]
fn stream_prints_what_generate_prints() {
    let d = model_dir("t5style_4k");
    let tok = tokenizer_path();
    let (d, tok) = (d.to_str().unwrap(), tok.to_str().unwrap());
    for extra in [vec![], vec!["--do-sample", "--seed", "3", "--top-k", "0"]] {
        let mut base = vec![
            "generate",
            "--model",
            d,
            "--tokenizer",
            tok,
            "--max-new-tokens",
            "12",
        ];
        base.extend(&extra);
        base.push("Is this streamed?");
        let plain = stdout_ok(&t0(&base));
        base.insert(1, "--stream");
        let streamed = stdout_ok(&t0(&base));
        assert_eq!(streamed, plain);
    }
    // The text equals the library's decode of the library's tokens.
    let t = Tokenizer::from_file(&tokenizer_path()).unwrap();
    let m = model("t5style_4k");
    let ids = t.encode("Is this streamed?", true);
    let o = GenerateOptions {
        max_new_tokens: 12,
        ..Default::default()
    };
    let out = m.generate(&[ids], &o).unwrap();
    let plain = stdout_ok(&t0(&[
        "generate",
        "--model",
        d,
        "--tokenizer",
        tok,
        "--max-new-tokens",
        "12",
        "--stream",
        "Is this streamed?",
    ]));
    assert_eq!(plain, format!("{}\n", t.decode(&out[0][0].tokens)));
}

#[test]
fn sampling_is_reproducible_by_seed() {
    let d = model_dir("v11_gelu_untied");
    let d = d.to_str().unwrap();
    let run = |seed: &str| {
        stdout_ok(&t0(&[
            "generate",
            "--model",
            d,
            "--input-ids",
            INPUT,
            "--max-new-tokens",
            "8",
            "--do-sample",
            "--top-k",
            "0",
            "--seed",
            seed,
        ]))
    };
    assert_eq!(run("42"), run("42"));
}

#[test]
fn bad_flags_are_clear_errors() {
    let d = model_dir("v11_gelu_untied");
    let d = d.to_str().unwrap();
    for (flags, needle) in [
        (vec!["--num-beams", "0"], "num_beams"),
        (vec!["--top-p", "1.5"], "top_p"),
        (vec!["--top-p", "0"], "top_p"),
        (vec!["--do-sample", "--temperature", "0"], "temperature"),
        (vec!["--do-sample", "--temperature", "-1"], "temperature"),
        (
            vec!["--min-new-tokens", "9", "--max-new-tokens", "8"],
            "min_new_tokens",
        ),
        (vec!["--early-stopping", "maybe"], "early_stopping"),
        (vec!["--num-beams", "2", "--stream"], "stream"),
        (
            vec!["--num-return-sequences", "2", "--do-sample", "--stream"],
            "--stream",
        ),
        (
            vec!["--num-beams", "2", "--num-return-sequences", "3"],
            "num_return_sequences",
        ),
        (vec!["--constrain-to", "5|||"], "constraint sequence 1"),
    ] {
        let mut args = vec!["generate", "--model", d, "--input-ids", INPUT];
        args.extend(&flags);
        let o = t0(&args);
        assert!(!o.status.success(), "{flags:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{flags:?}: {err}");
    }
}
