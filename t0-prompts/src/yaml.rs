//! The YAML subset of promptsource template files, read with `serde_norway` (a maintained
//! fork of `serde_yaml` 0.9 on `unsafe-libyaml`, the C libyaml that PyYAML's fast loader
//! wraps, translated to Rust). Its `Value` keeps tags, so they are checked here:
//! `!Template` and `!TemplateMetadata` are accepted on mappings, the standard `!!` tags
//! anywhere, and any other tag is an error (as PyYAML's `FullLoader` raises "could not
//! determine a constructor for the tag").
//!
//! Scalars resolve as YAML 1.2's core schema (serde_yaml's), except that PyYAML's YAML 1.1
//! booleans `yes/no/on/off` are accepted where a boolean is expected. (`yaml-rust2`/`saphyr`
//! reject a valid quoted scalar with an unindented empty line, which promptsource's
//! `hate_speech18` file has; `libyaml-safer` 0.3 panics on a tag followed by `,` in flow
//! context, found by the fuzz target.)

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

fn convert(v: serde_norway::Value, depth: usize) -> Result<Node, String> {
    use serde_norway::Value as V;
    if depth > MAX_DEPTH {
        return Err("YAML nested too deeply".into());
    }
    Ok(match v {
        V::Null => Node::Null,
        V::Bool(b) => Node::Bool(b),
        V::Number(n) => match n.as_i64() {
            Some(i) => Node::Int(i),
            None => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        V::String(s) => Node::Str(s),
        V::Sequence(items) => Node::Seq(
            items
                .into_iter()
                .map(|x| convert(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        V::Mapping(m) => Node::Map(
            m.into_iter()
                .map(|(k, x)| Ok((convert(k, depth + 1)?, convert(x, depth + 1)?)))
                .collect::<Result<_, String>>()?,
            None,
        ),
        V::Tagged(t) => {
            let tag = t.tag.to_string();
            let inner = convert(t.value, depth + 1)?;
            match (tag.as_str(), inner) {
                ("!Template" | "!TemplateMetadata", Node::Map(m, None)) => {
                    Node::Map(m, Some(tag[1..].to_string()))
                }
                ("!!str" | "!!int" | "!!bool" | "!!null" | "!!float" | "!!seq" | "!!map", n) => n,
                _ => {
                    return Err(format!(
                        "could not determine a constructor for the tag '{tag}'"
                    ));
                }
            }
        }
    })
}

/// Parses one YAML document; `Err` carries a message with the line.
pub fn parse(text: &str) -> Result<Node, String> {
    let v: serde_norway::Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    convert(v, 0)
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
            parse("a: !Template\n  x: true\n  y: 12\n  z: '1'\n  w: 1.5\n  v: ~\n  u: [1, b]\n")
                .unwrap();
        let t = n.get("a").unwrap();
        assert!(matches!(t, Node::Map(_, Some(tag)) if tag == "Template"));
        assert_eq!(t.get("x"), Some(&Node::Bool(true)));
        assert_eq!(t.get("y"), Some(&Node::Int(12)));
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
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
        assert!(parse(bomb).is_err());
        // libyaml-safer 0.3 panicked here (a tag followed by ',' in flow context).
        let _ = parse("{ !=, a }");
        assert_eq!(
            parse("a: !!str 12\n").unwrap().get("a"),
            Some(&Node::Str("12".into()))
        );
    }
}
