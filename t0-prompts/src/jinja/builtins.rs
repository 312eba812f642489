//! Filters, tests, global functions and Python methods, as Jinja2 3.0.3 and Python 3 define them.

use std::cell::RefCell;
use std::rc::Rc;

use super::error::{Error, ErrorKind};
use super::eval::{State, dict_get, getitem, overflow, undefined_error};
use super::value::{Num, Value, hashable, py_cmp, py_eq, py_space};

type Kw = Vec<(String, Value)>;

fn type_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Type, msg)
}

/// Binds positional and keyword arguments to parameter names (Python call semantics).
fn bind(what: &str, params: &[&str], pos: Vec<Value>, kw: Kw) -> Result<Vec<Option<Value>>, Error> {
    if pos.len() > params.len() {
        return Err(type_error(format!(
            "{what}() takes at most {} arguments ({} given)",
            params.len(),
            pos.len()
        )));
    }
    let mut out: Vec<Option<Value>> = vec![None; params.len()];
    for (i, v) in pos.into_iter().enumerate() {
        out[i] = Some(v);
    }
    for (k, v) in kw {
        match params.iter().position(|p| *p == k) {
            Some(i) if out[i].is_none() => out[i] = Some(v),
            Some(_) => {
                return Err(type_error(format!(
                    "{what}() got multiple values for argument '{k}'"
                )));
            }
            None => {
                return Err(type_error(format!(
                    "{what}() got an unexpected keyword argument '{k}'"
                )));
            }
        }
    }
    Ok(out)
}

fn as_int(v: &Value, what: &str) -> Result<i64, Error> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(*b as i64),
        Value::Undefined(_) => Err(undefined_error(v)),
        _ => Err(type_error(format!(
            "'{}' object cannot be interpreted as an integer ({what})",
            v.type_name()
        ))),
    }
}

fn as_str<'a>(v: &'a Value, what: &str) -> Result<&'a str, Error> {
    match v {
        Value::Str(s) => Ok(s),
        Value::Undefined(_) => Err(undefined_error(v)),
        _ => Err(type_error(format!(
            "{what} must be str, not {}",
            v.type_name()
        ))),
    }
}

/// `str.strip(chars)` family.
fn strip(s: &str, chars: Option<&Value>, left: bool, right: bool) -> Result<String, Error> {
    let set: Option<Vec<char>> = match chars {
        None | Some(Value::None) => None,
        Some(v) => Some(as_str(v, "strip arg")?.chars().collect()),
    };
    let keep = |c: char| match &set {
        None => py_space(c),
        Some(set) => set.contains(&c),
    };
    let mut t = s;
    if left {
        t = t.trim_start_matches(keep);
    }
    if right {
        t = t.trim_end_matches(keep);
    }
    Ok(t.to_string())
}

fn py_split(s: &str, sep: Option<&str>, maxsplit: i64) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    match sep {
        None => {
            let mut rest = s.trim_start_matches(py_space);
            let mut n = 0;
            while !rest.is_empty() {
                if maxsplit >= 0 && n >= maxsplit {
                    out.push(Value::str(rest));
                    return Ok(out);
                }
                let end = rest.find(py_space).unwrap_or(rest.len());
                out.push(Value::str(&rest[..end]));
                n += 1;
                rest = rest[end..].trim_start_matches(py_space);
            }
        }
        Some("") => return Err(Error::new(ErrorKind::Value, "empty separator")),
        Some(sep) => {
            if maxsplit < 0 {
                out.extend(s.split(sep).map(Value::str));
            } else {
                out.extend(s.splitn(maxsplit as usize + 1, sep).map(Value::str));
            }
        }
    }
    Ok(out)
}

fn py_rsplit(s: &str, sep: Option<&str>, maxsplit: i64) -> Result<Vec<Value>, Error> {
    if maxsplit < 0 {
        return py_split(s, sep, maxsplit);
    }
    let mut out = Vec::new();
    match sep {
        None => {
            let mut rest = s.trim_end_matches(py_space);
            let mut n = 0;
            while !rest.is_empty() {
                if n >= maxsplit {
                    out.push(Value::str(rest));
                    break;
                }
                let start = rest
                    .rfind(py_space)
                    .map(|i| i + rest[i..].chars().next().map_or(1, char::len_utf8))
                    .unwrap_or(0);
                out.push(Value::str(&rest[start..]));
                n += 1;
                rest = rest[..start].trim_end_matches(py_space);
            }
        }
        Some("") => return Err(Error::new(ErrorKind::Value, "empty separator")),
        Some(sep) => out.extend(s.rsplitn(maxsplit as usize + 1, sep).map(Value::str)),
    }
    out.reverse();
    Ok(out)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        None => String::new(),
        Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
    }
}

fn title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_cased = false;
    for c in s.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = c.is_alphabetic();
    }
    out
}

fn char_index(s: &str, byte: usize) -> i64 {
    s[..byte].chars().count() as i64
}

