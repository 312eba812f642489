//! A focused Jinja2 engine: the subset of Jinja2 3.0 (and of the Python methods it exposes)
//! that PromptSource templates use, with Jinja2's and Python's semantics.
//!
//! Why not minijinja: promptsource templates mutate values in place (`list.append`,
//! `dict.update`, `list.pop`), print Python reprs of lists/dicts/floats, use Python string
//! methods and `loop.previtem`, and draw from Python's `random`; matching all of that on top
//! of minijinja's immutable values would need more code than this engine.
//!
//! ```
//! use t0_prompts::jinja::{Template, Value, Limits, PyRandom};
//! use std::collections::HashMap;
//! let t = Template::new("{% set xs = [] %}{% for w in s.split() %}{{ xs.append(w|upper) or '' }}{% endfor %}{{ xs }}")?;
//! let mut vars = HashMap::new();
//! vars.insert("s".to_string(), Value::str("a b"));
//! let out = t.render(&vars, &mut PyRandom::new(0), Limits::default())?;
//! assert_eq!(out, "['A', 'B']");
//! # Ok::<(), t0_prompts::jinja::Error>(())
//! ```

mod builtins;
mod error;
mod eval;
mod fold;
mod rng;
mod syntax;
mod value;

use std::collections::{BTreeSet, HashMap};

pub use error::{Error, ErrorKind};
pub use eval::Limits;
pub use rng::PyRandom;
pub use value::{Value, float_repr};

use syntax::{Args, Expr, ExprKind, Node, Target};

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    /// Parses template source (as `jinja2.Environment().from_string` does).
    pub fn new(source: &str) -> Result<Template, Error> {
        Ok(Template {
            nodes: syntax::parse(source)?,
        })
    }

    /// Parses and compiles as `jinja2.Environment().from_string` does, including Jinja2's
    /// compile-time constant folding, which evaluates filters over constants — so a
    /// `['a', 'b'] | choice` draws from `rng` here, at compile time, as in Python.
    pub fn compile(source: &str, rng: &mut PyRandom) -> Result<Template, Error> {
        let mut t = Template::new(source)?;
        fold::fold_template(&mut t.nodes, rng, Limits::default());
        Ok(t)
    }

    /// Renders with the given variables.
    pub fn render(
        &self,
        vars: &HashMap<String, Value>,
        rng: &mut PyRandom,
        limits: Limits,
    ) -> Result<String, Error> {
        eval::render(&self.nodes, vars, rng, limits)
    }

    /// The names the template looks up from its context, as
    /// `jinja2.meta.find_undeclared_variables` gives them (globals such as `range` included).
    pub fn undeclared_variables(&self) -> BTreeSet<String> {
        let mut w = Undeclared {
            scopes: vec![BTreeSet::new()],
            found: BTreeSet::new(),
        };
        w.nodes(&self.nodes);
        w.found
    }
}

struct Undeclared {
    scopes: Vec<BTreeSet<String>>,
    found: BTreeSet<String>,
}

impl Undeclared {
    fn declared(&self, n: &str) -> bool {
        self.scopes.iter().any(|s| s.contains(n))
    }
    fn declare(&mut self, t: &Target) {
        match t {
            Target::Name(n) => {
                if let Some(s) = self.scopes.last_mut() {
                    s.insert(n.clone());
                }
            }
            Target::Tuple(ts) => ts.iter().for_each(|t| self.declare(t)),
            Target::Attr(ns, _) => self.load(ns),
        }
    }
    fn load(&mut self, n: &str) {
        if !self.declared(n) {
            self.found.insert(n.to_string());
        }
    }
    fn nodes(&mut self, nodes: &[Node]) {
        for n in nodes {
            match n {
                Node::Text(_) => {}
                Node::Output(e) => self.expr(e),
                Node::If { branches, else_ } => {
                    for (c, b) in branches {
                        self.expr(c);
                        self.nodes(b);
                    }
                    self.nodes(else_);
                }
                Node::For {
                    target,
                    iter,
                    filter,
                    body,
                    else_,
                    ..
                } => {
                    self.expr(iter);
                    self.scopes.push(BTreeSet::new());
                    self.declare(target);
                    if let Some(s) = self.scopes.last_mut() {
                        s.insert("loop".into());
                    }
                    if let Some(f) = filter {
                        self.expr(f);
                    }
                    self.nodes(body);
                    self.scopes.pop();
                    self.nodes(else_);
                }
                Node::Set { target, value, .. } => {
                    self.expr(value);
                    self.declare(target);
                }
                Node::SetBlock { name, body } => {
                    self.nodes(body);
                    self.declare(&Target::Name(name.clone()));
                }
            }
        }
    }
    fn args(&mut self, a: &Args) {
        a.pos.iter().for_each(|e| self.expr(e));
        a.kw.iter().for_each(|(_, e)| self.expr(e));
    }
    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Const(_) => {}
            ExprKind::Name(n) => self.load(n),
            ExprKind::List(v) | ExprKind::Tuple(v) | ExprKind::Concat(v) => {
                v.iter().for_each(|e| self.expr(e))
            }
            ExprKind::Dict(v) => v.iter().for_each(|(k, x)| {
                self.expr(k);
                self.expr(x)
            }),
            ExprKind::Getattr(o, _) => self.expr(o),
            ExprKind::Getitem(o, k) => {
                self.expr(o);
                self.expr(k)
            }
            ExprKind::Slice(a, b, c) => {
                for x in [a, b, c].into_iter().flatten() {
                    self.expr(x);
                }
            }
            ExprKind::Call(f, a) => {
                self.expr(f);
                self.args(a)
            }
            ExprKind::Filter(v, _, a) | ExprKind::Test(v, _, a) => {
                self.expr(v);
                self.args(a)
            }
            ExprKind::Neg(x) | ExprKind::Pos(x) | ExprKind::Not(x) => self.expr(x),
            ExprKind::Bin(_, a, b) | ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.expr(a);
                self.expr(b)
            }
            ExprKind::Compare(a, ops) => {
                self.expr(a);
                ops.iter().for_each(|(_, e)| self.expr(e))
            }
            ExprKind::Cond(t, a, b) => {
                self.expr(t);
                self.expr(a);
                if let Some(b) = b {
                    self.expr(b)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
