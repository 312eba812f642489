//! One PromptSource template and its `apply`, as promptsource 0.2.3's `Template` does it.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use crate::error::{Part, PromptError};
use crate::jinja::{self, Limits, PyRandom, Value};

/// What promptsource puts around `|||` in example strings while rendering
/// (`Template.pipe_protector`), so that a `|||` inside a field does not split the output.
pub const PIPE_PROTECTOR: &str = "3ed2dface8203c4c9dfb1a5dc58e41e0";

/// The length promptsource truncates every `{{ ... }}` to (`TEXT_VAR_LENGTH`).
pub const TEXT_VAR_LENGTH: usize = 2048;

/// A template's annotations (`!TemplateMetadata`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// Whether the prompt asks for the dataset's original task.
    pub original_task: Option<bool>,
    /// Whether the answer choices appear in the prompt.
    pub choices_in_prompt: Option<bool>,
    /// Metric names.
    pub metrics: Option<Vec<String>>,
    /// Language codes (absent in promptsource 0.2.3's files).
    pub languages: Option<Vec<String>>,
}

/// One template (`!Template`).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Unique id (a UUID string).
    pub id: String,
    /// Name, unique within its dataset.
    pub name: String,
    /// The Jinja source: prompt, `|||`, target.
    pub jinja: String,
    /// Jinja source of the `|||`-separated answer choices, if any.
    pub answer_choices: Option<String>,
    /// Annotations.
    pub metadata: Metadata,
    /// Author or paper.
    pub reference: String,
    /// The dataset folder it belongs to (`super_glue/rte`), for error messages.
    pub dataset: String,
}

/// Options of [`Template::apply`].
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Truncate every `{{ ... }}` to 2048 characters, as promptsource's default `truncate=True`.
    pub truncate: bool,
    /// Seed of the generator behind the `choice` and `random` filters. With `Some(s)` the
    /// draws equal Python's after `random.seed(s); template.apply(example)`: CPython's
    /// Mersenne Twister, `random.choice`, and Jinja2's order of draws (constant `choice`
    /// calls are folded at compile time, before the answer choices are rendered).
    /// promptsource itself never seeds, so with `None` (the default) each render draws
    /// from a fresh entropy seed, as Python's unseeded `random` would.
    pub seed: Option<u64>,
    /// Bounds on output size and loop iterations (a template exceeding them fails with
    /// [`jinja::ErrorKind::Limit`]; Python has no such bounds).
    pub limits: Limits,
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions {
            truncate: true,
            seed: None,
            limits: Limits::default(),
        }
    }
}

/// The result of [`Template::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The prompt: the first part.
    pub input: String,
    /// The target: the second part, `None` when the template produced no `|||`.
    pub target: Option<String>,
    /// Every part of the render split on `|||` and stripped, exactly the list promptsource's
    /// `apply` returns (usually `[input, target]`; templates may yield 1 or more than 2).
    pub parts: Vec<String>,
    /// The answer choices the template saw as `answer_choices` (`None` when it has none).
    /// With random answer choices this can differ from [`Template::answer_choices_for`]
    /// with the same seed, as in Python, because `apply` compiles the template (which may
    /// draw) before rendering the choices.
    pub answer_choices: Option<Vec<String>>,
}

fn entropy_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish()
}

/// Python `str.strip()`.
fn py_strip(s: &str) -> &str {
    s.trim_matches(jinja_space)
}

fn jinja_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

impl Template {
    fn err(&self, part: Part, source: jinja::Error) -> PromptError {
        PromptError::Template {
            dataset: self.dataset.clone(),
            template: self.name.clone(),
            part,
            source,
        }
    }