fn str_method(
    st: &mut State<'_>,
    s: &str,
    name: &str,
    pos: Vec<Value>,
    kw: Kw,
) -> Result<Value, Error> {
    let _ = st;
    let what = format!("str.{name}");
    Ok(match name {
        "split" | "rsplit" => {
            let a = bind(&what, &["sep", "maxsplit"], pos, kw)?;
            let sep = match &a[0] {
                None | Some(Value::None) => None,
                Some(v) => Some(as_str(v, "sep")?.to_string()),
            };
            let max = match &a[1] {
                None => -1,
                Some(v) => as_int(v, "maxsplit")?,
            };
            Value::list(if name == "split" {
                py_split(s, sep.as_deref(), max)?
            } else {
                py_rsplit(s, sep.as_deref(), max)?
            })
        }
        "lower" | "casefold" => Value::str(&s.to_lowercase()),
        "upper" => Value::str(&s.to_uppercase()),
        "swapcase" => Value::str(
            &s.chars()
                .flat_map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<Vec<_>>()
                    } else {
                        c.to_uppercase().collect::<Vec<_>>()
                    }
                })
                .collect::<String>(),
        ),
        "strip" | "lstrip" | "rstrip" => {
            let a = bind(&what, &["chars"], pos, kw)?;
            Value::str(&strip(
                s,
                a[0].as_ref(),
                name != "rstrip",
                name != "lstrip",
            )?)
        }
        "replace" => {
            let a = bind(&what, &["old", "new", "count"], pos, kw)?;
            let old = as_str(
                a[0].as_ref().unwrap_or(&Value::None),
                "replace() argument 1",
            )?
            .to_string();
            let new = as_str(
                a[1].as_ref().unwrap_or(&Value::None),
                "replace() argument 2",
            )?
            .to_string();
            let count = match &a[2] {
                None => -1,
                Some(v) => as_int(v, "count")?,
            };
            Value::str(&py_replace(s, &old, &new, count))
        }
        "join" => {
            let a = bind(&what, &["iterable"], pos, kw)?;
            let items = a[0].clone().unwrap_or(Value::None).iter_items()?;
            let mut parts = Vec::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                match it {
                    Value::Str(x) => parts.push(x.to_string()),
                    other => {
                        return Err(type_error(format!(
                            "sequence item {i}: expected str instance, {} found",
                            other.type_name()
                        )));
                    }
                }
            }
            Value::str(&parts.join(s))
        }
        "startswith" | "endswith" => {
            let a = bind(&what, &["prefix", "start", "end"], pos, kw)?;
            let pats: Vec<String> = match a[0].as_ref() {
                Some(Value::Tuple(t)) => t
                    .iter()
                    .map(|v| as_str(v, "tuple item").map(str::to_string))
                    .collect::<Result<_, _>>()?,
                Some(v) => vec![as_str(v, &format!("{name} first arg"))?.to_string()],
                None => {
                    return Err(type_error(format!(
                        "{name}() takes at least 1 argument (0 given)"
                    )));
                }
            };
            let chars: Vec<char> = s.chars().collect();
            let n = chars.len() as i64;
            let norm = |v: &Option<Value>, d: i64| -> Result<i64, Error> {
                match v {
                    None | Some(Value::None) => Ok(d),
                    Some(v) => {
                        let i = as_int(v, "index")?;
                        Ok(if i < 0 { (i + n).max(0) } else { i.min(n) })
                    }
                }
            };
            let (st_i, en_i) = (norm(&a[1], 0)?, norm(&a[2], n)?);
            let sub: String = if st_i <= en_i {
                chars[st_i as usize..en_i as usize].iter().collect()
            } else {
                return Ok(Value::Bool(false));
            };
            Value::Bool(pats.iter().any(|p| {
                if name == "startswith" {
                    sub.starts_with(p.as_str())
                } else {
                    sub.ends_with(p.as_str())
                }
            }))
        }
        "capitalize" => Value::str(&capitalize(s)),
        "title" => Value::str(&title(s)),
        "find" | "index" | "rfind" | "rindex" | "count" => {
            let a = bind(&what, &["sub", "start", "end"], pos, kw)?;
            if a[1].is_some() || a[2].is_some() {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("{what} with start/end"),
                ));
            }
            let sub = as_str(a[0].as_ref().unwrap_or(&Value::None), "must be str")?.to_string();
            if name == "count" {
                let c = if sub.is_empty() {
                    s.chars().count() + 1
                } else {
                    s.matches(sub.as_str()).count()
                };
                return Ok(Value::Int(c as i64));
            }
            let found = if name.starts_with('r') {
                s.rfind(sub.as_str())
            } else {
                s.find(sub.as_str())
            };
            match found {
                Some(b) => Value::Int(char_index(s, b)),
                None if name.ends_with("index") => {
                    return Err(Error::new(ErrorKind::Value, "substring not found"));
                }
                None => Value::Int(-1),
            }
        }
        "isdigit" | "isdecimal" | "isnumeric" => Value::Bool(
            !s.is_empty()
                && s.chars().all(|c| {
                    if name == "isnumeric" {
                        c.is_numeric()
                    } else {
                        c.is_ascii_digit() || (c.is_numeric() && !c.is_ascii())
                    }
                }),
        ),
        "isalpha" => Value::Bool(!s.is_empty() && s.chars().all(char::is_alphabetic)),
        "isalnum" => Value::Bool(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
        "isspace" => Value::Bool(!s.is_empty() && s.chars().all(py_space)),
        "isascii" => Value::Bool(s.is_ascii()),
        "isupper" => {
            Value::Bool(s.chars().any(|c| c.is_uppercase()) && !s.chars().any(|c| c.is_lowercase()))
        }
        "islower" => {
            Value::Bool(s.chars().any(|c| c.is_lowercase()) && !s.chars().any(|c| c.is_uppercase()))
        }
        "splitlines" => {
            let mut out = Vec::new();
            let mut cur = String::new();
            let mut it = s.chars().peekable();
            while let Some(c) = it.next() {
                if matches!(
                    c,
                    '\n' | '\r'
                        | '\x0b'
                        | '\x0c'
                        | '\x1c'
                        | '\x1d'
                        | '\x1e'
                        | '\u{85}'
                        | '\u{2028}'
                        | '\u{2029}'
                ) {
                    if c == '\r' && it.peek() == Some(&'\n') {
                        it.next();
                    }
                    out.push(Value::str(&cur));
                    cur.clear();
                } else {
                    cur.push(c);
                }
            }
            if !cur.is_empty() {
                out.push(Value::str(&cur));
            }
            Value::list(out)
        }
        "removeprefix" => {
            let a = bind(&what, &["prefix"], pos, kw)?;
            let none = Value::None;
            let p = as_str(a[0].as_ref().unwrap_or(&none), "prefix")?;
            Value::str(s.strip_prefix(p).unwrap_or(s))
        }
        "removesuffix" => {
            let a = bind(&what, &["suffix"], pos, kw)?;
            let none = Value::None;
            let p = as_str(a[0].as_ref().unwrap_or(&none), "suffix")?;
            Value::str(s.strip_suffix(p).unwrap_or(s))
        }
        _ => return Err(Error::new(ErrorKind::Unsupported, format!("method {what}"))),
    })
}

fn py_replace(s: &str, old: &str, new: &str, count: i64) -> String {
    if count < 0 {
        s.replace(old, new)
    } else {
        s.replacen(old, new, count as usize)
    }
}

