//! The YAML subset of promptsource template files, read with `libyaml-safer` (a safe Rust
//! port of libyaml, the C library behind PyYAML's fast loader) at the event level so that
//! tags can be checked: `!Template` and `!TemplateMetadata` are accepted on mappings, the
//! standard `!!` tags anywhere, any other tag is an error (as PyYAML's `FullLoader` raises
//! "could not determine a constructor for the tag"). Plain scalars resolve as YAML 1.1 /
//! PyYAML does (null, bool incl. yes/no/on/off, int incl. octal, float).
//!
//! (`yaml-rust2` and `saphyr` were tried first: both reject a valid quoted scalar containing
//! an unindented empty line, which promptsource's `hate_speech18` file has.)

use libyaml_safer::{EventData, Mark, Parser, ScalarStyle};
/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// null / ~ / empty.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, with its local tag name (`Template`, `TemplateMetadata`) if tagged.
    Map(Vec<(Node, Node)>, Option<String>),
}

/// Most nesting accepted.
const MAX_DEPTH: usize = 64;

enum Frame {
    Seq(Vec<Node>, Option<String>),
    Map(
        Vec<(Node, Node)>,
        Option<String>,
        Option<Node>,
        Option<String>,
    ),
}

/// Most nodes a document may expand to (aliases included), against "billion laughs".
const MAX_NODES: usize = 1 << 20;

struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    error: Option<String>,
    docs: usize,
    anchors: Vec<(String, Node)>,
    nodes: usize,
}

fn size(n: &Node) -> usize {
    match n {
        Node::Seq(v) => 1 + v.iter().map(size).sum::<usize>(),
        Node::Map(v, _) => 1 + v.iter().map(|(k, x)| size(k) + size(x)).sum::<usize>(),
        _ => 1,
    }
}

fn check_tag(
    tag: &Option<String>,
    mark: &Mark,
    allow_custom: bool,
) -> Result<Option<String>, String> {
    let Some(t) = tag else { return Ok(None) };
    if let Some(suffix) = t.strip_prefix("tag:yaml.org,2002:") {
        return match suffix {
            "str" | "int" | "bool" | "null" | "float" | "seq" | "map" => Ok(None),
            other => Err(format!(
                "unsupported tag '!!{other}' at line {}",
                mark.line + 1
            )),
        };
    }
    if allow_custom && (t == "!Template" || t == "!TemplateMetadata") {
        return Ok(Some(t[1..].to_string()));
    }
    Err(format!(
        "could not determine a constructor for the tag '{t}' at line {}",
        mark.line + 1
    ))
}

/// PyYAML's implicit resolvers (YAML 1.1) for a plain scalar.
fn resolve_plain(s: &str) -> Node {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Node::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Node::Bool(false);
        }
        _ => {}
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let neg = s.starts_with('-');
    let digits_ok =
        |t: &str, f: fn(char) -> bool| !t.is_empty() && t.chars().all(|c| f(c) || c == '_');
    if let Some(h) = body.strip_prefix("0x") {
        if digits_ok(h, |c| c.is_ascii_hexdigit()) {
            if let Ok(v) = i64::from_str_radix(&h.replace('_', ""), 16) {
                return Node::Int(if neg { -v } else { v });
            }
        }
    } else if let Some(b) = body.strip_prefix("0b") {
        if digits_ok(b, |c| c == '0' || c == '1') {
            if let Ok(v) = i64::from_str_radix(&b.replace('_', ""), 2) {
                return Node::Int(if neg { -v } else { v });
            }
        }
    } else if body == "0" {
        return Node::Int(0);
    } else if body.starts_with('0') && digits_ok(&body[1..], |c| ('0'..='7').contains(&c)) {
        if let Ok(v) = i64::from_str_radix(&body[1..].replace('_', ""), 8) {
            return Node::Int(if neg { -v } else { v });
        }
    } else if body.starts_with(|c: char| ('1'..='9').contains(&c))
        && digits_ok(body, |c| c.is_ascii_digit())
    {
        if let Ok(v) = body.replace('_', "").parse::<i64>() {
            return Node::Int(if neg { -v } else { v });
        }
    }
    match body {
        ".inf" | ".Inf" | ".INF" => {
            return Node::Float(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        ".nan" | ".NaN" | ".NAN" if s == body => return Node::Float(f64::NAN),
        _ => {}
    }
    // [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?
    if let Some((int, rest)) = body.split_once('.') {
        let int_ok = int.is_empty()
            || (int.starts_with(|c: char| c.is_ascii_digit())
                && digits_ok(int, |c| c.is_ascii_digit()));
        let (frac, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let frac_ok = frac.chars().all(|c| c.is_ascii_digit() || c == '_');
        let exp_ok = exp.is_none_or(|e| {
            e.len() > 1 && e.starts_with(['-', '+']) && e[1..].chars().all(|c| c.is_ascii_digit())
        });
        if int_ok && frac_ok && exp_ok && !(int.is_empty() && frac.is_empty()) {
            if let Ok(v) = s.replace('_', "").parse::<f64>() {
                return Node::Float(v);
            }
        }
    }
    Node::Str(s.to_string())
}

impl Builder {
    fn push(&mut self, n: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(n),
            Some(Frame::Seq(v, _)) => v.push(n),
            Some(Frame::Map(v, _, key, _)) => match key.take() {
                None => *key = Some(n),
                Some(k) => v.push((k, n)),
            },
        }
    }
    fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(msg);
        }
    }
}

