//! The evaluator: statements and expressions over [`Value`]s with Jinja2 3.0 semantics.

use std::collections::HashMap;
use std::rc::Rc;

use super::builtins;
use super::error::{Error, ErrorKind};
use super::rng::PyRandom;
use super::syntax::{Args, BinOp, CmpOp, Expr, ExprKind, Node, Target};
use super::value::{LoopInfo, Num, Value, hashable, py_cmp, py_eq};

/// Limits that keep a render bounded whatever the template does.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most bytes of output (per render).
    pub max_output: usize,
    /// Most loop iterations in total (per render).
    pub max_iterations: usize,
    /// Most elements of a value built by the template (`range`, `*`, `+`).
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_output: 1 << 24,
            max_iterations: 1_000_000,
            max_items: 1 << 22,
        }
    }
}

/// Evaluated call arguments: positional and keyword.
pub type CallArgs = (Vec<Value>, Vec<(String, Value)>);

/// State of one render.
pub struct State<'a> {
    ctx: &'a HashMap<String, Value>,
    scopes: Vec<HashMap<String, Value>>,
    /// The random generator (`choice`, `random`).
    pub rng: &'a mut PyRandom,
    /// Limits.
    pub limits: Limits,
    iterations: usize,
    loop_depth: usize,
}

impl<'a> State<'a> {
    /// A state over `ctx` (used for constant folding with an empty context).
    pub fn new(
        ctx: &'a HashMap<String, Value>,
        rng: &'a mut PyRandom,
        limits: Limits,
    ) -> State<'a> {
        State {
            ctx,
            scopes: vec![HashMap::new()],
            rng,
            limits,
            iterations: 0,
            loop_depth: 0,
        }
    }
}

/// Renders statements with the given variables.
pub fn render(
    nodes: &[Node],
    ctx: &HashMap<String, Value>,
    rng: &mut PyRandom,
    limits: Limits,
) -> Result<String, Error> {
    let mut st = State {
        ctx,
        scopes: vec![HashMap::new()],
        rng,
        limits,
        iterations: 0,
        loop_depth: 0,
    };
    let mut out = String::new();
    st.exec(nodes, &mut out)?;
    Ok(out)
}

pub(crate) fn undefined_error(v: &Value) -> Error {
    match v {
        Value::Undefined(why) => Error::new(ErrorKind::Undefined, why.to_string()),
        _ => Error::new(ErrorKind::Undefined, "undefined value"),
    }
}

