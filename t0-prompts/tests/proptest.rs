//! Property tests: parsing and rendering never panic, whatever the template text, YAML or
//! example; plain text renders as promptsource splits it; seeded renders are reproducible.
//! Case counts are small by default (`PROPTEST_CASES` raises them).

use proptest::prelude::*;
use serde_json::{Map, Value as J};
use t0_prompts::jinja::{Limits, float_repr};
use t0_prompts::{DatasetTemplates, RenderOptions, Template};

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{%-",
    "-%}",
    "{{-",
    "-}}",
    " if ",
    " elif ",
    " else ",
    " endif ",
    " for ",
    " in ",
    " endfor ",
    " set ",
    " = ",
    "x",
    "label",
    "premise",
    "items",
    "ns",
    "namespace(a=[])",
    "ns.a",
    "loop.index",
    "loop.previtem",
    " | ",
    "join(', ')",
    "length",
    "choice",
    "random",
    "default('', True)",
    "int",
    "round(1)",
    "truncate(3)",
    "sort(attribute='k')",
    "unique",
    "map(attribute='k')",
    "selectattr('k')",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "'a'",
    "\"b\"",
    "0",
    "1",
    "-1",
    "2.5",
    "1e3",
    ".split()",
    ".append(1)",
    ".update({})",
    ".pop()",
    ".index('a')",
    ".lower()",
    ".replace('a','b')",
    "range(3)",
    "zip(items, items)",
    "~",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    " and ",
    " or ",
    " not ",
    " is defined",
    " == ",
    " < ",
    "|||",
    " ",
    "\n",
    "\r\n",
    "\t",
    "é",
    "answer_choices",
    "[0]",
    "[1:]",
    "[::-1]",
    ".k",
    "none",
    "true",
];

fn template_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|v| v.concat())
}

fn json_leaf() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        (-1e6f64..1e6).prop_map(J::from),
        "[a-z |]{0,12}".prop_map(J::String),
    ]
}

fn json_value() -> impl Strategy<Value = J> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..4)
                .prop_map(|kv| J::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn example() -> impl Strategy<Value = J> {
    prop::collection::vec(
        (
            prop::sample::select(&["x", "label", "premise", "items", "k"][..]),
            json_value(),
        ),
        0..5,
    )
    .prop_map(|kv| J::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

fn tmpl(jinja: String, answer_choices: Option<String>) -> Template {
    Template {
        id: "p".into(),
        name: "prop".into(),
        jinja,
        answer_choices,
        metadata: Default::default(),
        reference: String::new(),
        dataset: "prop".into(),
    }
}

fn small_limits() -> RenderOptions {
    RenderOptions {
        seed: Some(1),
        limits: Limits {
            max_output: 1 << 16,
            max_iterations: 10_000,
            max_items: 10_000,
        },
        ..RenderOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn apply_never_panics(j in template_text(), ac in prop::option::of(template_text()), ex in example()) {
        let t = tmpl(j, ac);
        let opts = small_limits();
        let a = t.apply(&ex, &opts);
        // Deterministic with a seed.
        let b = t.apply(&ex, &opts);
        prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let _ = t.fixed_answer_choices();
        let _ = t.answer_choices_for(&ex, &opts);
    }

    #[test]
    fn plain_text_splits_like_python(text in "[a-z ,.|\n]{0,60}") {
        let r = tmpl(text.clone(), None).apply(&J::Object(Map::new()), &RenderOptions::default()).unwrap();
        let want: Vec<String> = text.split("|||").map(|p| p.trim().to_string()).collect();
        prop_assert_eq!(r.parts, want);
    }

    #[test]
    fn yaml_never_panics(text in "[a-z:!\\-\\[\\]{}'\" \n|&*#]{0,200}") {
        let _ = DatasetTemplates::from_yaml(&text, "p", "p.yaml".as_ref());
    }

    #[test]
    fn float_repr_round_trips(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let s = float_repr(x);
        prop_assert_eq!(s.parse::<f64>().unwrap(), x);
    }
}
