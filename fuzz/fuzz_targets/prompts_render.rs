//! Parse + render arbitrary template text against an arbitrary JSON example; also parse the
//! whole input as a templates.yaml. Input layout: `jinja \0 example-json \0 answer_choices`
//! (missing parts: no answer choices, example `{}`). Must never panic; renders are bounded
//! by small limits. Seed inputs: `fuzz/seeds/prompts_render/`, e.g.
//! `cargo +nightly fuzz run prompts_render fuzz/corpus/prompts_render fuzz/seeds/prompts_render`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use t0_prompts::jinja::Limits;
use t0_prompts::serde_json::{self, Value};
use t0_prompts::{DatasetTemplates, RenderOptions, Template};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = DatasetTemplates::from_yaml(&text, "fuzz", "fuzz.yaml".as_ref());
    let mut parts = text.splitn(3, '\0');
    let jinja = parts.next().unwrap_or_default().to_string();
    let example: Value = parts
        .next()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| Value::Object(Default::default()));
    let answer_choices = parts.next().map(str::to_string);
    let t = Template {
        id: "fuzz".into(),
        name: "fuzz".into(),
        jinja,
        answer_choices,
        metadata: Default::default(),
        reference: String::new(),
        dataset: "fuzz".into(),
    };
    let opts = RenderOptions {
        seed: Some(0),
        limits: Limits {
            max_output: 1 << 16,
            max_iterations: 20_000,
            max_items: 20_000,
        },
        ..RenderOptions::default()
    };
    let _ = t.apply(&example, &opts);
    let _ = t.fixed_answer_choices();
});