impl State<'_> {
    fn lookup(&self, name: &str) -> Value {
        for s in self.scopes.iter().rev() {
            if let Some(v) = s.get(name) {
                return v.clone();
            }
        }
        if let Some(v) = self.ctx.get(name) {
            return v.clone();
        }
        match name {
            "range" => Value::Func("range"),
            "zip" => Value::Func("zip"),
            "namespace" => Value::Func("namespace"),
            "dict" => Value::Func("dict"),
            "lipsum" => Value::Func("lipsum"),
            "cycler" => Value::Func("cycler"),
            "joiner" => Value::Func("joiner"),
            _ => Value::undefined(format!("'{name}' is undefined")),
        }
    }

    fn set_var(&mut self, name: &str, v: Value) {
        if let Some(s) = self.scopes.last_mut() {
            s.insert(name.to_string(), v);
        }
    }

    fn push(&self, out: &mut String, s: &str) -> Result<(), Error> {
        if out.len().saturating_add(s.len()) > self.limits.max_output {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("output longer than {} bytes", self.limits.max_output),
            ));
        }
        out.push_str(s);
        Ok(())
    }

    fn exec(&mut self, nodes: &[Node], out: &mut String) -> Result<(), Error> {
        for n in nodes {
            match n {
                Node::Text(t) => self.push(out, t)?,
                Node::Output(e) => {
                    let v = self.eval(e)?;
                    let s = v.to_py_str();
                    self.push(out, &s)?;
                }
                Node::If { branches, else_ } => {
                    let mut done = false;
                    for (c, body) in branches {
                        if self.eval(c)?.truthy() {
                            self.exec(body, out)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.exec(else_, out)?;
                    }
                }
                Node::Set {
                    target,
                    value,
                    line,
                } => {
                    let v = self.eval(value)?;
                    self.assign(target, v).map_err(|e| e.at(*line))?;
                }
                Node::SetBlock { name, body } => {
                    let mut s = String::new();
                    self.exec(body, &mut s)?;
                    self.set_var(name, Value::str(&s));
                }
                Node::For {
                    target,
                    iter,
                    filter,
                    body,
                    else_,
                    line,
                } => self
                    .exec_for(target, iter, filter.as_ref(), body, else_, out)
                    .map_err(|e| e.at(*line))?,
            }
        }
        Ok(())
    }

    fn assign(&mut self, target: &Target, v: Value) -> Result<(), Error> {
        match target {
            Target::Name(n) => {
                self.set_var(n, v);
                Ok(())
            }
            Target::Attr(ns, attr) => match &self.lookup(ns) {
                Value::Namespace(d) => {
                    let mut d = d.borrow_mut();
                    let key = Value::str(attr);
                    if let Some(slot) = d.iter_mut().find(|(k, _)| py_eq(k, &key)) {
                        slot.1 = v;
                    } else {
                        d.push((key, v));
                    }
                    Ok(())
                }
                _ => Err(Error::new(
                    ErrorKind::Runtime,
                    "cannot assign attribute on non-namespace object",
                )),
            },
            Target::Tuple(ts) => {
                let items = v.iter_items()?;
                if items.len() != ts.len() {
                    return Err(Error::new(
                        ErrorKind::Value,
                        if items.len() > ts.len() {
                            format!("too many values to unpack (expected {})", ts.len())
                        } else {
                            format!(
                                "not enough values to unpack (expected {}, got {})",
                                ts.len(),
                                items.len()
                            )
                        },
                    ));
                }
                for (t, v) in ts.iter().zip(items) {
                    self.assign(t, v)?;
                }
                Ok(())
            }
        }
    }

    fn exec_for(
        &mut self,
        target: &Target,
        iter: &Expr,
        filter: Option<&Expr>,
        body: &[Node],
        else_: &[Node],
        out: &mut String,
    ) -> Result<(), Error> {
        let seq = self.eval(iter)?;
        let all = seq.iter_items()?;
        match filter {
            None => self.run_loop(target, all, body, else_, out),
            Some(f) => {
                // The inline filter runs lazily, item by item, as Jinja2's generator does:
                // it sees what earlier iterations changed (e.g. `if x not in seen`).
                // `loop.length`/`last`/`nextitem` are computed from the items still to come
                // as they stand when each iteration starts.
                let mut kept = Vec::new();
                let mut rest = all.into_iter();
                let mut first = true;
                loop {
                    let mut next = None;
                    for it in rest.by_ref() {
                        if self.keep(target, f, &it)? {
                            next = Some(it);
                            break;
                        }
                    }
                    let Some(item) = next else { break };
                    let remaining: Vec<Value> = rest.clone().collect();
                    let mut ahead = Vec::new();
                    for it in &remaining {
                        if self.keep(target, f, it)? {
                            ahead.push(it.clone());
                        }
                    }
                    kept.push(item.clone());
                    let index0 = kept.len() - 1;
                    let length = kept.len() + ahead.len();
                    let previtem = if index0 > 0 {
                        kept[index0 - 1].clone()
                    } else {
                        Value::undefined("there is no previous item")
                    };
                    let nextitem = ahead
                        .first()
                        .cloned()
                        .unwrap_or_else(|| Value::undefined("there is no next item"));
                    if first {
                        self.loop_depth += 1;
                        first = false;
                    }
                    let r =
                        self.iteration(target, item, index0, length, previtem, nextitem, body, out);
                    if let Err(e) = r {
                        self.loop_depth -= 1;
                        return Err(e);
                    }
                }
                if first {
                    return self.exec(else_, out);
                }
                self.loop_depth -= 1;
                Ok(())
            }
        }
    }

    fn keep(&mut self, target: &Target, f: &Expr, it: &Value) -> Result<bool, Error> {
        self.tick()?;
        self.scopes.push(HashMap::new());
        let r = self.assign(target, it.clone()).and_then(|_| self.eval(f));
        self.scopes.pop();
        Ok(r?.truthy())
    }

    fn run_loop(
        &mut self,
        target: &Target,
        items: Vec<Value>,
        body: &[Node],
        else_: &[Node],
        out: &mut String,
    ) -> Result<(), Error> {
        if items.is_empty() {
            return self.exec(else_, out);
        }
        self.loop_depth += 1;
        let n = items.len();
        for i in 0..n {
            let previtem = if i > 0 {
                items[i - 1].clone()
            } else {
                Value::undefined("there is no previous item")
            };
            let nextitem = items
                .get(i + 1)
                .cloned()
                .unwrap_or_else(|| Value::undefined("there is no next item"));
            let r = self.iteration(
                target,
                items[i].clone(),
                i,
                n,
                previtem,
                nextitem,
                body,
                out,
            );
            if let Err(e) = r {
                self.loop_depth -= 1;
                return Err(e);
            }
        }
        self.loop_depth -= 1;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn iteration(
        &mut self,
        target: &Target,
        item: Value,
        index0: usize,
        length: usize,
        previtem: Value,
        nextitem: Value,
        body: &[Node],
        out: &mut String,
    ) -> Result<(), Error> {
        self.tick()?;
        let info = LoopInfo {
            index0,
            length,
            previtem,
            nextitem,
            depth: self.loop_depth,
        };
        self.scopes.push(HashMap::new());
        self.set_var("loop", Value::Loop(Rc::new(info)));
        let r = self.assign(target, item).and_then(|_| self.exec(body, out));
        self.scopes.pop();
        r
    }

    fn tick(&mut self) -> Result<(), Error> {
        self.iterations += 1;
        if self.iterations > self.limits.max_iterations {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("more than {} loop iterations", self.limits.max_iterations),
            ));
        }
        Ok(())
    }

    /// Evaluates call arguments.
    pub fn eval_args(&mut self, a: &Args) -> Result<CallArgs, Error> {
        let mut pos = Vec::with_capacity(a.pos.len());
        for e in &a.pos {
            pos.push(self.eval(e)?);
        }
        let mut kw = Vec::with_capacity(a.kw.len());
        for (k, e) in &a.kw {
            kw.push((k.clone(), self.eval(e)?));
        }
        Ok((pos, kw))
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &Expr) -> Result<Value, Error> {
        self.eval_inner(e).map_err(|err| err.at(e.line))
    }

    fn eval_inner(&mut self, e: &Expr) -> Result<Value, Error> {
        Ok(match &e.kind {
            ExprKind::Const(v) => v.clone(),
            ExprKind::Name(n) => self.lookup(n),
            ExprKind::List(items) => {
                let mut v = Vec::with_capacity(items.len());
                for i in items {
                    v.push(self.eval(i)?);
                }
                Value::list(v)
            }
            ExprKind::Tuple(items) => {
                let mut v = Vec::with_capacity(items.len());
                for i in items {
                    v.push(self.eval(i)?);
                }
                Value::Tuple(Rc::new(v))
            }
            ExprKind::Dict(items) => {
                let mut d: Vec<(Value, Value)> = Vec::with_capacity(items.len());
                for (k, v) in items {
                    let k = self.eval(k)?;
                    let v = self.eval(v)?;
                    if !hashable(&k) {
                        return Err(Error::new(
                            ErrorKind::Type,
                            format!("unhashable type: '{}'", k.type_name()),
                        ));
                    }
                    if let Some(slot) = d.iter_mut().find(|(k2, _)| py_eq(k2, &k)) {
                        slot.1 = v;
                    } else {
                        d.push((k, v));
                    }
                }
                Value::dict(d)
            }
            ExprKind::Getattr(obj, name) => {
                let o = self.eval(obj)?;
                getattr(&o, name)?
            }
            ExprKind::Getitem(obj, key) => {
                let o = self.eval(obj)?;
                if let ExprKind::Slice(a, b, c) = &key.kind {
                    let a = self.eval_opt(a.as_deref())?;
                    let b = self.eval_opt(b.as_deref())?;
                    let c = self.eval_opt(c.as_deref())?;
                    return slice(&o, &a, &b, &c);
                }
                let k = self.eval(key)?;
                getitem(&o, &k)?
            }
            ExprKind::Slice(..) => {
                return Err(Error::new(ErrorKind::Syntax, "slice outside of []"));
            }
            ExprKind::Call(f, args) => {
                let fv = self.eval(f)?;
                let (pos, kw) = self.eval_args(args)?;
                builtins::call(self, &fv, pos, kw)?
            }
            ExprKind::Filter(v, name, args) => {
                let v = self.eval(v)?;
                let (pos, kw) = self.eval_args(args)?;
                builtins::filter(self, name, v, pos, kw)?
            }
            ExprKind::Test(v, name, args) => {
                let v = self.eval(v)?;
                let (pos, _kw) = self.eval_args(args)?;
                Value::Bool(builtins::test(name, &v, &pos)?)
            }
            ExprKind::Neg(x) => {
                let v = self.eval(x)?;
                match v.as_num() {
                    Some(Num::Int(i)) => Value::Int(i.checked_neg().ok_or_else(overflow)?),
                    Some(Num::Float(f)) => Value::Float(-f),
                    None if v.is_undefined() => return Err(undefined_error(&v)),
                    None => {
                        return Err(Error::new(
                            ErrorKind::Type,
                            format!("bad operand type for unary -: '{}'", v.type_name()),
                        ));
                    }
                }
            }
            ExprKind::Pos(x) => {
                let v = self.eval(x)?;
                match v.as_num() {
                    Some(Num::Int(i)) => Value::Int(i),
                    Some(Num::Float(f)) => Value::Float(f),
                    None if v.is_undefined() => return Err(undefined_error(&v)),
                    None => {
                        return Err(Error::new(
                            ErrorKind::Type,
                            format!("bad operand type for unary +: '{}'", v.type_name()),
                        ));
                    }
                }
            }
            ExprKind::Not(x) => Value::Bool(!self.eval(x)?.truthy()),
            ExprKind::And(a, b) => {
                let l = self.eval(a)?;
                if l.truthy() { self.eval(b)? } else { l }
            }
            ExprKind::Or(a, b) => {
                let l = self.eval(a)?;
                if l.truthy() { l } else { self.eval(b)? }
            }
            ExprKind::Bin(op, a, b) => {
                let l = self.eval(a)?;
                let r = self.eval(b)?;
                binop(*op, &l, &r, self.limits.max_items)?
            }
            ExprKind::Compare(first, ops) => {
                let mut left = self.eval(first)?;
                for (op, e) in ops {
                    let right = self.eval(e)?;
                    if !compare(*op, &left, &right)? {
                        return Ok(Value::Bool(false));
                    }
                    left = right;
                }
                Value::Bool(true)
            }
            ExprKind::Concat(items) => {
                let mut s = String::new();
                for i in items {
                    s.push_str(&self.eval(i)?.to_py_str());
                    if s.len() > self.limits.max_output {
                        return Err(Error::new(ErrorKind::Limit, "string too long"));
                    }
                }
                Value::str(&s)
            }
            ExprKind::Cond(test, a, b) => {
                if self.eval(test)?.truthy() {
                    self.eval(a)?
                } else if let Some(b) = b {
                    self.eval(b)?
                } else {
                    Value::undefined(
                        "the inline if-expression evaluated to false and no else section was defined",
                    )
                }
            }
        })
    }

    fn eval_opt(&mut self, e: Option<&Expr>) -> Result<Value, Error> {
        match e {
            Some(e) => self.eval(e),
            None => Ok(Value::None),
        }
    }
}