    /// The example's fields as template variables, with `|||` in top-level strings protected
    /// (`Template._escape_pipe`). Nested values are shared between renders, as in Python.
    fn protected_vars(
        &self,
        example: &serde_json::Value,
    ) -> Result<HashMap<String, Value>, PromptError> {
        let Some(obj) = example.as_object() else {
            return Err(PromptError::Example {
                dataset: self.dataset.clone(),
                template: self.name.clone(),
                message: "the example must be a JSON object".into(),
            });
        };
        Ok(obj
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => Value::str(&s.replace("|||", PIPE_PROTECTOR)),
                    other => Value::from_json(other),
                };
                (k.clone(), v)
            })
            .collect())
    }

    fn choices_from(
        &self,
        vars: &HashMap<String, Value>,
        rng: &mut PyRandom,
        limits: Limits,
    ) -> Result<Option<Vec<String>>, PromptError> {
        let Some(src) = &self.answer_choices else {
            return Ok(None);
        };
        let t = jinja::Template::compile(src, rng).map_err(|e| self.err(Part::AnswerChoices, e))?;
        let out = t
            .render(vars, rng, limits)
            .map_err(|e| self.err(Part::AnswerChoices, e))?;
        Ok(Some(
            out.split("|||")
                .map(|c| py_strip(c).replace(PIPE_PROTECTOR, "|||"))
                .collect(),
        ))
    }

    /// The answer choices for an example (`get_answer_choices_list`); `None` without an
    /// `answer_choices` expression.
    pub fn answer_choices_for(
        &self,
        example: &serde_json::Value,
        opts: &RenderOptions,
    ) -> Result<Option<Vec<String>>, PromptError> {
        let vars = self.protected_vars(example)?;
        let mut rng = PyRandom::new(opts.seed.unwrap_or_else(entropy_seed));
        self.choices_from(&vars, &mut rng, opts.limits)
    }

    /// The answer choices when they do not depend on the example
    /// (`get_fixed_answer_choices_list`): `None` when there is no expression or it uses any
    /// variable (globals such as `range` count as variables, as in `jinja2.meta`).
    /// A `choice`/`random` inside such an expression draws with seed 0.
    pub fn fixed_answer_choices(&self) -> Result<Option<Vec<String>>, PromptError> {
        let Some(src) = &self.answer_choices else {
            return Ok(None);
        };
        let t = jinja::Template::new(src).map_err(|e| self.err(Part::AnswerChoices, e))?;
        if !t.undeclared_variables().is_empty() {
            return Ok(None);
        }
        let mut rng = PyRandom::new(0);
        let t = jinja::Template::compile(src, &mut rng)
            .map_err(|e| self.err(Part::AnswerChoices, e))?;
        let out = t
            .render(&HashMap::new(), &mut rng, Limits::default())
            .map_err(|e| self.err(Part::AnswerChoices, e))?;
        Ok(Some(
            out.split("|||").map(|c| py_strip(c).to_string()).collect(),
        ))
    }

    /// Renders the template for one example, as promptsource's `Template.apply(example)`:
    /// with `truncate`, every `}}` becomes `| string | truncate(2048) }}`; `|||` inside the
    /// example's top-level strings is protected and restored; `answer_choices` is rendered
    /// first and given to the template as the variable `answer_choices`; the output is split
    /// on `|||` and each part stripped.
    pub fn apply(
        &self,
        example: &serde_json::Value,
        opts: &RenderOptions,
    ) -> Result<Rendered, PromptError> {
        let src = if opts.truncate {
            self.jinja.replace(
                "}}",
                &format!(" | string | truncate({TEXT_VAR_LENGTH}) }}}}"),
            )
        } else {
            self.jinja.clone()
        };
        // As in Python: the template is compiled first (Jinja2 folds constant `choice` calls
        // then, drawing from the generator), then the answer choices are compiled and
        // rendered, then the template is rendered.
        let mut rng = PyRandom::new(opts.seed.unwrap_or_else(entropy_seed));
        let t = jinja::Template::compile(&src, &mut rng).map_err(|e| self.err(Part::Jinja, e))?;
        let mut vars = self.protected_vars(example)?;
        if vars.contains_key("answer_choices") {
            return Err(PromptError::Example {
                dataset: self.dataset.clone(),
                template: self.name.clone(),
                message: "Example contains the restricted key 'answer_choices'.".into(),
            });
        }
        let choices = self.choices_from(&vars, &mut rng, opts.limits)?;
        vars.insert(
            "answer_choices".into(),
            match &choices {
                Some(c) => Value::list(c.iter().map(|s| Value::str(s)).collect()),
                None => Value::None,
            },
        );
        let out = t
            .render(&vars, &mut rng, opts.limits)
            .map_err(|e| self.err(Part::Jinja, e))?;
        let parts: Vec<String> = out
            .split("|||")
            .map(|p| py_strip(&p.replace(PIPE_PROTECTOR, "|||")).to_string())
            .collect();
        Ok(Rendered {
            input: parts.first().cloned().unwrap_or_default(),
            target: parts.get(1).cloned(),
            parts,
            answer_choices: choices,
        })
    }
}