fn list_method(
    l: &Rc<RefCell<Vec<Value>>>,
    name: &str,
    pos: Vec<Value>,
    kw: Kw,
    max_items: usize,
) -> Result<Value, Error> {
    let what = format!("list.{name}");
    Ok(match name {
        "append" => {
            let a = bind(&what, &["object"], pos, kw)?;
            let v = a[0]
                .clone()
                .ok_or_else(|| type_error("list.append() takes exactly one argument (0 given)"))?;
            let mut l = l.borrow_mut();
            if l.len() >= max_items {
                return Err(Error::new(
                    ErrorKind::Limit,
                    format!("list longer than {max_items} items"),
                ));
            }
            l.push(v);
            Value::None
        }
        "extend" => {
            let a = bind(&what, &["iterable"], pos, kw)?;
            let items = a[0].clone().unwrap_or(Value::None).iter_items()?;
            let mut l = l.borrow_mut();
            if l.len() + items.len() > max_items {
                return Err(Error::new(
                    ErrorKind::Limit,
                    format!("list longer than {max_items} items"),
                ));
            }
            l.extend(items);
            Value::None
        }
        "insert" => {
            let a = bind(&what, &["index", "object"], pos, kw)?;
            let i = as_int(a[0].as_ref().unwrap_or(&Value::None), "index")?;
            let v = a[1]
                .clone()
                .ok_or_else(|| type_error("insert expected 2 arguments"))?;
            let mut l = l.borrow_mut();
            let n = l.len() as i64;
            let i = if i < 0 { (i + n).max(0) } else { i.min(n) };
            l.insert(i as usize, v);
            Value::None
        }
        "pop" => {
            let a = bind(&what, &["index"], pos, kw)?;
            let mut l = l.borrow_mut();
            if l.is_empty() {
                return Err(Error::new(ErrorKind::Lookup, "pop from empty list"));
            }
            let n = l.len() as i64;
            let i = match &a[0] {
                None => n - 1,
                Some(v) => as_int(v, "index")?,
            };
            let j = if i < 0 { i + n } else { i };
            if !(0..n).contains(&j) {
                return Err(Error::new(ErrorKind::Lookup, "pop index out of range"));
            }
            l.remove(j as usize)
        }
        "remove" => {
            let a = bind(&what, &["value"], pos, kw)?;
            let v = a[0].clone().unwrap_or(Value::None);
            let mut l = l.borrow_mut();
            match l.iter().position(|x| py_eq(x, &v)) {
                Some(i) => {
                    l.remove(i);
                    Value::None
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::Value,
                        "list.remove(x): x not in list",
                    ));
                }
            }
        }
        "index" | "count" => seq_method(&l.borrow(), name, pos, kw)?,
        "reverse" => {
            l.borrow_mut().reverse();
            Value::None
        }
        "clear" => {
            l.borrow_mut().clear();
            Value::None
        }
        "copy" => Value::list(l.borrow().clone()),
        "sort" => {
            let a = bind(&what, &["key", "reverse"], pos, kw)?;
            if a[0].as_ref().is_some_and(|k| !matches!(k, Value::None)) {
                return Err(Error::new(ErrorKind::Unsupported, "list.sort(key=...)"));
            }
            let rev = a[1].as_ref().is_some_and(Value::truthy);
            let mut v = l.borrow().clone();
            sort_values(&mut v, rev, |x| x.clone())?;
            *l.borrow_mut() = v;
            Value::None
        }
        _ => return Err(Error::new(ErrorKind::Unsupported, format!("method {what}"))),
    })
}

fn seq_method(l: &[Value], name: &str, pos: Vec<Value>, kw: Kw) -> Result<Value, Error> {
    let a = bind(name, &["value", "start", "stop"], pos, kw)?;
    let v = a[0]
        .clone()
        .ok_or_else(|| type_error(format!("{name}() takes at least 1 argument")))?;
    if name == "count" {
        return Ok(Value::Int(l.iter().filter(|x| py_eq(x, &v)).count() as i64));
    }
    let n = l.len() as i64;
    let norm = |x: &Option<Value>, d: i64| -> Result<i64, Error> {
        match x {
            None => Ok(d),
            Some(x) => {
                let i = as_int(x, "index")?;
                Ok(if i < 0 { (i + n).max(0) } else { i.min(n) })
            }
        }
    };
    let (s, e) = (norm(&a[1], 0)?, norm(&a[2], n)?);
    for i in s..e {
        if py_eq(&l[i as usize], &v) {
            return Ok(Value::Int(i));
        }
    }
    Err(Error::new(
        ErrorKind::Value,
        format!("{} is not in list", v.repr()),
    ))
}

fn dict_method(
    d: &Rc<RefCell<Vec<(Value, Value)>>>,
    name: &str,
    pos: Vec<Value>,
    kw: Kw,
) -> Result<Value, Error> {
    let what = format!("dict.{name}");
    Ok(match name {
        "keys" => Value::list(d.borrow().iter().map(|(k, _)| k.clone()).collect()),
        "values" => Value::list(d.borrow().iter().map(|(_, v)| v.clone()).collect()),
        "items" => Value::list(
            d.borrow()
                .iter()
                .map(|(k, v)| Value::Tuple(Rc::new(vec![k.clone(), v.clone()])))
                .collect(),
        ),
        "get" => {
            let a = bind(&what, &["key", "default"], pos, kw)?;
            let k = a[0].clone().unwrap_or(Value::None);
            if !hashable(&k) {
                return Err(type_error(format!("unhashable type: '{}'", k.type_name())));
            }
            dict_get(&d.borrow(), &k).unwrap_or(a[1].clone().unwrap_or(Value::None))
        }
        "update" => {
            if pos.len() > 1 {
                return Err(type_error("update expected at most 1 argument"));
            }
            let mut new: Vec<(Value, Value)> = Vec::new();
            if let Some(other) = pos.into_iter().next() {
                match &other {
                    Value::Dict(o) => new.extend(o.borrow().iter().cloned()),
                    other => {
                        for it in other.iter_items()? {
                            let kv = it.iter_items()?;
                            if kv.len() != 2 {
                                return Err(Error::new(
                                    ErrorKind::Value,
                                    "dictionary update sequence element has wrong length",
                                ));
                            }
                            new.push((kv[0].clone(), kv[1].clone()));
                        }
                    }
                }
            }
            for (k, v) in kw {
                new.push((Value::str(&k), v));
            }
            let mut dm = d.borrow_mut();
            for (k, v) in new {
                if !hashable(&k) {
                    return Err(type_error(format!("unhashable type: '{}'", k.type_name())));
                }
                if let Some(slot) = dm.iter_mut().find(|(k2, _)| py_eq(k2, &k)) {
                    slot.1 = v;
                } else {
                    dm.push((k, v));
                }
            }
            Value::None
        }
        "pop" => {
            let a = bind(&what, &["key", "default"], pos, kw)?;
            let k = a[0].clone().unwrap_or(Value::None);
            let mut dm = d.borrow_mut();
            match dm.iter().position(|(k2, _)| py_eq(k2, &k)) {
                Some(i) => dm.remove(i).1,
                None => match &a[1] {
                    Some(v) => v.clone(),
                    None => return Err(Error::new(ErrorKind::Lookup, k.repr())),
                },
            }
        }
        "setdefault" => {
            let a = bind(&what, &["key", "default"], pos, kw)?;
            let k = a[0].clone().unwrap_or(Value::None);
            let mut dm = d.borrow_mut();
            match dm.iter().find(|(k2, _)| py_eq(k2, &k)) {
                Some((_, v)) => v.clone(),
                None => {
                    let v = a[1].clone().unwrap_or(Value::None);
                    dm.push((k, v.clone()));
                    v
                }
            }
        }
        "copy" => Value::dict(d.borrow().clone()),
        "clear" => {
            d.borrow_mut().clear();
            Value::None
        }
        _ => return Err(Error::new(ErrorKind::Unsupported, format!("method {what}"))),
    })
}