pub(crate) fn overflow() -> Error {
    Error::new(
        ErrorKind::Arithmetic,
        "integer overflow (Python ints are unbounded; t0-prompts uses 64 bits)",
    )
}

/// Names of the methods each type exposes to templates.
pub(crate) const STR_METHODS: &[&str] = &[
    "split",
    "rsplit",
    "lower",
    "upper",
    "strip",
    "lstrip",
    "rstrip",
    "replace",
    "join",
    "startswith",
    "endswith",
    "capitalize",
    "title",
    "find",
    "rfind",
    "index",
    "rindex",
    "count",
    "isdigit",
    "isalpha",
    "isalnum",
    "isspace",
    "isupper",
    "islower",
    "isnumeric",
    "isdecimal",
    "splitlines",
    "format",
    "swapcase",
    "casefold",
    "zfill",
    "center",
    "ljust",
    "rjust",
    "partition",
    "rpartition",
    "istitle",
    "encode",
    "expandtabs",
    "isidentifier",
    "isprintable",
    "isascii",
    "maketrans",
    "translate",
    "format_map",
    "removeprefix",
    "removesuffix",
];
pub(crate) const LIST_METHODS: &[&str] = &[
    "append", "pop", "index", "count", "extend", "insert", "remove", "reverse", "sort", "copy",
    "clear",
];
pub(crate) const TUPLE_METHODS: &[&str] = &["index", "count"];
pub(crate) const DICT_METHODS: &[&str] = &[
    "keys",
    "values",
    "items",
    "update",
    "get",
    "pop",
    "copy",
    "setdefault",
    "clear",
    "popitem",
    "fromkeys",
];

