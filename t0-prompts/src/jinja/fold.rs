//! Compile-time constant folding, as Jinja2 3.0's code generator does it.
//!
//! This matters for one reason: promptsource's `choice` filter is a plain function, so
//! Jinja2 folds `{{ ['a', 'b'] | choice }}` at compile time — it draws from Python's
//! `random` when `env.from_string` runs, before anything is rendered (and, for an output
//! expression that is only partly constant, once while trying to fold the whole expression
//! and again while folding its parts). Mirroring where and in which order those draws
//! happen makes seeded renders byte-identical to Python's.
//!
//! Order followed (jinja2/compiler.py, optimizer.py, nodes.py `as_const`):
//! * statements in code-generation order (`for`: inline filter, iterable, body, else);
//! * a run of text and `{{ }}` (one Jinja `Output` node): first each expression's
//!   `as_const` (folded whole if it succeeds), then each remaining expression is folded
//!   bottom-up (`Optimizer.generic_visit`);
//! * `as_const` evaluates filter/test arguments before the filtered value, short-circuits
//!   `and`/`or`/comparisons/conditionals, and refuses names, calls and the context filters
//!   (`random`, `map`, `select`, `reject`, `selectattr`, `rejectattr`).

use std::collections::HashMap;

use super::builtins;
use super::eval::{self, Limits, State, getattr, getitem, slice};
use super::rng::PyRandom;
use super::syntax::{Args, Expr, ExprKind, Node};
use super::value::Value;

/// Filters Jinja2 declares `pass_context`: never folded.
const CONTEXT_FILTERS: &[&str] = &[
    "random",
    "map",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
];

struct Impossible;

type R = Result<Value, Impossible>;

/// Folds constants of a parsed template in place, drawing from `rng` as Jinja2 would.
pub fn fold_template(nodes: &mut [Node], rng: &mut PyRandom, limits: Limits) {
    let ctx = HashMap::new();
    let mut st = State::new(&ctx, rng, limits);
    fold_nodes(nodes, &mut st);
}

fn fold_nodes(nodes: &mut [Node], st: &mut State<'_>) {
    let mut i = 0;
    while i < nodes.len() {
        if matches!(nodes[i], Node::Text(_) | Node::Output(_)) {
            let start = i;
            while i < nodes.len() && matches!(nodes[i], Node::Text(_) | Node::Output(_)) {
                i += 1;
            }
            let run = &mut nodes[start..i];
            let mut pending = Vec::new();
            for (k, n) in run.iter_mut().enumerate() {
                if let Node::Output(e) = n {
                    match as_const(e, st) {
                        Ok(v) => e.kind = ExprKind::Const(v),
                        Err(Impossible) => pending.push(k),
                    }
                }
            }
            for k in pending {
                if let Node::Output(e) = &mut run[k] {
                    fold(e, st);
                }
            }
            continue;
        }
        match &mut nodes[i] {
            Node::If { branches, else_ } => {
                for (c, body) in branches.iter_mut() {
                    fold(c, st);
                    fold_nodes(body, st);
                }
                fold_nodes(else_, st);
            }
            Node::For {
                iter,
                filter,
                body,
                else_,
                ..
            } => {
                if let Some(f) = filter {
                    fold(f, st);
                }
                fold(iter, st);
                fold_nodes(body, st);
                fold_nodes(else_, st);
            }
            Node::Set { value, .. } => fold(value, st),
            Node::SetBlock { body, .. } => fold_nodes(body, st),
            Node::Text(_) | Node::Output(_) => {}
        }
        i += 1;
    }
}

fn safe_repr(v: &Value) -> bool {
    match v {
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => true,
        Value::List(l) => l.borrow().iter().all(safe_repr),
        Value::Tuple(t) => t.iter().all(safe_repr),
        Value::Dict(d) => d.borrow().iter().all(|(k, v)| safe_repr(k) && safe_repr(v)),
        _ => false,
    }
}

fn fold_args(a: &mut Args, st: &mut State<'_>) {
    for e in a.pos.iter_mut() {
        fold(e, st);
    }
    for (_, e) in a.kw.iter_mut() {
        fold(e, st);
    }
}

/// `Optimizer.generic_visit`: children first, then the node itself.
fn fold(e: &mut Expr, st: &mut State<'_>) {
    match &mut e.kind {
        ExprKind::Const(_) | ExprKind::Name(_) => return,
        ExprKind::List(v) | ExprKind::Tuple(v) | ExprKind::Concat(v) => {
            v.iter_mut().for_each(|x| fold(x, st))
        }
        ExprKind::Dict(v) => v.iter_mut().for_each(|(k, x)| {
            fold(k, st);
            fold(x, st)
        }),
        ExprKind::Getattr(o, _) => fold(o, st),
        ExprKind::Getitem(o, k) => {
            fold(o, st);
            fold(k, st)
        }
        ExprKind::Slice(a, b, c) => {
            for x in [a, b, c].into_iter().flatten() {
                fold(x, st);
            }
        }
        ExprKind::Call(f, a) | ExprKind::Filter(f, _, a) | ExprKind::Test(f, _, a) => {
            fold(f, st);
            fold_args(a, st)
        }
        ExprKind::Neg(x) | ExprKind::Pos(x) | ExprKind::Not(x) => fold(x, st),
        ExprKind::Bin(_, a, b) | ExprKind::And(a, b) | ExprKind::Or(a, b) => {
            fold(a, st);
            fold(b, st)
        }
        ExprKind::Compare(a, ops) => {
            fold(a, st);
            ops.iter_mut().for_each(|(_, x)| fold(x, st))
        }
        ExprKind::Cond(t, a, b) => {
            fold(t, st);
            fold(a, st);
            if let Some(b) = b {
                fold(b, st)
            }
        }
    }
    if matches!(e.kind, ExprKind::Slice(..)) {
        return;
    }
    if let Ok(v) = as_const(e, st)
        && safe_repr(&v)
    {
        e.kind = ExprKind::Const(v);
    }
}

