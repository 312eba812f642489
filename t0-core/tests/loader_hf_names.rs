//! `weights::expected_tensors` lists exactly the tensors (names and shapes) that Hugging
//! Face's `save_pretrained` writes, for gated/relu, tied/untied and unequal stack depths.
//! Reference data: tests/data/hf_t5_tensors.json, made by scripts/hf_t5_tensor_names.py.

use std::collections::BTreeMap;

use t0_core::config::T5Config;
use t0_core::weights::expected_tensors;

#[test]
fn weights_match_hf_save_pretrained() {
    let text = include_str!("data/hf_t5_tensors.json");
    let all: serde_json::Value = serde_json::from_str(text).unwrap();
    let all = all.as_object().unwrap();
    assert_eq!(all.len(), 3);
    for (variant, v) in all {
        let cfg = T5Config::from_json(&v["config"].to_string()).unwrap();
        let hf: BTreeMap<String, Vec<usize>> =
            serde_json::from_value(v["tensors"].clone()).unwrap();
        let ours: BTreeMap<String, Vec<usize>> = expected_tensors(&cfg)
            .into_iter()
            .map(|s| (s.name, s.shape))
            .collect();
        assert_eq!(
            ours.len(),
            expected_tensors(&cfg).len(),
            "{variant}: duplicate names"
        );
        assert_eq!(ours, hf, "{variant}");
    }
}