/// Jinja2's `environment.getattr`: Python attribute first, then item.
pub fn getattr(o: &Value, name: &str) -> Result<Value, Error> {
    let method = |list: &[&str]| {
        if list.contains(&name) {
            Some(Value::Method(Box::new(o.clone()), Rc::from(name)))
        } else {
            None
        }
    };
    let missing = || Value::undefined(format!("'{}' has no attribute '{name}'", type_desc(o)));
    Ok(match o {
        Value::Undefined(_) => return Err(undefined_error(o)),
        Value::Str(_) => method(STR_METHODS).unwrap_or_else(missing),
        Value::List(_) => method(LIST_METHODS).unwrap_or_else(missing),
        Value::Tuple(_) => method(TUPLE_METHODS).unwrap_or_else(missing),
        Value::Dict(d) => match method(DICT_METHODS) {
            Some(m) => m,
            None => dict_get(&d.borrow(), &Value::str(name)).unwrap_or_else(missing),
        },
        Value::Namespace(d) => dict_get(&d.borrow(), &Value::str(name)).unwrap_or_else(missing),
        Value::Loop(l) => match name {
            "index" => Value::Int(l.index0 as i64 + 1),
            "index0" => Value::Int(l.index0 as i64),
            "revindex" => Value::Int((l.length - l.index0) as i64),
            "revindex0" => Value::Int((l.length - l.index0 - 1) as i64),
            "first" => Value::Bool(l.index0 == 0),
            "last" => Value::Bool(l.index0 + 1 == l.length),
            "length" => Value::Int(l.length as i64),
            "previtem" => l.previtem.clone(),
            "nextitem" => l.nextitem.clone(),
            "depth" => Value::Int(l.depth as i64),
            "depth0" => Value::Int(l.depth as i64 - 1),
            _ => missing(),
        },
        Value::Int(_) | Value::Bool(_) | Value::Float(_) => match name {
            "real" => o.clone(),
            "imag" => Value::Int(0),
            _ => missing(),
        },
        _ => missing(),
    })
}

