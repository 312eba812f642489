//! Values of the template language, with Python's semantics (what Jinja2 runs on).
//!
//! Lists, dicts and namespaces are shared and mutable (`Rc<RefCell<..>>`), as Python objects
//! are: `x.append(1)` changes every alias of `x`.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use super::error::{Error, ErrorKind};

/// A mutable Python list.
pub type List = Rc<RefCell<Vec<Value>>>;
/// A mutable Python dict (insertion ordered; keys compared with Python `==`).
pub type Dict = Rc<RefCell<Vec<(Value, Value)>>>;

/// One value.
#[derive(Clone, Debug)]
pub enum Value {
    /// Jinja2's `Undefined` (missing variable, attribute or item); the text says what was missing.
    Undefined(Rc<str>),
    /// Python `None`.
    None,
    /// Python `bool`.
    Bool(bool),
    /// Python `int` (64-bit here; overflow is an error).
    Int(i64),
    /// Python `float`.
    Float(f64),
    /// Python `str`.
    Str(Rc<str>),
    /// Python `list`.
    List(List),
    /// Python `tuple`.
    Tuple(Rc<Vec<Value>>),
    /// Python `dict`.
    Dict(Dict),
    /// Jinja2's `namespace(...)` object.
    Namespace(Dict),
    /// The `loop` variable of a `for`.
    Loop(Rc<LoopInfo>),
    /// A bound method (`"a b".split`), called by a following `( )`.
    Method(Box<Value>, Rc<str>),
    /// A global function (`range`, `zip`, `namespace`, `dict`).
    Func(&'static str),
}

impl Drop for Value {
    /// Drops nested containers iteratively: a template can nest lists thousands deep
    /// (`ns.l = [ns.l]` in a loop), which a recursive drop would overflow the stack on.
    fn drop(&mut self) {
        let mut stack: Vec<Value> = Vec::new();
        take_children(self, &mut stack);
        while let Some(mut v) = stack.pop() {
            take_children(&mut v, &mut stack);
        }
    }
}

fn take_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::List(l) if Rc::strong_count(l) == 1 => {
            if let Ok(mut b) = l.try_borrow_mut() {
                stack.append(&mut b);
            }
        }
        Value::Dict(d) | Value::Namespace(d) if Rc::strong_count(d) == 1 => {
            if let Ok(mut b) = d.try_borrow_mut() {
                for (k, v) in b.drain(..) {
                    stack.push(k);
                    stack.push(v);
                }
            }
        }
        Value::Tuple(t) => {
            if let Some(t) = Rc::get_mut(t) {
                stack.append(t);
            }
        }
        Value::Method(b, _) => stack.push(std::mem::replace(&mut **b, Value::None)),
        Value::Loop(l) => {
            if let Some(l) = Rc::get_mut(l) {
                stack.push(std::mem::replace(&mut l.previtem, Value::None));
                stack.push(std::mem::replace(&mut l.nextitem, Value::None));
            }
        }
        _ => {}
    }
}

/// Deepest nesting compared by `==` / `<` before giving up (Python would raise
/// `RecursionError` around 1000).
const MAX_COMPARE_DEPTH: usize = 200;