/// Calls a callable value.
pub fn call(st: &mut State<'_>, f: &Value, pos: Vec<Value>, kw: Kw) -> Result<Value, Error> {
    match f {
        Value::Method(obj, name) => match obj.as_ref() {
            Value::Str(s) => str_method(st, s, name, pos, kw),
            Value::List(l) => list_method(l, name, pos, kw, st.limits.max_items),
            Value::Tuple(t) => seq_method(t, name, pos, kw),
            Value::Dict(d) => dict_method(d, name, pos, kw),
            _ => Err(type_error("not callable")),
        },
        Value::Func(name) => global(st, name, pos, kw),
        Value::Undefined(_) => Err(undefined_error(f)),
        other => Err(type_error(format!(
            "'{}' object is not callable",
            other.type_name()
        ))),
    }
}

fn global(st: &mut State<'_>, name: &str, pos: Vec<Value>, kw: Kw) -> Result<Value, Error> {
    match name {
        "range" => {
            if !kw.is_empty() {
                return Err(type_error("range() takes no keyword arguments"));
            }
            let ints: Vec<i64> = pos
                .iter()
                .map(|v| as_int(v, "range"))
                .collect::<Result<_, _>>()?;
            let (start, stop, step) = match ints.as_slice() {
                [b] => (0, *b, 1),
                [a, b] => (*a, *b, 1),
                [a, b, c] => (*a, *b, *c),
                _ => {
                    return Err(type_error(format!(
                        "range expected 1 to 3 arguments, got {}",
                        ints.len()
                    )));
                }
            };
            if step == 0 {
                return Err(Error::new(
                    ErrorKind::Value,
                    "range() arg 3 must not be zero",
                ));
            }
            let len = if step > 0 {
                if stop > start {
                    ((stop as i128 - start as i128 - 1) / step as i128 + 1) as u128
                } else {
                    0
                }
            } else if start > stop {
                ((start as i128 - stop as i128 - 1) / (-(step as i128)) + 1) as u128
            } else {
                0
            };
            if len > st.limits.max_items as u128 {
                return Err(Error::new(
                    ErrorKind::Limit,
                    format!("range of {len} items"),
                ));
            }
            let mut v = Vec::with_capacity(len as usize);
            let mut i = start;
            for _ in 0..len {
                v.push(Value::Int(i));
                i = i.wrapping_add(step);
            }
            Ok(Value::list(v))
        }
        "zip" => {
            if !kw.is_empty() {
                return Err(type_error("zip() takes no keyword arguments"));
            }
            let seqs: Vec<Vec<Value>> = pos
                .iter()
                .map(Value::iter_items)
                .collect::<Result<_, _>>()?;
            let n = seqs.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::list(
                (0..n)
                    .map(|i| Value::Tuple(Rc::new(seqs.iter().map(|s| s[i].clone()).collect())))
                    .collect(),
            ))
        }
        "namespace" | "dict" => {
            let mut d: Vec<(Value, Value)> = Vec::new();
            for p in pos {
                match &p {
                    Value::Dict(o) => d.extend(o.borrow().iter().cloned()),
                    other => {
                        return Err(type_error(format!(
                            "{name}() positional argument must be a dict, not {}",
                            other.type_name()
                        )));
                    }
                }
            }
            for (k, v) in kw {
                let k = Value::str(&k);
                if let Some(slot) = d.iter_mut().find(|(k2, _)| py_eq(k2, &k)) {
                    slot.1 = v;
                } else {
                    d.push((k, v));
                }
            }
            let d = Rc::new(RefCell::new(d));
            Ok(if name == "dict" {
                Value::Dict(d)
            } else {
                Value::Namespace(d)
            })
        }
        other => Err(Error::new(
            ErrorKind::Unsupported,
            format!("global function {other}()"),
        )),
    }
}

fn ignore_case(v: &Value) -> Value {
    match v {
        Value::Str(s) => Value::str(&s.to_lowercase()),
        other => other.clone(),
    }
}

/// Jinja2's attribute getter: `a.b.0` — each part an item/attribute, digits as ints.
fn attr_path(v: &Value, attr: &Value) -> Result<Value, Error> {
    let parts: Vec<Value> = match attr {
        Value::Str(s) => s
            .split('.')
            .map(|p| match p.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => Value::str(p),
            })
            .collect(),
        other => vec![other.clone()],
    };
    let mut cur = v.clone();
    for p in parts {
        cur = getitem(&cur, &p)?;
    }
    Ok(cur)
}

/// Stable sort with Python comparison; `reverse` keeps equal items in order, as Python does.
fn sort_values(v: &mut [Value], reverse: bool, key: impl Fn(&Value) -> Value) -> Result<(), Error> {
    let err: RefCell<Option<Error>> = RefCell::new(None);
    v.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let r = if reverse {
            py_cmp(&kb, &ka, "<")
        } else {
            py_cmp(&ka, &kb, "<")
        };
        match r {
            Ok(o) => o,
            Err(e) => {
                err.borrow_mut().get_or_insert(e);
                std::cmp::Ordering::Equal
            }
        }
    });
    match err.into_inner() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Python `round(x, n)`.
fn py_round(v: &Value, nd: i64) -> Result<Value, Error> {
    match v.as_num() {
        Some(Num::Int(i)) => {
            if nd >= 0 {
                return Ok(Value::Int(i));
            }
            let p = 10i64.checked_pow((-nd) as u32).ok_or_else(overflow)?;
            let q = i.div_euclid(p);
            let r = i.rem_euclid(p);
            let q = if r * 2 > p || (r * 2 == p && q % 2 != 0) {
                q + 1
            } else {
                q
            };
            Ok(Value::Int(q.checked_mul(p).ok_or_else(overflow)?))
        }
        Some(Num::Float(f)) => {
            if !f.is_finite() {
                return Ok(Value::Float(f));
            }
            if nd >= 0 {
                let nd = nd.min(340) as usize;
                let s = format!("{:.*}", nd, f);
                Ok(Value::Float(s.parse().unwrap_or(f)))
            } else {
                let p = 10f64.powi((-nd).min(400) as i32);
                Ok(Value::Float((f / p).round_ties_even() * p))
            }
        }
        None => Err(type_error(format!(
            "type {} doesn't define __round__ method",
            v.type_name()
        ))),
    }
}

/// Python `int(str)`.
fn parse_py_int(s: &str) -> Option<i64> {
    let t = s.trim_matches(py_space);
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: i64 = clean.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Python `float(str)`.
fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(py_space);
    let low = t.to_ascii_lowercase();
    let body = low.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        let neg = low.starts_with('-');
        let v = if body == "nan" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if neg { -v } else { v });
    }
    if t.is_empty() || t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    let clean: String = t.chars().filter(|c| *c != '_').collect();
    if !clean
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    clean.parse().ok()
}