fn type_desc(o: &Value) -> String {
    format!("{} object", o.type_name())
}

pub(crate) fn dict_get(d: &[(Value, Value)], k: &Value) -> Option<Value> {
    d.iter()
        .find(|(k2, _)| py_eq(k2, k))
        .map(|(_, v)| v.clone())
}

fn index_of(i: &Value, len: usize) -> Option<Option<usize>> {
    let i = match i {
        Value::Int(i) => *i,
        Value::Bool(b) => *b as i64,
        _ => return None,
    };
    let len = len as i64;
    let j = if i < 0 { i + len } else { i };
    Some(if (0..len).contains(&j) {
        Some(j as usize)
    } else {
        None
    })
}

/// Jinja2's `environment.getitem`: item first, then (for string keys) attribute.
pub fn getitem(o: &Value, k: &Value) -> Result<Value, Error> {
    let fallback = |o: &Value| -> Result<Value, Error> {
        if let Value::Str(s) = k {
            getattr(o, s)
        } else {
            Ok(Value::undefined(format!(
                "{} has no element {}",
                type_desc(o),
                k.repr()
            )))
        }
    };
    match o {
        Value::Undefined(_) => Err(undefined_error(o)),
        Value::Str(s) => {
            let n = s.chars().count();
            match index_of(k, n) {
                Some(Some(i)) => Ok(Value::str(
                    &s.chars().nth(i).map(String::from).unwrap_or_default(),
                )),
                Some(None) => Ok(Value::undefined(format!(
                    "{} has no element {}",
                    type_desc(o),
                    k.repr()
                ))),
                None => fallback(o),
            }
        }
        Value::List(l) => {
            let l2 = l.borrow();
            match index_of(k, l2.len()) {
                Some(Some(i)) => Ok(l2[i].clone()),
                Some(None) => Ok(Value::undefined(format!(
                    "{} has no element {}",
                    type_desc(o),
                    k.repr()
                ))),
                None => fallback(o),
            }
        }
        Value::Tuple(t) => match index_of(k, t.len()) {
            Some(Some(i)) => Ok(t[i].clone()),
            Some(None) => Ok(Value::undefined(format!(
                "{} has no element {}",
                type_desc(o),
                k.repr()
            ))),
            None => fallback(o),
        },
        Value::Dict(d) => {
            if hashable(k)
                && let Some(v) = dict_get(&d.borrow(), k)
            {
                return Ok(v);
            }
            fallback(o)
        }
        _ => fallback(o),
    }
}