fn ok<T, E>(r: Result<T, E>) -> Result<T, Impossible> {
    r.map_err(|_| Impossible)
}

fn const_args(a: &Args, st: &mut State<'_>) -> Result<eval::CallArgs, Impossible> {
    let mut pos = Vec::new();
    for e in &a.pos {
        pos.push(as_const(e, st)?);
    }
    let mut kw = Vec::new();
    for (k, e) in &a.kw {
        kw.push((k.clone(), as_const(e, st)?));
    }
    Ok((pos, kw))
}

/// Jinja2's `Expr.as_const`, with the filters' side effects (the random draws).
fn as_const(e: &Expr, st: &mut State<'_>) -> R {
    Ok(match &e.kind {
        ExprKind::Const(v) => v.clone(),
        ExprKind::Name(_) | ExprKind::Call(..) | ExprKind::Slice(..) => return Err(Impossible),
        ExprKind::List(items) => {
            let mut v = Vec::new();
            for i in items {
                v.push(as_const(i, st)?);
            }
            Value::list(v)
        }
        ExprKind::Tuple(items) => {
            let mut v = Vec::new();
            for i in items {
                v.push(as_const(i, st)?);
            }
            Value::Tuple(std::rc::Rc::new(v))
        }
        ExprKind::Dict(items) => {
            let mut d: Vec<(Value, Value)> = Vec::new();
            for (k, v) in items {
                let k = as_const(k, st)?;
                let v = as_const(v, st)?;
                if !super::value::hashable(&k) {
                    return Err(Impossible);
                }
                match d.iter_mut().find(|(k2, _)| super::value::py_eq(k2, &k)) {
                    Some(slot) => slot.1 = v,
                    None => d.push((k, v)),
                }
            }
            Value::dict(d)
        }
        ExprKind::Getattr(o, name) => {
            let o = as_const(o, st)?;
            ok(getattr(&o, name))?
        }
        ExprKind::Getitem(o, k) => {
            let o = as_const(o, st)?;
            if let ExprKind::Slice(a, b, c) = &k.kind {
                let mut part = |x: &Option<Box<Expr>>| match x {
                    Some(x) => as_const(x, st),
                    None => Ok(Value::None),
                };
                let (a, b, c) = (part(a)?, part(b)?, part(c)?);
                return ok(slice(&o, &a, &b, &c));
            }
            let k = as_const(k, st)?;
            ok(getitem(&o, &k))?
        }
        ExprKind::Filter(v, name, args) => {
            if CONTEXT_FILTERS.contains(&name.as_str()) {
                return Err(Impossible);
            }
            let (pos, kw) = const_args(args, st)?;
            let v = as_const(v, st)?;
            ok(builtins::filter(st, name, v, pos, kw))?
        }
        ExprKind::Test(v, name, args) => {
            let (pos, _) = const_args(args, st)?;
            let v = as_const(v, st)?;
            Value::Bool(ok(builtins::test(name, &v, &pos))?)
        }
        ExprKind::Neg(x) | ExprKind::Pos(x) => {
            let v = as_const(x, st)?;
            let neg = matches!(e.kind, ExprKind::Neg(_));
            match v.as_num() {
                Some(super::value::Num::Int(i)) => Value::Int(if neg {
                    i.checked_neg().ok_or(Impossible)?
                } else {
                    i
                }),
                Some(super::value::Num::Float(f)) => Value::Float(if neg { -f } else { f }),
                None => return Err(Impossible),
            }
        }
        ExprKind::Bin(op, a, b) => {
            let l = as_const(a, st)?;
            let r = as_const(b, st)?;
            ok(eval::binop(*op, &l, &r, st.limits.max_items))?
        }
        ExprKind::Not(x) => Value::Bool(!as_const(x, st)?.truthy()),
        ExprKind::And(a, b) => {
            let l = as_const(a, st)?;
            if l.truthy() { as_const(b, st)? } else { l }
        }
        ExprKind::Or(a, b) => {
            let l = as_const(a, st)?;
            if l.truthy() { l } else { as_const(b, st)? }
        }
        ExprKind::Compare(first, ops) => {
            let mut left = as_const(first, st)?;
            for (op, x) in ops {
                let right = as_const(x, st)?;
                if !ok(eval::compare(*op, &left, &right))? {
                    return Ok(Value::Bool(false));
                }
                left = right;
            }
            Value::Bool(true)
        }
        ExprKind::Concat(items) => {
            let mut s = String::new();
            for i in items {
                s.push_str(&as_const(i, st)?.to_py_str());
            }
            Value::str(&s)
        }
        ExprKind::Cond(t, a, b) => {
            if as_const(t, st)?.truthy() {
                as_const(a, st)?
            } else {
                match b {
                    Some(b) => as_const(b, st)?,
                    None => return Err(Impossible),
                }
            }
        }
    })
}