fn to_float(v: &Value) -> Option<f64> {
    match v {
        Value::Str(s) => parse_py_float(s),
        other => other.as_num().map(Num::f),
    }
}

fn truncate(
    s: &Value,
    length: i64,
    killwords: bool,
    end: &str,
    leeway: i64,
) -> Result<Value, Error> {
    let endlen = end.chars().count() as i64;
    if length < endlen {
        return Err(Error::new(
            ErrorKind::Runtime,
            format!("expected length >= {endlen}, got {length}"),
        ));
    }
    if leeway < 0 {
        return Err(Error::new(
            ErrorKind::Runtime,
            format!("expected leeway >= 0, got {leeway}"),
        ));
    }
    let text = match s {
        Value::Str(t) => t.clone(),
        other => {
            if (other.py_len()? as i64) <= length + leeway {
                return Ok(other.clone());
            }
            return Err(Error::new(
                ErrorKind::Unsupported,
                "truncate of a non-string",
            ));
        }
    };
    let n = text.chars().count() as i64;
    if n <= length + leeway {
        return Ok(s.clone());
    }
    let keep: String = text.chars().take((length - endlen) as usize).collect();
    if killwords {
        return Ok(Value::str(&(keep + end)));
    }
    let base = match keep.rfind(' ') {
        Some(i) => &keep[..i],
        None => &keep[..],
    };
    Ok(Value::str(&(base.to_string() + end)))
}

fn choice(st: &mut State<'_>, v: &Value) -> Result<Value, Error> {
    let n = v.py_len()?;
    if n == 0 {
        return Err(Error::new(
            ErrorKind::Lookup,
            "Cannot choose from an empty sequence",
        ));
    }
    let i = st.rng.randbelow(n as u64) as i64;
    match v {
        Value::Dict(_) => {
            let r = getitem(v, &Value::Int(i))?;
            if r.is_undefined() {
                return Err(Error::new(ErrorKind::Lookup, format!("{i}")));
            }
            Ok(r)
        }
        _ => getitem(v, &Value::Int(i)),
    }
}