fn slice_indices(len: usize, a: &Value, b: &Value, c: &Value) -> Result<Vec<usize>, Error> {
    let get = |v: &Value| -> Result<Option<i64>, Error> {
        match v {
            Value::None => Ok(None),
            Value::Int(i) => Ok(Some(*i)),
            Value::Bool(b) => Ok(Some(*b as i64)),
            Value::Undefined(_) => Err(undefined_error(v)),
            _ => Err(Error::new(
                ErrorKind::Type,
                "slice indices must be integers or None or have an __index__ method",
            )),
        }
    };
    let len = len as i64;
    let step = get(c)?.unwrap_or(1);
    if step == 0 {
        return Err(Error::new(ErrorKind::Value, "slice step cannot be zero"));
    }
    let norm = |x: Option<i64>, def: i64, lo: i64, hi: i64| -> i64 {
        match x {
            None => def,
            Some(x) => {
                let x = if x < 0 { x + len } else { x };
                x.clamp(lo, hi)
            }
        }
    };
    let mut out = Vec::new();
    if step > 0 {
        let start = norm(get(a)?, 0, 0, len);
        let stop = norm(get(b)?, len, 0, len);
        let mut i = start;
        while i < stop {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    } else {
        let start = norm(get(a)?, len - 1, -1, len - 1);
        let stop = norm(get(b)?, -1, -1, len - 1);
        let mut i = start;
        while i > stop {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    }
    Ok(out)
}

/// Python slicing of str, list and tuple.
pub fn slice(o: &Value, a: &Value, b: &Value, c: &Value) -> Result<Value, Error> {
    match o {
        Value::Undefined(_) => Err(undefined_error(o)),
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            let idx = slice_indices(chars.len(), a, b, c)?;
            Ok(Value::str(
                &idx.iter().map(|&i| chars[i]).collect::<String>(),
            ))
        }
        Value::List(l) => {
            let l = l.borrow();
            let idx = slice_indices(l.len(), a, b, c)?;
            Ok(Value::list(idx.iter().map(|&i| l[i].clone()).collect()))
        }
        Value::Tuple(t) => {
            let idx = slice_indices(t.len(), a, b, c)?;
            Ok(Value::Tuple(Rc::new(
                idx.iter().map(|&i| t[i].clone()).collect(),
            )))
        }
        _ => Ok(Value::undefined(format!(
            "{} is not subscriptable",
            type_desc(o)
        ))),
    }
}

fn type_err(op: &str, l: &Value, r: &Value) -> Error {
    Error::new(
        ErrorKind::Type,
        format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            l.type_name(),
            r.type_name()
        ),
    )
}