impl Builder {
    fn on_event(&mut self, ev: EventData, mark: &Mark) {
        if self.error.is_some() {
            return;
        }
        match ev {
            EventData::DocumentStart { .. } => {
                self.docs += 1;
                if self.docs > 1 {
                    self.fail("expected a single document in the stream".into());
                }
            }
            EventData::Alias { anchor } => {
                match self.anchors.iter().rev().find(|(a, _)| *a == anchor) {
                    Some((_, n)) => {
                        let n = n.clone();
                        self.nodes += size(&n);
                        if self.nodes > MAX_NODES {
                            return self
                                .fail(format!("document expands to more than {MAX_NODES} nodes"));
                        }
                        self.push(n)
                    }
                    None => self.fail(format!(
                        "found undefined alias '{anchor}' (line {})",
                        mark.line + 1
                    )),
                }
            }
            EventData::Scalar {
                value,
                style,
                tag,
                anchor,
                ..
            } => match check_tag(&tag, mark, false) {
                Err(e) => self.fail(e),
                Ok(_) => {
                    let n = match (&tag, style) {
                        (Some(t), _) => match t.as_str() {
                            "tag:yaml.org,2002:str" => Node::Str(value),
                            "tag:yaml.org,2002:null" => Node::Null,
                            _ => resolve_plain(&value),
                        },
                        (None, ScalarStyle::Plain) => resolve_plain(&value),
                        (None, _) => Node::Str(value),
                    };
                    self.nodes += 1;
                    if let Some(a) = anchor {
                        self.anchors.push((a, n.clone()));
                    }
                    self.push(n);
                }
            },
            EventData::SequenceStart { tag, anchor, .. } => {
                if let Err(e) = check_tag(&tag, mark, false) {
                    return self.fail(e);
                }
                if self.stack.len() >= MAX_DEPTH {
                    return self.fail("YAML nested too deeply".into());
                }
                self.stack.push(Frame::Seq(Vec::new(), anchor));
            }
            EventData::MappingStart { tag, anchor, .. } => match check_tag(&tag, mark, true) {
                Err(e) => self.fail(e),
                Ok(t) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return self.fail("YAML nested too deeply".into());
                    }
                    self.stack.push(Frame::Map(Vec::new(), t, None, anchor));
                }
            },
            EventData::SequenceEnd => {
                if let Some(Frame::Seq(v, anchor)) = self.stack.pop() {
                    self.nodes += 1;
                    let n = Node::Seq(v);
                    if let Some(a) = anchor {
                        self.anchors.push((a, n.clone()));
                    }
                    self.push(n);
                }
            }
            EventData::MappingEnd => {
                if let Some(Frame::Map(v, t, _, anchor)) = self.stack.pop() {
                    self.nodes += 1;
                    let n = Node::Map(v, t);
                    if let Some(a) = anchor {
                        self.anchors.push((a, n.clone()));
                    }
                    self.push(n);
                }
            }
            _ => {}
        }
    }
}

/// Parses one YAML document; `Err` carries a message with the line.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut b = Builder {
        stack: Vec::new(),
        root: None,
        error: None,
        docs: 0,
        anchors: Vec::new(),
        nodes: 0,
    };
    let mut bytes = text.as_bytes();
    let mut p = Parser::new();
    p.set_input_string(&mut bytes);
    loop {
        let ev = p.parse().map_err(|e| e.to_string())?;
        if matches!(ev.data, EventData::StreamEnd) {
            break;
        }
        b.on_event(ev.data, &ev.start_mark);
        if let Some(e) = b.error.take() {
            return Err(e);
        }
    }
    Ok(b.root.unwrap_or(Node::Null))
}

impl Node {
    /// Value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(v, _) => v
                .iter()
                .find(|(k, _)| matches!(k, Node::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    /// Python `str()` of a scalar (for names that PyYAML may have turned into numbers).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Str(s) => Some(s.clone()),
            Node::Int(i) => Some(i.to_string()),
            Node::Float(f) => Some(crate::jinja::float_repr(*f)),
            Node::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_scalars() {
        let n =
            parse("a: !Template\n  x: yes\n  y: 012\n  z: '1'\n  w: 1.5\n  v: ~\n  u: [1, b]\n")
                .unwrap();
        let t = n.get("a").unwrap();
        assert!(matches!(t, Node::Map(_, Some(tag)) if tag == "Template"));
        assert_eq!(t.get("x"), Some(&Node::Bool(true)));
        assert_eq!(t.get("y"), Some(&Node::Int(10)));
        assert_eq!(t.get("z"), Some(&Node::Str("1".into())));
        assert_eq!(t.get("w"), Some(&Node::Float(1.5)));
        assert_eq!(t.get("v"), Some(&Node::Null));
        assert_eq!(
            t.get("u"),
            Some(&Node::Seq(vec![Node::Int(1), Node::Str("b".into())]))
        );
        assert!(
            parse("a: !Unknown {}\n")
                .unwrap_err()
                .contains("could not determine a constructor")
        );
        assert!(parse("a: !Template x\n").is_err());
        assert!(parse("a: [1, 2\n").is_err());
        let n = parse("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(n.get("a"), n.get("b"));
        assert!(parse("a: *nope\n").is_err());
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(parse(bomb).unwrap_err().contains("more than"));
    }
}