/// Applies a filter.
pub fn filter(
    st: &mut State<'_>,
    name: &str,
    v: Value,
    pos: Vec<Value>,
    kw: Kw,
) -> Result<Value, Error> {
    let what = name;
    Ok(match name {
        "string" => Value::str(&v.to_py_str()),
        "truncate" => {
            let a = bind(what, &["length", "killwords", "end", "leeway"], pos, kw)?;
            let length = match &a[0] {
                Some(x) => as_int(x, "length")?,
                None => 255,
            };
            let kill = a[1].as_ref().is_some_and(Value::truthy);
            let end = match &a[2] {
                Some(x) => x.to_py_str(),
                None => "...".into(),
            };
            let leeway = match &a[3] {
                Some(Value::None) | None => 5,
                Some(x) => as_int(x, "leeway")?,
            };
            truncate(&v, length, kill, &end, leeway)?
        }
        "join" => {
            let a = bind(what, &["d", "attribute"], pos, kw)?;
            let d = a[0].as_ref().map(Value::to_py_str).unwrap_or_default();
            let items = v.iter_items()?;
            let mut parts = Vec::with_capacity(items.len());
            for it in items {
                let it = match &a[1] {
                    Some(attr) if !matches!(attr, Value::None) => attr_path(&it, attr)?,
                    _ => it,
                };
                parts.push(it.to_py_str());
            }
            Value::str(&parts.join(&d))
        }
        "replace" => {
            let a = bind(what, &["old", "new", "count"], pos, kw)?;
            let old = a[0].as_ref().map(Value::to_py_str).unwrap_or_default();
            let new = a[1].as_ref().map(Value::to_py_str).unwrap_or_default();
            if a[0].is_none() || a[1].is_none() {
                return Err(type_error("do_replace() missing required arguments"));
            }
            let count = match &a[2] {
                None | Some(Value::None) => -1,
                Some(c) => as_int(c, "count")?,
            };
            Value::str(&py_replace(&v.to_py_str(), &old, &new, count))
        }
        "choice" => {
            bind(what, &[], pos, kw)?;
            choice(st, &v)?
        }
        "random" => {
            bind(what, &[], pos, kw)?;
            if v.py_len()? == 0 {
                Value::undefined("No random item, sequence was empty.")
            } else {
                choice(st, &v)?
            }
        }
        "length" | "count" => {
            bind(what, &[], pos, kw)?;
            Value::Int(v.py_len()? as i64)
        }
        "default" | "d" => {
            let a = bind(what, &["default_value", "boolean"], pos, kw)?;
            let boolean = a[1].as_ref().is_some_and(Value::truthy);
            if v.is_undefined() || (boolean && !v.truthy()) {
                a[0].clone().unwrap_or_else(|| Value::str(""))
            } else {
                v
            }
        }
        "int" => {
            let a = bind(what, &["default", "base"], pos, kw)?;
            let def = a[0].clone().unwrap_or(Value::Int(0));
            let base = match &a[1] {
                Some(b) => as_int(b, "base")?,
                None => 10,
            };
            match &v {
                Value::Str(s) => {
                    if base != 10 {
                        match i64::from_str_radix(s.trim_matches(py_space), base as u32) {
                            Ok(i) => Value::Int(i),
                            Err(_) => def,
                        }
                    } else if let Some(i) = parse_py_int(s) {
                        Value::Int(i)
                    } else {
                        match parse_py_float(s) {
                            Some(f) if f.is_nan() => def,
                            Some(f) if f.is_infinite() => {
                                return Err(Error::new(
                                    ErrorKind::Arithmetic,
                                    "cannot convert float infinity to integer",
                                ));
                            }
                            Some(f) => float_to_int(f)?,
                            None => def,
                        }
                    }
                }
                Value::Int(i) => Value::Int(*i),
                Value::Bool(b) => Value::Int(*b as i64),
                Value::Float(f) => {
                    if f.is_nan() {
                        def
                    } else if f.is_infinite() {
                        return Err(Error::new(
                            ErrorKind::Arithmetic,
                            "cannot convert float infinity to integer",
                        ));
                    } else {
                        float_to_int(*f)?
                    }
                }
                _ => def,
            }
        }
        "float" => {
            let a = bind(what, &["default"], pos, kw)?;
            match to_float(&v) {
                Some(f) => Value::Float(f),
                None => a[0].clone().unwrap_or(Value::Float(0.0)),
            }
        }
        "trim" => {
            let a = bind(what, &["chars"], pos, kw)?;
            Value::str(&strip(&v.to_py_str(), a[0].as_ref(), true, true)?)
        }
        "list" => {
            bind(what, &[], pos, kw)?;
            Value::list(v.iter_items()?)
        }
        "lower" => Value::str(&v.to_py_str().to_lowercase()),
        "upper" => Value::str(&v.to_py_str().to_uppercase()),
        "capitalize" => Value::str(&capitalize(&v.to_py_str())),
        "title" => Value::str(&title(&v.to_py_str())),
        "wordcount" => {
            let s = v.to_py_str();
            let n = s
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .count();
            Value::Int(n as i64)
        }
        "highlight" => match &v {
            Value::Str(s) => Value::str(&format!("<span style='color: #F08080'>{s}</span>")),
            other => {
                return Err(type_error(format!(
                    "can only concatenate str (not \"{}\") to str",
                    other.type_name()
                )));
            }
        },
        "map" => {
            let items = v.iter_items()?;
            let attribute = kw
                .iter()
                .find(|(k, _)| k == "attribute")
                .map(|(_, v)| v.clone());
            if let Some(attr) = attribute {
                let default = kw
                    .iter()
                    .find(|(k, _)| k == "default")
                    .map(|(_, v)| v.clone());
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    let r = attr_path(&it, &attr)?;
                    out.push(match (&r, &default) {
                        (Value::Undefined(_), Some(d)) => d.clone(),
                        _ => r,
                    });
                }
                Value::list(out)
            } else {
                let mut pos = pos.into_iter();
                let Some(fname) = pos.next() else {
                    return Err(Error::new(
                        ErrorKind::Runtime,
                        "map requires a filter argument",
                    ));
                };
                let fname = as_str(&fname, "filter name")?.to_string();
                if !super::syntax::FILTERS.contains(&fname.as_str()) {
                    return Err(Error::new(
                        ErrorKind::Runtime,
                        format!("No filter named '{fname}'."),
                    ));
                }
                let rest: Vec<Value> = pos.collect();
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(filter(st, &fname, it, rest.clone(), kw.clone())?);
                }
                Value::list(out)
            }
        }
        "select" | "reject" | "selectattr" | "rejectattr" => {
            let items = v.iter_items()?;
            let mut pos = pos.into_iter();
            let attr = if name.ends_with("attr") {
                Some(pos.next().ok_or_else(|| {
                    Error::new(ErrorKind::Runtime, "Missing parameter for attribute name")
                })?)
            } else {
                None
            };
            let test_name = match pos.next() {
                Some(t) => Some(as_str(&t, "test name")?.to_string()),
                None => None,
            };
            if let Some(t) = &test_name
                && !super::syntax::TESTS.contains(&t.as_str())
            {
                return Err(Error::new(
                    ErrorKind::Runtime,
                    format!("No test named '{t}'."),
                ));
            }
            let args: Vec<Value> = pos.collect();
            let want = name.starts_with("select");
            let mut out = Vec::new();
            for it in items {
                let x = match &attr {
                    Some(a) => attr_path(&it, a)?,
                    None => it.clone(),
                };
                let ok = match &test_name {
                    Some(t) => test(t, &x, &args)?,
                    None => x.truthy(),
                };
                if ok == want {
                    out.push(it);
                }
            }
            Value::list(out)
        }
        "unique" => {
            let a = bind(what, &["case_sensitive", "attribute"], pos, kw)?;
            let cs = a[0].as_ref().is_some_and(Value::truthy);
            let mut seen: Vec<Value> = Vec::new();
            let mut out = Vec::new();
            for it in v.iter_items()? {
                let mut key = match &a[1] {
                    Some(attr) if !matches!(attr, Value::None) => attr_path(&it, attr)?,
                    _ => it.clone(),
                };
                if !cs {
                    key = ignore_case(&key);
                }
                if !hashable(&key) {
                    return Err(type_error(format!(
                        "unhashable type: '{}'",
                        key.type_name()
                    )));
                }
                if !seen.iter().any(|s| py_eq(s, &key)) {
                    seen.push(key);
                    out.push(it);
                }
            }
            Value::list(out)
        }
        "first" => {
            bind(what, &[], pos, kw)?;
            v.iter_items()?
                .into_iter()
                .next()
                .unwrap_or_else(|| Value::undefined("No first item, sequence was empty."))
        }
        "last" => {
            bind(what, &[], pos, kw)?;
            match &v {
                Value::Str(_)
                | Value::List(_)
                | Value::Tuple(_)
                | Value::Dict(_)
                | Value::Undefined(_) => v
                    .iter_items()?
                    .pop()
                    .unwrap_or_else(|| Value::undefined("No last item, sequence was empty.")),
                other => {
                    return Err(type_error(format!(
                        "'{}' object is not reversible",
                        other.type_name()
                    )));
                }
            }
        }
        "min" | "max" => {
            let a = bind(what, &["case_sensitive", "attribute"], pos, kw)?;
            let cs = a[0].as_ref().is_some_and(Value::truthy);
            let items = v.iter_items()?;
            let key = |x: &Value| -> Result<Value, Error> {
                let k = match &a[1] {
                    Some(attr) if !matches!(attr, Value::None) => attr_path(x, attr)?,
                    _ => x.clone(),
                };
                Ok(if cs { k } else { ignore_case(&k) })
            };
            let mut best: Option<(Value, Value)> = None;
            for it in items {
                let k = key(&it)?;
                best = Some(match best {
                    None => (it, k),
                    Some((b, bk)) => {
                        let o = py_cmp(&k, &bk, "<")?;
                        let better = if name == "min" {
                            o == std::cmp::Ordering::Less
                        } else {
                            o == std::cmp::Ordering::Greater
                        };
                        if better { (it, k) } else { (b, bk) }
                    }
                });
            }
            match best {
                Some((b, _)) => b,
                None => Value::undefined("No aggregated item, sequence was empty."),
            }
        }
        "sum" => {
            let a = bind(what, &["attribute", "start"], pos, kw)?;
            let mut acc = a[1].clone().unwrap_or(Value::Int(0));
            for it in v.iter_items()? {
                let x = match &a[0] {
                    Some(attr) if !matches!(attr, Value::None) => attr_path(&it, attr)?,
                    _ => it,
                };
                acc = super::eval::binop(super::syntax::BinOp::Add, &acc, &x, st.limits.max_items)?;
            }
            acc
        }
        "sort" => {
            // Jinja2's make_multi_attrgetter: the key is a list of one value per
            // comma-separated attribute (the item itself without one), so equal keys (even
            // Undefined ones, which compare equal) never reach `<`.
            let a = bind(what, &["reverse", "case_sensitive", "attribute"], pos, kw)?;
            let rev = a[0].as_ref().is_some_and(Value::truthy);
            let cs = a[1].as_ref().is_some_and(Value::truthy);
            let attrs: Vec<Value> = match &a[2] {
                None | Some(Value::None) => Vec::new(),
                Some(Value::Str(s)) => s.split(',').map(Value::str).collect(),
                Some(other) => vec![other.clone()],
            };
            let mut pairs = Vec::new();
            for it in v.iter_items()? {
                let mut key = Vec::new();
                if attrs.is_empty() {
                    key.push(if cs { it.clone() } else { ignore_case(&it) });
                }
                for at in &attrs {
                    let k = attr_path(&it, at)?;
                    key.push(if cs { k } else { ignore_case(&k) });
                }
                pairs.push(Value::Tuple(Rc::new(vec![Value::list(key), it])));
            }
            sort_values(&mut pairs, rev, |p| match p {
                Value::Tuple(t) => t[0].clone(),
                other => other.clone(),
            })?;
            Value::list(
                pairs
                    .into_iter()
                    .map(|p| match &p {
                        Value::Tuple(t) => t[1].clone(),
                        other => other.clone(),
                    })
                    .collect(),
            )
        }
        "reverse" => match &v {
            Value::Str(s) => Value::str(&s.chars().rev().collect::<String>()),
            _ => {
                let mut items = v.iter_items()?;
                items.reverse();
                Value::list(items)
            }
        },
        "most_frequent" => {
            let items = v.iter_items()?;
            if items.is_empty() {
                return Ok(Value::None);
            }
            let mut counts: Vec<(Value, usize)> = Vec::new();
            for it in items {
                if !hashable(&it) {
                    return Err(type_error(format!("unhashable type: '{}'", it.type_name())));
                }
                match counts.iter_mut().find(|(k, _)| py_eq(k, &it)) {
                    Some(slot) => slot.1 += 1,
                    None => counts.push((it, 1)),
                }
            }
            let max = counts.iter().map(|(_, c)| *c).max().unwrap_or(0);
            Value::list(
                counts
                    .into_iter()
                    .filter(|(_, c)| *c == max)
                    .map(|(k, _)| k)
                    .collect(),
            )
        }
        "abs" => match v.as_num() {
            Some(Num::Int(i)) => Value::Int(i.checked_abs().ok_or_else(overflow)?),
            Some(Num::Float(f)) => Value::Float(f.abs()),
            None if v.is_undefined() => return Err(undefined_error(&v)),
            None => {
                return Err(type_error(format!(
                    "bad operand type for abs(): '{}'",
                    v.type_name()
                )));
            }
        },
        "round" => {
            let a = bind(what, &["precision", "method"], pos, kw)?;
            let prec = match &a[0] {
                Some(p) => as_int(p, "precision")?,
                None => 0,
            };
            let method = a[1]
                .as_ref()
                .map(Value::to_py_str)
                .unwrap_or_else(|| "common".into());
            match method.as_str() {
                "common" => {
                    if v.is_undefined() {
                        return Err(undefined_error(&v));
                    }
                    py_round(&v, prec)?
                }
                "ceil" | "floor" => {
                    let f = v
                        .as_num()
                        .ok_or_else(|| type_error("must be real number"))?
                        .f();
                    let p = 10f64.powi(prec.clamp(-400, 400) as i32);
                    let x = f * p;
                    let r = if method == "ceil" {
                        x.ceil()
                    } else {
                        x.floor()
                    };
                    Value::Float(r / p)
                }
                _ => {
                    return Err(Error::new(
                        ErrorKind::Runtime,
                        "method must be common, ceil or floor",
                    ));
                }
            }
        }
        "format" => {
            if !pos.is_empty() && !kw.is_empty() {
                return Err(Error::new(
                    ErrorKind::Runtime,
                    "can't handle positional and keyword arguments at the same time",
                ));
            }
            if !kw.is_empty() {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "format with keyword arguments",
                ));
            }
            printf(&v.to_py_str(), &Value::Tuple(Rc::new(pos)))?
        }
        other => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("filter {other}"),
            ));
        }
    })
}