/// Python `a % b` for floats.
fn py_fmod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 && ((m < 0.0) != (b < 0.0)) {
        m + b
    } else {
        m
    }
}

/// Binary arithmetic with Python semantics.
pub fn binop(op: BinOp, l: &Value, r: &Value, max_items: usize) -> Result<Value, Error> {
    if l.is_undefined() {
        return Err(undefined_error(l));
    }
    if r.is_undefined() {
        return Err(undefined_error(r));
    }
    let sym = match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "** or pow()",
    };
    if let (Some(a), Some(b)) = (l.as_num(), r.as_num()) {
        let zero = || Error::new(ErrorKind::Arithmetic, "division by zero");
        return Ok(match (op, a, b) {
            (BinOp::Add, Num::Int(x), Num::Int(y)) => {
                Value::Int(x.checked_add(y).ok_or_else(overflow)?)
            }
            (BinOp::Sub, Num::Int(x), Num::Int(y)) => {
                Value::Int(x.checked_sub(y).ok_or_else(overflow)?)
            }
            (BinOp::Mul, Num::Int(x), Num::Int(y)) => {
                Value::Int(x.checked_mul(y).ok_or_else(overflow)?)
            }
            (BinOp::Add, _, _) => Value::Float(a.f() + b.f()),
            (BinOp::Sub, _, _) => Value::Float(a.f() - b.f()),
            (BinOp::Mul, _, _) => Value::Float(a.f() * b.f()),
            (BinOp::Div, _, _) => {
                if b.f() == 0.0 {
                    return Err(zero());
                }
                Value::Float(a.f() / b.f())
            }
            (BinOp::FloorDiv, Num::Int(x), Num::Int(y)) => {
                if y == 0 {
                    return Err(zero());
                }
                let q = x.checked_div(y).ok_or_else(overflow)?;
                Value::Int(if (x % y != 0) && ((x < 0) != (y < 0)) {
                    q - 1
                } else {
                    q
                })
            }
            (BinOp::FloorDiv, _, _) => {
                if b.f() == 0.0 {
                    return Err(zero());
                }
                let (x, y) = (a.f(), b.f());
                Value::Float(((x - py_fmod(x, y)) / y).round())
            }
            (BinOp::Mod, Num::Int(x), Num::Int(y)) => {
                if y == 0 {
                    return Err(Error::new(
                        ErrorKind::Arithmetic,
                        "integer division or modulo by zero",
                    ));
                }
                let m = x.checked_rem(y).ok_or_else(overflow)?;
                Value::Int(if m != 0 && ((m < 0) != (y < 0)) {
                    m + y
                } else {
                    m
                })
            }
            (BinOp::Mod, _, _) => {
                if b.f() == 0.0 {
                    return Err(Error::new(ErrorKind::Arithmetic, "float modulo"));
                }
                Value::Float(py_fmod(a.f(), b.f()))
            }
            (BinOp::Pow, Num::Int(x), Num::Int(y)) if y >= 0 => {
                let y = u32::try_from(y).map_err(|_| overflow())?;
                Value::Int(x.checked_pow(y).ok_or_else(overflow)?)
            }
            (BinOp::Pow, _, _) => {
                if a.f() == 0.0 && b.f() < 0.0 {
                    return Err(Error::new(
                        ErrorKind::Arithmetic,
                        "0.0 cannot be raised to a negative power",
                    ));
                }
                Value::Float(a.f().powf(b.f()))
            }
        });
    }
    let too_big = || {
        Error::new(
            ErrorKind::Limit,
            format!("value larger than {max_items} items"),
        )
    };
    match (op, l, r) {
        (BinOp::Add, Value::Str(a), Value::Str(b)) => {
            if a.len() + b.len() > max_items.saturating_mul(4) {
                return Err(too_big());
            }
            Ok(Value::str(&format!("{a}{b}")))
        }
        (BinOp::Add, Value::List(a), Value::List(b)) => {
            let mut v = a.borrow().clone();
            v.extend(b.borrow().iter().cloned());
            if v.len() > max_items {
                return Err(too_big());
            }
            Ok(Value::list(v))
        }
        (BinOp::Add, Value::Tuple(a), Value::Tuple(b)) => {
            let mut v = a.as_ref().clone();
            v.extend(b.iter().cloned());
            Ok(Value::Tuple(Rc::new(v)))
        }
        (
            BinOp::Mul,
            Value::Str(_) | Value::List(_) | Value::Tuple(_),
            Value::Int(_) | Value::Bool(_),
        )
        | (
            BinOp::Mul,
            Value::Int(_) | Value::Bool(_),
            Value::Str(_) | Value::List(_) | Value::Tuple(_),
        ) => {
            let (seq, n) = if l.as_num().is_some() { (r, l) } else { (l, r) };
            let n = match n.as_num() {
                Some(Num::Int(n)) => n.max(0) as usize,
                _ => 0,
            };
            let len = seq.py_len()?;
            if len.saturating_mul(n) > max_items.saturating_mul(4) {
                return Err(too_big());
            }
            Ok(match seq {
                Value::Str(s) => Value::str(&s.repeat(n)),
                Value::List(v) => {
                    let v = v.borrow();
                    let mut out = Vec::with_capacity(v.len() * n);
                    for _ in 0..n {
                        out.extend(v.iter().cloned());
                    }
                    Value::list(out)
                }
                Value::Tuple(v) => {
                    let mut out = Vec::with_capacity(v.len() * n);
                    for _ in 0..n {
                        out.extend(v.iter().cloned());
                    }
                    Value::Tuple(Rc::new(out))
                }
                _ => Value::None,
            })
        }
        (BinOp::Mod, Value::Str(fmt), args) => builtins::printf(fmt, args),
        _ => Err(type_err(sym, l, r)),
    }
}

