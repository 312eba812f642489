//! Bad input: each case behaves as promptsource 0.2.3 does (outputs noted from Python 3.11 +
//! jinja2 3.0.3) or fails with a clear error naming the dataset and template.

use serde_json::json;
use t0_prompts::jinja::ErrorKind;
use t0_prompts::{
    DatasetTemplates, Part, PromptError, RenderOptions, Template, TemplateCollection,
};

fn template(jinja: &str, answer_choices: Option<&str>) -> Template {
    Template {
        id: "id-1".into(),
        name: "probe".into(),
        jinja: jinja.into(),
        answer_choices: answer_choices.map(str::to_string),
        metadata: Default::default(),
        reference: String::new(),
        dataset: "test/ds".into(),
    }
}

fn apply(jinja: &str, ex: serde_json::Value) -> Result<Vec<String>, PromptError> {
    template(jinja, Some("A ||| B"))
        .apply(&ex, &RenderOptions::default())
        .map(|r| r.parts)
}

fn yaml_err(text: &str) -> String {
    match DatasetTemplates::from_yaml(text, "bad", "bad/templates.yaml".as_ref()) {
        Err(e @ PromptError::Yaml { .. }) => e.to_string(),
        other => panic!("expected a YAML error, got {other:?}"),
    }
}

const GOOD: &str = "dataset: d\ntemplates:\n  u1: !Template\n    answer_choices: null\n    id: u1\n    jinja: '{{x}} ||| y'\n    metadata: !TemplateMetadata\n      choices_in_prompt: false\n      metrics:\n      - Accuracy\n      original_task: true\n    name: t1\n    reference: ''\n";

#[test]
fn malformed_yaml() {
    let e = yaml_err("dataset: d\ntemplates:\n  u1: !Template\n    jinja: '{{x}}\n    name: [\n");
    assert!(e.starts_with("bad/templates.yaml"), "{e}");
    assert!(yaml_err("- a\n- b\n").contains("not a mapping"));
    assert!(yaml_err("dataset: d\n").contains("templates"));
    assert!(DatasetTemplates::from_yaml(GOOD, "d", "d.yaml".as_ref()).is_ok());
}

#[test]
fn unknown_tag() {
    let e = yaml_err(&GOOD.replace("!TemplateMetadata", "!Metadata"));
    assert!(
        e.contains("could not determine a constructor for the tag '!Metadata'"),
        "{e}"
    );
    let e = yaml_err(&GOOD.replace("!Template\n", "!python/object:os.system\n"));
    assert!(e.contains("could not determine a constructor"), "{e}");
    // A template that is not tagged !Template is rejected too.
    let e = yaml_err(&GOOD.replace("u1: !Template\n", "u1:\n"));
    assert!(e.contains("!Template"), "{e}");
}

#[test]
fn missing_required_fields() {
    assert!(yaml_err(&GOOD.replace("    name: t1\n", "")).contains("missing 'name'"));
    assert!(yaml_err(&GOOD.replace("    jinja: '{{x}} ||| y'\n", "")).contains("missing 'jinja'"));
    assert!(
        yaml_err(&GOOD.replace("choices_in_prompt: false", "choices_in_prompt: [1]"))
            .contains("choices_in_prompt")
    );
}