fn float_to_int(f: f64) -> Result<Value, Error> {
    let t = f.trunc();
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&t) {
        Ok(Value::Int(t as i64))
    } else {
        Err(overflow())
    }
}

/// Applies a test.
pub fn test(name: &str, v: &Value, args: &[Value]) -> Result<bool, Error> {
    let arg = |i: usize| -> Result<&Value, Error> {
        args.get(i)
            .ok_or_else(|| type_error(format!("test {name} expects an argument")))
    };
    use super::syntax::CmpOp;
    Ok(match name {
        "defined" => !v.is_undefined(),
        "undefined" => v.is_undefined(),
        "none" => matches!(v, Value::None),
        "boolean" => matches!(v, Value::Bool(_)),
        "false" => matches!(v, Value::Bool(false)),
        "true" => matches!(v, Value::Bool(true)),
        "integer" => matches!(v, Value::Int(_)),
        "float" => matches!(v, Value::Float(_)),
        "number" => matches!(v, Value::Int(_) | Value::Float(_) | Value::Bool(_)),
        "string" => matches!(v, Value::Str(_)),
        "mapping" => matches!(v, Value::Dict(_)),
        "sequence" => matches!(
            v,
            Value::Str(_) | Value::List(_) | Value::Tuple(_) | Value::Dict(_) | Value::Undefined(_)
        ),
        "iterable" => matches!(
            v,
            Value::Str(_) | Value::List(_) | Value::Tuple(_) | Value::Dict(_) | Value::Undefined(_)
        ),
        "callable" => matches!(v, Value::Method(..) | Value::Func(_)),
        "escaped" => false,
        "lower" => {
            let s = v.to_py_str();
            s.chars().any(|c| c.is_lowercase()) && !s.chars().any(|c| c.is_uppercase())
        }
        "upper" => {
            let s = v.to_py_str();
            s.chars().any(|c| c.is_uppercase()) && !s.chars().any(|c| c.is_lowercase())
        }
        "odd" | "even" => {
            let i = as_int(v, "odd/even")?;
            (i.rem_euclid(2) == 1) == (name == "odd")
        }
        "divisibleby" => {
            let a = as_int(v, "divisibleby")?;
            let b = as_int(arg(0)?, "divisibleby")?;
            if b == 0 {
                return Err(Error::new(
                    ErrorKind::Arithmetic,
                    "integer division or modulo by zero",
                ));
            }
            a.rem_euclid(b) == 0
        }
        "eq" | "equalto" | "==" => super::eval::compare(CmpOp::Eq, v, arg(0)?)?,
        "ne" | "!=" => super::eval::compare(CmpOp::Ne, v, arg(0)?)?,
        "lt" | "lessthan" | "<" => super::eval::compare(CmpOp::Lt, v, arg(0)?)?,
        "le" | "<=" => super::eval::compare(CmpOp::Le, v, arg(0)?)?,
        "gt" | "greaterthan" | ">" => super::eval::compare(CmpOp::Gt, v, arg(0)?)?,
        "ge" | ">=" => super::eval::compare(CmpOp::Ge, v, arg(0)?)?,
        "in" => super::eval::contains(arg(0)?, v)?,
        "sameas" => {
            // Python's `is`. Object identity of immutable values is not tracked: equal
            // scalars of the same type count as the same object (true in CPython for the
            // same variable, small ints, interned strings, None and bools).
            let o = arg(0)?;
            match (v, o) {
                (Value::List(a), Value::List(b)) => Rc::ptr_eq(a, b),
                (Value::Dict(a), Value::Dict(b)) => Rc::ptr_eq(a, b),
                (Value::Namespace(a), Value::Namespace(b)) => Rc::ptr_eq(a, b),
                (Value::Tuple(a), Value::Tuple(b)) => Rc::ptr_eq(a, b),
                (Value::None, Value::None) => true,
                (Value::Bool(a), Value::Bool(b)) => a == b,
                (Value::Int(a), Value::Int(b)) => a == b,
                (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
                (Value::Str(a), Value::Str(b)) => a == b,
                _ => false,
            }
        }
        other => {
            return Err(Error::new(
                ErrorKind::Runtime,
                format!("No test named '{other}'."),
            ));
        }
    })
}

/// Python printf-style formatting: `fmt % args`.
pub fn printf(fmt: &str, args: &Value) -> Result<Value, Error> {
    let list: Vec<Value> = match args {
        Value::Tuple(t) => t.as_ref().clone(),
        other => vec![other.clone()],
    };
    let mut it = list.into_iter();
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while i < chars.len() && "-+ #0".contains(chars[i]) {
            flags.push(chars[i]);
            i += 1;
        }
        let mut width = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            width.push(chars[i]);
            i += 1;
        }
        let mut prec: Option<usize> = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                p.push(chars[i]);
                i += 1;
            }
            prec = Some(p.parse().unwrap_or(0).min(500));
        }
        let Some(&conv) = chars.get(i) else {
            return Err(Error::new(ErrorKind::Value, "incomplete format"));
        };
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = it
            .next()
            .ok_or_else(|| type_error("not enough arguments for format string"))?;
        let mut body = match conv {
            's' => {
                let s = arg.to_py_str();
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'r' | 'a' => arg.repr(),
            'd' | 'i' | 'u' => {
                let n = match (&arg, arg.as_num()) {
                    (_, Some(Num::Int(i))) => i,
                    (_, Some(Num::Float(f))) => match float_to_int(f)? {
                        Value::Int(i) => i,
                        _ => 0,
                    },
                    _ => {
                        return Err(type_error(format!(
                            "%{conv} format: a real number is required, not {}",
                            arg.type_name()
                        )));
                    }
                };
                let mut s = n.abs().to_string();
                if let Some(p) = prec {
                    while s.len() < p {
                        s.insert(0, '0');
                    }
                }
                sign(n < 0, &flags) + &s
            }
            'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
                let f = match arg.as_num() {
                    Some(n) => n.f(),
                    None => {
                        return Err(type_error(format!(
                            "must be real number, not {}",
                            arg.type_name()
                        )));
                    }
                };
                let p = prec.unwrap_or(6);
                let s = match conv {
                    'f' | 'F' => fmt_fixed(f.abs(), p),
                    'e' | 'E' => fmt_exp(f.abs(), p),
                    _ => fmt_general(f.abs(), p, flags.contains('#')),
                };
                let s = if conv.is_ascii_uppercase() {
                    s.to_uppercase()
                } else {
                    s
                };
                sign(f.is_sign_negative() && !f.is_nan(), &flags) + &s
            }
            'x' | 'X' | 'o' => {
                let n = match arg {
                    Value::Int(i) => i,
                    Value::Bool(b) => b as i64,
                    _ => {
                        return Err(type_error(format!(
                            "%{conv} format: an integer is required, not {}",
                            arg.type_name()
                        )));
                    }
                };
                let s = match conv {
                    'x' => format!("{:x}", n.unsigned_abs()),
                    'X' => format!("{:X}", n.unsigned_abs()),
                    _ => format!("{:o}", n.unsigned_abs()),
                };
                sign(n < 0, &flags) + &s
            }
            'c' => match &arg {
                Value::Int(i) => char::from_u32(*i as u32)
                    .map(String::from)
                    .unwrap_or_default(),
                Value::Str(s) if s.chars().count() == 1 => s.to_string(),
                _ => return Err(type_error("%c requires int or char")),
            },
            other => {
                return Err(Error::new(
                    ErrorKind::Value,
                    format!("unsupported format character '{other}'"),
                ));
            }
        };
        let w: usize = width.parse().unwrap_or(0).min(10_000);
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                body.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && !matches!(conv, 's' | 'r' | 'a' | 'c') {
                let (s, rest) = match body.chars().next() {
                    Some(c @ ('-' | '+' | ' ')) => (c.to_string(), body[1..].to_string()),
                    _ => (String::new(), body.clone()),
                };
                body = s + &"0".repeat(pad) + &rest;
            } else {
                body = " ".repeat(pad) + &body;
            }
        }
        out.push_str(&body);
    }
    if it.next().is_some() {
        return Err(type_error(
            "not all arguments converted during string formatting",
        ));
    }
    Ok(Value::str(&out))
}