/// The state `loop.*` exposes.
#[derive(Debug)]
pub struct LoopInfo {
    /// 0-based position.
    pub index0: usize,
    /// Number of items.
    pub length: usize,
    /// Previous item (Undefined on the first).
    pub previtem: Value,
    /// Next item (Undefined on the last).
    pub nextitem: Value,
    /// Nesting depth, 1 for the outermost loop.
    pub depth: usize,
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }
    /// A new list.
    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(v)))
    }
    /// A new dict.
    pub fn dict(v: Vec<(Value, Value)>) -> Value {
        Value::Dict(Rc::new(RefCell::new(v)))
    }
    /// An Undefined value with a reason.
    pub fn undefined(why: impl Into<String>) -> Value {
        Value::Undefined(Rc::from(why.into().as_str()))
    }

    /// From JSON, as Hugging Face datasets give records (ints stay ints, floats floats).
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::None,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::dict(
                o.iter()
                    .map(|(k, v)| (Value::str(k), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Python's type name (for error messages).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined(_) => "Undefined",
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Namespace(_) => "Namespace",
            Value::Loop(_) => "LoopContext",
            Value::Method(..) => "builtin_function_or_method",
            Value::Func(_) => "builtin_function_or_method",
        }
    }

    /// True for Undefined.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined(_))
    }

    /// Python truthiness (Undefined is false).
    pub fn truthy(&self) -> bool {
        match self {
            Value::Undefined(_) | Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.borrow().is_empty(),
            Value::Tuple(t) => !t.is_empty(),
            Value::Dict(d) => !d.borrow().is_empty(),
            _ => true,
        }
    }

    /// Python `str(value)` (Undefined gives "").
    pub fn to_py_str(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Undefined(_) => String::new(),
            _ => {
                let mut out = String::new();
                self.repr_into(&mut out, 0);
                out
            }
        }
    }

    /// Python `repr(value)`.
    pub fn repr(&self) -> String {
        let mut out = String::new();
        self.repr_into(&mut out, 0);
        out
    }

    fn repr_into(&self, out: &mut String, depth: usize) {
        if depth > 200 {
            out.push_str("...");
            return;
        }
        match self {
            Value::Undefined(_) => {}
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&float_repr(*f)),
            Value::Str(s) => str_repr_into(s, out),
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.repr_into(out, depth + 1);
                }
                out.push(']');
            }
            Value::Tuple(t) => {
                out.push('(');
                for (i, v) in t.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.repr_into(out, depth + 1);
                }
                if t.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::Dict(d) => dict_repr_into(&d.borrow(), out, depth),
            Value::Namespace(d) => {
                out.push_str("<Namespace ");
                dict_repr_into(&d.borrow(), out, depth);
                out.push('>');
            }
            Value::Loop(l) => {
                let _ = write!(out, "<LoopContext {}/{}>", l.index0 + 1, l.length);
            }
            Value::Method(obj, name) => {
                let _ = write!(
                    out,
                    "<built-in method {name} of {} object>",
                    obj.type_name()
                );
            }
            Value::Func(name) => {
                let _ = write!(out, "<built-in function {name}>");
            }
        }
    }

    /// Items when iterated as Python does (str → chars, dict → keys); Undefined → empty.
    pub fn iter_items(&self) -> Result<Vec<Value>, Error> {
        Ok(match self {
            Value::Undefined(_) => Vec::new(),
            Value::Str(s) => s
                .chars()
                .map(|c| Value::Str(Rc::from(c.to_string())))
                .collect(),
            Value::List(l) => l.borrow().clone(),
            Value::Tuple(t) => t.as_ref().clone(),
            Value::Dict(d) => d.borrow().iter().map(|(k, _)| k.clone()).collect(),
            other => {
                return Err(Error::new(
                    ErrorKind::Type,
                    format!("'{}' object is not iterable", other.type_name()),
                ));
            }
        })
    }

    /// Python `len(value)`; Undefined has length 0.
    pub fn py_len(&self) -> Result<usize, Error> {
        Ok(match self {
            Value::Undefined(_) => 0,
            Value::Str(s) => s.chars().count(),
            Value::List(l) => l.borrow().len(),
            Value::Tuple(t) => t.len(),
            Value::Dict(d) | Value::Namespace(d) => d.borrow().len(),
            other => {
                return Err(Error::new(
                    ErrorKind::Type,
                    format!("object of type '{}' has no len()", other.type_name()),
                ));
            }
        })
    }

    /// Numeric view (bool counts as int), if a number.
    pub fn as_num(&self) -> Option<Num> {
        match self {
            Value::Bool(b) => Some(Num::Int(*b as i64)),
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }
}

/// A Python number.
#[derive(Clone, Copy, Debug)]
pub enum Num {
    /// int
    Int(i64),
    /// float
    Float(f64),
}

impl Num {
    /// As f64.
    pub fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

fn dict_repr_into(d: &[(Value, Value)], out: &mut String, depth: usize) {
    out.push('{');
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        k.repr_into(out, depth + 1);
        out.push_str(": ");
        v.repr_into(out, depth + 1);
    }
    out.push('}');
}