/// Python `in`.
pub fn contains(container: &Value, item: &Value) -> Result<bool, Error> {
    match container {
        Value::Undefined(_) => Ok(false),
        Value::Str(s) => match item {
            Value::Str(x) => Ok(s.contains(x.as_ref())),
            Value::Undefined(_) => Err(undefined_error(item)),
            _ => Err(Error::new(
                ErrorKind::Type,
                format!(
                    "'in <string>' requires string as left operand, not {}",
                    item.type_name()
                ),
            )),
        },
        Value::List(l) => Ok(l.borrow().iter().any(|x| py_eq(x, item))),
        Value::Tuple(t) => Ok(t.iter().any(|x| py_eq(x, item))),
        Value::Dict(d) => {
            if !hashable(item) {
                return Err(Error::new(
                    ErrorKind::Type,
                    format!("unhashable type: '{}'", item.type_name()),
                ));
            }
            Ok(d.borrow().iter().any(|(k, _)| py_eq(k, item)))
        }
        _ => Err(Error::new(
            ErrorKind::Type,
            format!(
                "argument of type '{}' is not iterable",
                container.type_name()
            ),
        )),
    }
}

/// One comparison.
pub fn compare(op: CmpOp, l: &Value, r: &Value) -> Result<bool, Error> {
    use std::cmp::Ordering::*;
    Ok(match op {
        CmpOp::Eq => py_eq(l, r),
        CmpOp::Ne => !py_eq(l, r),
        CmpOp::Lt => py_cmp(l, r, "<")? == Less,
        CmpOp::Le => py_cmp(l, r, "<=")? != Greater && !is_nan_cmp(l, r),
        CmpOp::Gt => py_cmp(l, r, ">")? == Greater,
        CmpOp::Ge => py_cmp(l, r, ">=")? != Less && !is_nan_cmp(l, r),
        CmpOp::In => contains(r, l)?,
        CmpOp::NotIn => !contains(r, l)?,
    })
}

fn is_nan_cmp(l: &Value, r: &Value) -> bool {
    matches!(l, Value::Float(f) if f.is_nan()) || matches!(r, Value::Float(f) if f.is_nan())
}