fn sign(neg: bool, flags: &str) -> String {
    if neg {
        "-".into()
    } else if flags.contains('+') {
        "+".into()
    } else if flags.contains(' ') {
        " ".into()
    } else {
        String::new()
    }
}

fn fmt_fixed(f: f64, p: usize) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return "inf".into();
    }
    format!("{:.*}", p, f)
}

fn fmt_exp(f: f64, p: usize) -> String {
    if !f.is_finite() {
        return fmt_fixed(f, p);
    }
    let s = format!("{:.*e}", p, f);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

fn fmt_general(f: f64, p: usize, alt: bool) -> String {
    if !f.is_finite() {
        return fmt_fixed(f, p);
    }
    let p = p.max(1);
    if f == 0.0 {
        return if alt {
            format!("{:.*}", p - 1, 0.0)
        } else {
            "0".into()
        };
    }
    let s = format!("{:.*e}", p - 1, f);
    let exp: i32 = s
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let out = if exp < -4 || exp >= p as i32 {
        fmt_exp(f, p - 1)
    } else {
        format!("{:.*}", (p as i32 - 1 - exp).max(0) as usize, f)
    };
    if alt {
        return out;
    }
    // Strip trailing zeros of the mantissa.
    let (m, e) = match out.split_once('e') {
        Some((m, e)) => (m.to_string(), format!("e{e}")),
        None => (out.clone(), String::new()),
    };
    let m = if m.contains('.') {
        m.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        m
    };
    m + &e
}
