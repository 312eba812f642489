//! Token identity with HF transformers 4.46.3 `generate` (greedy and beam search, with the
//! logits processors and constrained decoding) on the tiny random models, from the
//! references written by `scripts/make_generate_fixtures.py`; beam `sequences_scores`
//! within 1e-4.

use std::path::{Path, PathBuf};

use serde_json::Value;
use t0_core::backend::CpuBackend;
use t0_core::config::T5Config;
use t0_core::generate::{EarlyStopping, GenerateOptions};
use t0_core::model::T5Model;
use t0_core::safetensors::SafeTensors;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(name: &str, eos: u32) -> T5Model<CpuBackend> {
    let dir = root().join("models").join(name);
    let mut cfg =
        T5Config::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    cfg.eos_token_id = eos;
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = SafeTensors::parse(&bytes).unwrap();
    T5Model::load(CpuBackend::new(), &st, &cfg).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn options(o: &Value, default_max: usize, eos: u32) -> GenerateOptions {
    let mut opts = GenerateOptions {
        max_new_tokens: default_max,
        ..Default::default()
    };
    for (k, v) in o.as_object().unwrap() {
        match k.as_str() {
            "num_beams" => opts.num_beams = v.as_u64().unwrap() as usize,
            "max_new_tokens" => opts.max_new_tokens = v.as_u64().unwrap() as usize,
            "min_new_tokens" => opts.min_new_tokens = v.as_u64().unwrap() as usize,
            "num_return_sequences" => opts.num_return_sequences = v.as_u64().unwrap() as usize,
            "length_penalty" => opts.length_penalty = v.as_f64().unwrap(),
            "repetition_penalty" => opts.repetition_penalty = v.as_f64().unwrap() as f32,
            "no_repeat_ngram_size" => opts.no_repeat_ngram_size = v.as_u64().unwrap() as usize,
            "bad_words_ids" => opts.bad_words_ids = v.as_array().unwrap().iter().map(ids).collect(),
            "forced_eos_token_id" => {
                assert_eq!(v.as_u64().unwrap() as u32, eos);
                opts.forced_eos = true;
            }
            "early_stopping" => {
                opts.early_stopping = match v {
                    Value::Bool(true) => EarlyStopping::OnceComplete,
                    Value::Bool(false) => EarlyStopping::Heuristic,
                    Value::String(s) => s.parse().unwrap(),
                    _ => panic!("early_stopping {v}"),
                }
            }
            _ => panic!("option {k} not mapped"),
        }
    }
    opts
}

#[test]
fn generate_matches_hf_token_for_token() {
    let dir = root().join("generate");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("run scripts/make_generate_fixtures.py")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "generate fixtures missing");
    let (mut cases, mut seqs, mut beam_cases, mut scores) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for f in &files {
        let r: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let name = r["model"].as_str().unwrap();
        let eos = r["eos"].as_u64().unwrap() as u32;
        let max_new = r["max_new_tokens"].as_u64().unwrap() as usize;
        let m = load(name, eos);
        let inputs: Vec<Vec<u32>> = r["inputs"].as_array().unwrap().iter().map(ids).collect();
        for c in r["cases"].as_array().unwrap() {
            let cname = c["name"].as_str().unwrap();
            let mut opts = options(&c["options"], max_new, eos);
            if let Some(cons) = c.get("constraints") {
                opts.constraints = Some(cons.as_array().unwrap().iter().map(ids).collect());
            }
            let got = m.generate(&inputs, &opts).unwrap();
            let want: Vec<Vec<u32>> = c["sequences"].as_array().unwrap().iter().map(ids).collect();
            let flat: Vec<&Vec<u32>> = got.iter().flatten().map(|g| &g.tokens).collect();
            let want_ref: Vec<&Vec<u32>> = want.iter().collect();
            if flat != want_ref {
                failures.push(format!("{name}/{cname}: got {flat:?}\n  want {want_ref:?}"));
                continue;
            }
            cases += 1;
            seqs += want.len();
            if let Some(sc) = c["scores"].as_array() {
                beam_cases += 1;
                for (g, s) in got.iter().flatten().zip(sc) {
                    let (a, b) = (g.score.unwrap() as f64, s.as_f64().unwrap());
                    if (a - b).abs() > 1e-4 {
                        failures.push(format!("{name}/{cname}: score {a} vs HF {b}"));
                    }
                    scores += 1;
                }
            }
        }
    }
    eprintln!(
        "{cases} cases ({beam_cases} beam), {seqs} sequences token-identical; {scores} beam scores checked"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