/// Python `repr(str)`.
pub fn str_repr_into(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_printable(c) => {
                let n = c as u32;
                let _ = if n < 0x100 {
                    write!(out, "\\x{n:02x}")
                } else if n < 0x10000 {
                    write!(out, "\\u{n:04x}")
                } else {
                    write!(out, "\\U{n:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Approximation of Python's `str.isprintable` for one character (exact for ASCII and the
/// common non-printable ranges: C0/C1 controls, separators, format characters, surrogates,
/// private use and noncharacters).
pub fn py_printable(c: char) -> bool {
    let n = c as u32;
    if n < 0x20 || n == 0x7f {
        return false;
    }
    if n < 0x7f {
        return true;
    }
    !matches!(n,
        0x80..=0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f | 0x3000
        | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0xfdd0..=0xfdef | 0xfffe | 0xffff
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
}

/// Python's `str.isspace` for one character.
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python `repr(float)`: shortest round-trip digits, exponent form outside 1e-4 <= |x| < 1e16.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{:e}", f);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let decpt = exp + 1;
    if !(-4 < decpt && decpt <= 16) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let d = decpt as usize;
        if digits.len() <= d {
            out.push_str(&digits);
            for _ in digits.len()..d {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..d]);
            out.push('.');
            out.push_str(&digits[d..]);
        }
    }
    out
}

/// Python `==`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    eq_at(a, b, 0)
}

fn eq_at(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > MAX_COMPARE_DEPTH {
        return false;
    }
    let py_eq = |x: &Value, y: &Value| eq_at(x, y, depth + 1);
    if let (Some(x), Some(y)) = (a.as_num(), b.as_num()) {
        return match (x, y) {
            (Num::Int(x), Num::Int(y)) => x == y,
            _ => x.f() == y.f(),
        };
    }
    match (a, b) {
        (Value::Undefined(_), Value::Undefined(_)) => true,
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| py_eq(a, b))
        }
        (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| py_eq(a, b))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(k2, _)| py_eq(k, k2))
                        .is_some_and(|(_, v2)| py_eq(v, v2))
                })
        }
        (Value::Namespace(x), Value::Namespace(y)) => Rc::ptr_eq(x, y),
        (Value::Loop(x), Value::Loop(y)) => Rc::ptr_eq(x, y),
        (Value::Func(x), Value::Func(y)) => x == y,
        _ => false,
    }
}

/// Python `<` / `>` ordering; `Err` for unorderable types.
pub fn py_cmp(a: &Value, b: &Value, op: &str) -> Result<std::cmp::Ordering, Error> {
    cmp_at(a, b, op, 0)
}

fn cmp_at(a: &Value, b: &Value, op: &str, depth: usize) -> Result<std::cmp::Ordering, Error> {
    use std::cmp::Ordering;
    if depth > MAX_COMPARE_DEPTH {
        return Err(Error::new(
            ErrorKind::Limit,
            "maximum recursion depth exceeded in comparison",
        ));
    }
    if a.is_undefined() || b.is_undefined() {
        let why = match (a, b) {
            (Value::Undefined(w), _) | (_, Value::Undefined(w)) => w.to_string(),
            _ => String::new(),
        };
        return Err(Error::new(ErrorKind::Undefined, why));
    }
    if let (Some(x), Some(y)) = (a.as_num(), b.as_num()) {
        return Ok(match (x, y) {
            (Num::Int(x), Num::Int(y)) => x.cmp(&y),
            _ => x.f().partial_cmp(&y.f()).unwrap_or(Ordering::Equal),
        });
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.as_ref().cmp(y.as_ref())),
        (Value::List(x), Value::List(y)) => seq_cmp(&x.borrow(), &y.borrow(), op, depth),
        (Value::Tuple(x), Value::Tuple(y)) => seq_cmp(x, y, op, depth),
        _ => Err(Error::new(
            ErrorKind::Type,
            format!(
                "'{op}' not supported between instances of '{}' and '{}'",
                a.type_name(),
                b.type_name()
            ),
        )),
    }
}

fn seq_cmp(x: &[Value], y: &[Value], op: &str, depth: usize) -> Result<std::cmp::Ordering, Error> {
    for (a, b) in x.iter().zip(y.iter()) {
        if !eq_at(a, b, depth + 1) {
            return cmp_at(a, b, op, depth + 1);
        }
    }
    Ok(x.len().cmp(&y.len()))
}

/// Python hashability (for `unique`, dict keys).
pub fn hashable(v: &Value) -> bool {
    fn at(v: &Value, depth: usize) -> bool {
        match v {
            Value::List(_) | Value::Dict(_) | Value::Namespace(_) => false,
            Value::Tuple(t) => depth < MAX_COMPARE_DEPTH && t.iter().all(|x| at(x, depth + 1)),
            _ => true,
        }
    }
    at(v, 0)
}