#[test]
fn jinja_syntax_error_names_dataset_and_template() {
    // Python: jinja2.exceptions.TemplateSyntaxError at apply time (loading succeeds).
    let e = apply("{% if x %}never closed ||| y", json!({"x": 1})).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("test/ds") && msg.contains("'probe'"), "{msg}");
    match e {
        PromptError::Template { part, source, .. } => {
            assert_eq!(part, Part::Jinja);
            assert_eq!(source.kind, ErrorKind::Syntax);
        }
        other => panic!("{other:?}"),
    }
    let e = template("x ||| y", Some("{{ a | nosuch }}"))
        .apply(&json!({}), &RenderOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            e,
            PromptError::Template {
                part: Part::AnswerChoices,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn missing_field_in_if_vs_output_vs_attribute() {
    // Python: ['I', 'no'] — undefined is falsy in `if` and prints as "".
    let ex = json!({"premise": "It rains ||| a lot", "label": 1});
    assert_eq!(
        apply(
            "{{premise[0]}} ||| {% if missing %}yes{% else %}no{% endif %}{{ missing }}",
            ex.clone()
        )
        .unwrap(),
        ["I", "no"]
    );
    // Python: UndefinedError 'missing' is undefined.
    let e = apply("{{ missing.x }}", ex).unwrap_err();
    assert!(
        matches!(&e, PromptError::Template { source, .. } if source.kind == ErrorKind::Undefined),
        "{e:?}"
    );
}

#[test]
fn wrong_types() {
    let ex = json!({"premise": "It rains", "label": 1, "list": [1, 2]});
    // Python: TypeError unsupported operand type(s) for +: 'int' and 'str'.
    let e = apply("{{ label + \"x\" }}", ex.clone()).unwrap_err();
    assert!(
        matches!(&e, PromptError::Template { source, .. } if source.kind == ErrorKind::Type),
        "{e:?}"
    );
    // Indexing a string gives a character; out of range / by a string gives Undefined → "".
    // Python: ['t ###'].
    assert_eq!(
        apply(
            "{{ premise[1:3] }}#{{ premise[99] }}#{{ premise['k'] }}#{{ list.k }}",
            ex.clone()
        )
        .unwrap(),
        ["t ###"]
    );
    // Python: ['|'] (an out-of-range index of a split is Undefined, printed empty).
    assert_eq!(
        apply("{{ premise.split()[10] }}|", ex.clone()).unwrap(),
        ["|"]
    );
    // Python: TypeError — a method of an int does not exist, calling Undefined fails.
    assert!(apply("{{ label.split() }}", ex).is_err());
}

#[test]
fn example_containing_separator() {
    // Python: ['It rains ||| a lot', 'wet'].
    let ex = json!({"premise": "It rains ||| a lot", "hypothesis": "wet"});
    assert_eq!(
        apply("{{premise}} ||| {{hypothesis}}", ex).unwrap(),
        ["It rains ||| a lot", "wet"]
    );
    // Answer choices containing ||| after protection are restored per choice.
    let t = template("{{ answer_choices[0] }}", Some("{{ a }} ||| b"));
    let r = t
        .apply(&json!({"a": "x ||| y"}), &RenderOptions::default())
        .unwrap();
    assert_eq!(
        r.answer_choices,
        Some(vec!["x ||| y".to_string(), "b".to_string()])
    );
    // As in Python, the restored choice then splits the output.
    assert_eq!(r.parts, ["x", "y"]);
}

#[test]
fn restricted_key_and_non_object() {
    // Python: ValueError Example contains the restricted key 'answer_choices'.
    let e = apply("x", json!({"answer_choices": 1})).unwrap_err();
    assert!(
        e.to_string().contains("restricted key 'answer_choices'"),
        "{e}"
    );
    assert!(matches!(
        apply("x", json!([1, 2])),
        Err(PromptError::Example { .. })
    ));
}

#[test]
fn separators_and_parts() {
    let ex = json!({});
    // No separator: one part, target None (Python returns a 1-element list).
    let r = template("only input", None)
        .apply(&ex, &RenderOptions::default())
        .unwrap();
    assert_eq!((r.parts.len(), r.target), (1, None));
    // Python: ['a', 'b', 'c'].
    assert_eq!(apply("a ||| b ||| c", ex).unwrap(), ["a", "b", "c"]);
}

#[test]
fn unbounded_templates_hit_limits() {
    let ex = json!({"x": "y"});
    for src in [
        "{% for i in range(100000000) %}{% endfor %}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{{ ('x' * 1000000000) }}",
        "{% set l = [1] %}{% for i in range(30) %}{% set _ = l.extend(l + l) %}{% endfor %}",
        "{% for i in range(100000) %}{{ ('abcdefghij' * 100) }}{% endfor %}",
    ] {
        let e = apply(src, ex.clone()).unwrap_err();
        assert!(
            matches!(&e, PromptError::Template { source, .. } if source.kind == ErrorKind::Limit),
            "{src}: {e:?}"
        );
    }
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    // A 200000-deep list: dropped iteratively; `==` on the same object short-cuts as in Python.
    let src = "{% set ns = namespace(l=[]) %}{% for i in range(200000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ (ns.l == ns.l) }}";
    assert_eq!(apply(src, json!({})).unwrap(), ["True"]);
    // Comparing two deep structures gives up at a bounded depth instead of recursing.
    let src = "{% set ns = namespace(a=[], b=[]) %}{% for i in range(5000) %}{% set ns.a = [ns.a] %}{% set ns.b = [ns.b] %}{% endfor %}{{ (ns.a < ns.b) }}";
    assert!(apply(src, json!({})).is_err());
    // Very long operator / filter / attribute chains are refused at parse time (a limit
    // Python does not have; no P3 template comes near it).
    for src in [
        format!("{{{{ {}1 }}}}", "1 + ".repeat(5000)),
        format!("{{{{ x{} }}}}", " | lower".repeat(5000)),
        format!("{{{{ x{} }}}}", ".a".repeat(5000)),
        format!("{{{{ {}x }}}}", "not ".repeat(5000)),
        format!("{{{{ {}x{} }}}}", "(".repeat(5000), ")".repeat(5000)),
    ] {
        let e = apply(&src, json!({})).unwrap_err();
        assert!(
            matches!(&e, PromptError::Template { source, .. } if source.kind == ErrorKind::Syntax),
            "{e:?}"
        );
    }
}

#[test]
fn truncation_follows_python() {
    let long = "word ".repeat(1000);
    let r = apply("{{ t }}", json!({"t": long})).unwrap();
    // jinja2 truncate(2048): cut at 2045 chars, drop the partial word, append "...".
    // Python: len 2047, ends with 'word word...'.
    assert!(r[0].ends_with("word word..."));
    assert_eq!(r[0].len(), 2047);
    let t = template("{{ t }}", None);
    let opts = RenderOptions {
        truncate: false,
        ..RenderOptions::default()
    };
    assert_eq!(
        t.apply(&json!({"t": long}), &opts).unwrap().input,
        long.trim()
    );
}

#[test]
fn seeded_choice_is_reproducible() {
    let t = template(
        "{{ ['a', 'b', 'c', 'd', 'e'] | choice }}{{ xs | random }}",
        None,
    );
    let ex = json!({"xs": [1, 2, 3]});
    let opts = RenderOptions {
        seed: Some(7),
        ..RenderOptions::default()
    };
    let a = t.apply(&ex, &opts).unwrap();
    let b = t.apply(&ex, &opts).unwrap();
    assert_eq!(a, b);
    // Python: random.seed(7); [random.choice('abcde'), random.choice([1, 2, 3])] == ['c', 1]
    assert_eq!(a.input, "c1");
}

#[test]
fn lookups() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/templates");
    let c = TemplateCollection::load(dir).unwrap();
    assert!(c.names().contains(&"super_glue/rte"));
    let rte = c.get_subset("super_glue", Some("rte")).unwrap();
    assert_eq!(
        (rte.dataset.as_str(), rte.subset.as_deref()),
        ("super_glue", Some("rte"))
    );
    let t = rte.get("GPT-3 style").unwrap();
    assert_eq!(rte.get(&t.id).unwrap().name, "GPT-3 style");
    assert_eq!(
        t.metadata.metrics.as_deref(),
        Some(&["Accuracy".to_string()][..])
    );
    assert_eq!(t.metadata.original_task, Some(true));
    assert!(matches!(
        c.get("nope"),
        Err(PromptError::UnknownDataset { .. })
    ));
    let e = rte.get("nope").unwrap_err().to_string();
    assert!(e.contains("super_glue/rte") && e.contains("nope"), "{e}");
    assert!(matches!(
        TemplateCollection::load("/nonexistent/dir"),
        Err(PromptError::Io { .. })
    ));
}

#[test]
fn loaded_templates_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<TemplateCollection>();
    check::<Template>();
    check::<PromptError>();
}
