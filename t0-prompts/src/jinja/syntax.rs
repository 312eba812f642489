//! Lexer and parser: template text → AST, following Jinja2 3.0's lexer and parser
//! (default delimiters, `trim_blocks`/`lstrip_blocks` off, `keep_trailing_newline` off,
//! newlines normalised to `\n`, `{%-`/`-%}` whitespace control).

use super::error::{Error, ErrorKind};
use super::value::{Value, py_space};

/// A statement node.
#[derive(Debug, Clone)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{ expr }}`.
    Output(Expr),
    /// `{% if %}..{% elif %}..{% else %}..{% endif %}`.
    If {
        /// (condition, body) pairs.
        branches: Vec<(Expr, Vec<Node>)>,
        /// The else body.
        else_: Vec<Node>,
    },
    /// `{% for target in iter [if filter] %}..{% else %}..{% endfor %}`.
    For {
        /// Loop target.
        target: Target,
        /// Iterated expression.
        iter: Expr,
        /// Inline filter.
        filter: Option<Expr>,
        /// Body.
        body: Vec<Node>,
        /// Rendered when nothing was iterated.
        else_: Vec<Node>,
        /// Line of the tag.
        line: usize,
    },
    /// `{% set target = value %}`.
    Set {
        /// Assigned target.
        target: Target,
        /// Value.
        value: Expr,
        /// Line of the tag.
        line: usize,
    },
    /// `{% set name %}..{% endset %}`.
    SetBlock {
        /// Assigned name.
        name: String,
        /// Body rendered into the value.
        body: Vec<Node>,
    },
}

/// An assignment target.
#[derive(Debug, Clone)]
pub enum Target {
    /// A variable.
    Name(String),
    /// Unpacking.
    Tuple(Vec<Target>),
    /// `ns.attr` on a namespace.
    Attr(String, String),
}

/// An expression with its line.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// 1-based line.
    pub line: usize,
}

/// Binary arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
    /// `**`
    Pow,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `not in`
    NotIn,
}

/// Call arguments: positional and keyword.
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// Positional.
    pub pos: Vec<Expr>,
    /// Keyword.
    pub kw: Vec<(String, Expr)>,
}

/// Expression kinds.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// A literal.
    Const(Value),
    /// A variable.
    Name(String),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `(a, b)`.
    Tuple(Vec<Expr>),
    /// `{k: v}`.
    Dict(Vec<(Expr, Expr)>),
    /// `x.name`.
    Getattr(Box<Expr>, String),
    /// `x[i]`.
    Getitem(Box<Expr>, Box<Expr>),
    /// `a:b:c` inside `[]`.
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    /// `f(args)`.
    Call(Box<Expr>, Args),
    /// `x | name(args)`.
    Filter(Box<Expr>, String, Args),
    /// `x is name(args)`.
    Test(Box<Expr>, String, Args),
    /// `-x`.
    Neg(Box<Expr>),
    /// `+x`.
    Pos(Box<Expr>),
    /// `not x`.
    Not(Box<Expr>),
    /// Arithmetic.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a == b < c`.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `a ~ b ~ c`.
    Concat(Vec<Expr>),
    /// `a if cond else b`: (cond, a, b).
    Cond(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(&'static str),
}

#[derive(Debug)]
enum Item {
    Text(String),
    Var(Vec<(Tok, usize)>, usize),
    Block(Vec<(Tok, usize)>, usize),
}

const OPS: [&str; 24] = [
    "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
    "<", ">", "=", ".", ":", "|",
];

/// Most nested brackets / statements accepted (keeps recursion bounded).
const MAX_DEPTH: usize = 200;

fn syntax(msg: impl Into<String>, line: usize) -> Error {
    Error::new(ErrorKind::Syntax, msg).at(line)
}

/// Jinja2's newline handling: split on \r\n, \r, \n; drop one trailing empty line; join with \n.
fn normalize(src: &str) -> String {
    let s = src.replace("\r\n", "\n").replace('\r', "\n");
    match s.strip_suffix('\n') {
        Some(t) => t.to_string(),
        None => s,
    }
}

fn rstrip_py(s: &mut String) {
    let t = s.trim_end_matches(py_space).len();
    s.truncate(t);
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    line: usize,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }
    fn advance(&mut self, n: usize) {
        let end = (self.pos + n).min(self.s.len());
        self.line += self.s[self.pos..end].matches('\n').count();
        self.pos = end;
    }
    fn skip_ws(&mut self) {
        let r = self.rest();
        let n = r.len() - r.trim_start_matches(py_space).len();
        self.advance(n);
    }
}

fn lex(src: &str) -> Result<Vec<Item>, Error> {
    let src = normalize(src);
    let mut lx = Lexer {
        s: &src,
        pos: 0,
        line: 1,
    };
    let mut items = Vec::new();
    let mut lstrip_next = false;
    loop {
        // Data up to the next tag start.
        let rest = lx.rest();
        let next = ["{{", "{%", "{#"].iter().filter_map(|d| rest.find(d)).min();
        let data_len = next.unwrap_or(rest.len());
        let mut text = rest[..data_len].to_string();
        lx.advance(data_len);
        if lstrip_next {
            let t = text.trim_start_matches(py_space).to_string();
            text = t;
            lstrip_next = false;
        }
        if next.is_none() {
            if !text.is_empty() {
                items.push(Item::Text(text));
            }
            break;
        }
        let kind = &lx.rest()[..2];
        let kind = kind.to_string();
        lx.advance(2);
        let strip_before = lx.rest().starts_with('-');
        if strip_before || lx.rest().starts_with('+') {
            lx.advance(1);
        }
        if strip_before {
            rstrip_py(&mut text);
        }
        if !text.is_empty() {
            items.push(Item::Text(text));
        }
        let line = lx.line;
        if kind == "{#" {
            let r = lx.rest();
            let Some(end) = r.find("#}") else {
                return Err(syntax("Missing end of comment tag", line));
            };
            let strip_after = end > 0 && r.as_bytes()[end - 1] == b'-';
            lx.advance(end + 2);
            lstrip_next = strip_after;
            continue;
        }
        let end_delim = if kind == "{{" { "}}" } else { "%}" };
        let mut toks = Vec::new();
        let mut stack: Vec<char> = Vec::new();
        loop {
            lx.skip_ws();
            let r = lx.rest();
            if r.is_empty() {
                return Err(syntax(
                    format!("unexpected end of template, expected '{end_delim}'"),
                    lx.line,
                ));
            }
            if stack.is_empty() {
                if r.starts_with('-') && r[1..].starts_with(end_delim) {
                    lx.advance(3);
                    lstrip_next = true;
                    break;
                }
                if r.starts_with(end_delim) {
                    lx.advance(2);
                    break;
                }
            }
            let tline = lx.line;
            let c = r.chars().next().unwrap_or(' ');
            if c.is_ascii_digit() {
                let (tok, n) = lex_number(r, tline)?;
                toks.push((tok, tline));
                lx.advance(n);
            } else if c.is_alphabetic() || c == '_' {
                let n = r
                    .char_indices()
                    .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                    .map(|(i, _)| i)
                    .unwrap_or(r.len());
                toks.push((Tok::Name(r[..n].to_string()), tline));
                lx.advance(n);
            } else if c == '\'' || c == '"' {
                let (s, n) = lex_string(r, c, tline)?;
                toks.push((Tok::Str(s), tline));
                lx.advance(n);
            } else if let Some(op) = OPS.iter().find(|o| r.starts_with(**o)) {
                match *op {
                    "(" | "[" | "{" => {
                        if stack.len() >= MAX_DEPTH {
                            return Err(syntax("too deeply nested", tline));
                        }
                        stack.push(op.chars().next().unwrap_or('('))
                    }
                    ")" | "]" | "}" => {
                        let want = match *op {
                            ")" => '(',
                            "]" => '[',
                            _ => '{',
                        };
                        if stack.pop() != Some(want) {
                            return Err(syntax(format!("unexpected '{op}'"), tline));
                        }
                    }
                    _ => {}
                }
                toks.push((Tok::Op(op), tline));
                lx.advance(op.len());
            } else if c == ',' {
                toks.push((Tok::Op(","), tline));
                lx.advance(1);
            } else if c == ';' {
                toks.push((Tok::Op(";"), tline));
                lx.advance(1);
            } else {
                return Err(syntax(format!("unexpected char {c:?}"), tline));
            }
        }
        if kind == "{{" {
            items.push(Item::Var(toks, line));
        } else {
            items.push(Item::Block(toks, line));
        }
    }
    Ok(items)
}

fn lex_number(r: &str, line: usize) -> Result<(Tok, usize), Error> {
    let b = r.as_bytes();
    let digits = |mut i: usize| {
        // (\d+_)*\d+
        let start = i;
        loop {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == s {
                return if s == start { None } else { Some(s - 1) };
            }
            if i < b.len() && b[i] == b'_' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
                i += 1;
                continue;
            }
            return Some(i);
        }
    };
    let Some(int_end) = digits(0) else {
        return Err(syntax("bad number", line));
    };
    let mut end = int_end;
    let mut is_float = false;
    if end < b.len()
        && b[end] == b'.'
        && let Some(e) = digits(end + 1)
    {
        end = e;
        is_float = true;
    }
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        // Jinja2's float regex is case-insensitive; the exponent needs no fraction.
        let mut j = end + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if let Some(e) = digits(j) {
            end = e;
            is_float = true;
        }
    }
    let text: String = r[..end].chars().filter(|c| *c != '_').collect();
    if is_float {
        let f: f64 = text.parse().map_err(|_| syntax("bad float", line))?;
        Ok((Tok::Float(f), end))
    } else {
        match text.parse::<i64>() {
            Ok(i) => Ok((Tok::Int(i), end)),
            Err(_) => Err(Error::new(ErrorKind::Unsupported, "integer literal too large").at(line)),
        }
    }
}

fn lex_string(r: &str, q: char, line: usize) -> Result<(String, usize), Error> {
    let mut out = String::new();
    let mut it = r.char_indices().skip(1).peekable();
    while let Some((i, c)) = it.next() {
        if c == q {
            return Ok((out, i + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = it.next() else { break };
        let hex = |it: &mut std::iter::Peekable<std::iter::Skip<std::str::CharIndices<'_>>>,
                   n: usize|
         -> Option<char> {
            let mut v = 0u32;
            for _ in 0..n {
                let (_, d) = it.next()?;
                v = v * 16 + d.to_digit(16)?;
            }
            char::from_u32(v)
        };
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            'x' => out.push(hex(&mut it, 2).ok_or_else(|| syntax("bad \\x escape", line))?),
            'u' => out.push(hex(&mut it, 4).ok_or_else(|| syntax("bad \\u escape", line))?),
            'U' => out.push(hex(&mut it, 8).ok_or_else(|| syntax("bad \\U escape", line))?),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match it.peek() {
                        Some((_, d)) if d.is_digit(8) => {
                            v = v * 8 + d.to_digit(8).unwrap_or(0);
                            it.next();
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Err(syntax("unterminated string", line))
}

/// The end tag that closed a body: its name and line.
type EndTag = Option<(String, usize)>;

struct Parser {
    items: Vec<Item>,
    pos: usize,
    depth: usize,
}

struct Toks<'a> {
    t: &'a [(Tok, usize)],
    i: usize,
    line: usize,
    depth: usize,
    chain: usize,
}

/// Most left-deep links (`a + b + ...`, `x | f | g ...`, `x.a.b ...`) in one tag, so that
/// evaluating and dropping the tree never recurses deeper than this.
const MAX_CHAIN: usize = 1000;

/// Parses template text into statements.
pub fn parse(src: &str) -> Result<Vec<Node>, Error> {
    let items = lex(src)?;
    let mut p = Parser {
        items,
        pos: 0,
        depth: 0,
    };
    let (body, end) = p.parse_body(&[])?;
    if let Some((name, line)) = end {
        return Err(syntax(format!("Encountered unknown tag '{name}'."), line));
    }
    Ok(body)
}

impl Parser {
    /// Parses until a block tag whose name is in `ends`; returns the body and the end tag
    /// (its name and line), leaving the end tag's remaining tokens in `self.end_toks`.
    fn parse_body(&mut self, ends: &[&str]) -> Result<(Vec<Node>, EndTag), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax("too deeply nested", 0));
        }
        let mut body = Vec::new();
        while self.pos < self.items.len() {
            let idx = self.pos;
            self.pos += 1;
            match &self.items[idx] {
                Item::Text(t) => body.push(Node::Text(t.clone())),
                Item::Var(toks, line) => {
                    let line = *line;
                    let toks = toks.clone();
                    let mut ts = Toks {
                        t: &toks,
                        i: 0,
                        line,
                        depth: 0,
                        chain: 0,
                    };
                    let e = ts.parse_tuple(true, false)?;
                    ts.expect_end()?;
                    body.push(Node::Output(e));
                }
                Item::Block(toks, line) => {
                    let line = *line;
                    let toks = toks.clone();
                    let Some((Tok::Name(name), _)) = toks.first() else {
                        return Err(syntax("tag name expected", line));
                    };
                    let name = name.clone();
                    if ends.contains(&name.as_str()) {
                        self.pos = idx;
                        self.depth -= 1;
                        return Ok((body, Some((name, line))));
                    }
                    let mut ts = Toks {
                        t: &toks,
                        i: 1,
                        line,
                        depth: 0,
                        chain: 0,
                    };
                    let node = match name.as_str() {
                        "if" => self.parse_if(&mut ts)?,
                        "for" => self.parse_for(&mut ts, line)?,
                        "set" => self.parse_set(&mut ts, line)?,
                        _ => {
                            if ends.is_empty() {
                                return Err(syntax(
                                    format!("Encountered unknown tag '{name}'."),
                                    line,
                                ));
                            }
                            return Err(syntax(
                                format!(
                                    "Encountered unknown tag '{name}'. Jinja was looking for: {}",
                                    ends.join(", ")
                                ),
                                line,
                            ));
                        }
                    };
                    body.push(node);
                }
            }
        }
        self.depth -= 1;
        if !ends.is_empty() {
            return Err(syntax(
                format!(
                    "Unexpected end of template. Jinja was looking for the following tags: {}",
                    ends.join(", ")
                ),
                0,
            ));
        }
        Ok((body, None))
    }

    /// Consumes the end tag at `self.pos`, returning its tokens after the name.
    fn take_tag(&mut self) -> (Vec<(Tok, usize)>, usize) {
        let idx = self.pos;
        self.pos += 1;
        match self.items.get(idx) {
            Some(Item::Block(t, line)) => (t.clone(), *line),
            _ => (Vec::new(), 0),
        }
    }

    fn parse_if(&mut self, ts: &mut Toks<'_>) -> Result<Node, Error> {
        let mut branches = Vec::new();
        let mut cond = ts.parse_tuple(false, false)?;
        ts.expect_end()?;
        loop {
            let (body, end) = self.parse_body(&["elif", "else", "endif"])?;
            branches.push((cond, body));
            let (name, _) = end.unwrap_or_default();
            let (toks, line) = self.take_tag();
            let mut t2 = Toks {
                t: &toks,
                i: 1,
                line,
                depth: 0,
                chain: 0,
            };
            match name.as_str() {
                "elif" => {
                    cond = t2.parse_tuple(false, false)?;
                    t2.expect_end()?;
                }
                "else" => {
                    t2.expect_end()?;
                    let (else_, _) = self.parse_body(&["endif"])?;
                    let (toks, line) = self.take_tag();
                    Toks {
                        t: &toks,
                        i: 1,
                        line,
                        depth: 0,
                        chain: 0,
                    }
                    .expect_end()?;
                    return Ok(Node::If { branches, else_ });
                }
                _ => {
                    t2.expect_end()?;
                    return Ok(Node::If {
                        branches,
                        else_: Vec::new(),
                    });
                }
            }
        }
    }

    fn parse_for(&mut self, ts: &mut Toks<'_>, line: usize) -> Result<Node, Error> {
        let target = ts.parse_target(false)?;
        if !ts.skip_name("in") {
            return Err(syntax("expected 'in'", line));
        }
        let iter = ts.parse_tuple(false, true)?;
        let filter = if ts.skip_name("if") {
            Some(ts.parse_expression(true)?)
        } else {
            None
        };
        if ts.skip_name("recursive") {
            return Err(Error::new(ErrorKind::Unsupported, "recursive loops").at(line));
        }
        ts.expect_end()?;
        let (body, end) = self.parse_body(&["endfor", "else"])?;
        let (name, _) = end.unwrap_or_default();
        let (toks, l2) = self.take_tag();
        Toks {
            t: &toks,
            i: 1,
            line: l2,
            depth: 0,
            chain: 0,
        }
        .expect_end()?;
        let else_ = if name == "else" {
            let (e, _) = self.parse_body(&["endfor"])?;
            let (toks, l3) = self.take_tag();
            Toks {
                t: &toks,
                i: 1,
                line: l3,
                depth: 0,
                chain: 0,
            }
            .expect_end()?;
            e
        } else {
            Vec::new()
        };
        Ok(Node::For {
            target,
            iter,
            filter,
            body,
            else_,
            line,
        })
    }

    fn parse_set(&mut self, ts: &mut Toks<'_>, line: usize) -> Result<Node, Error> {
        let target = ts.parse_target(true)?;
        if ts.skip_op("=") {
            let value = ts.parse_tuple(true, false)?;
            ts.expect_end()?;
            return Ok(Node::Set {
                target,
                value,
                line,
            });
        }
        if ts.skip_op("|") {
            return Err(Error::new(ErrorKind::Unsupported, "filtered set blocks").at(line));
        }
        ts.expect_end()?;
        let Target::Name(name) = target else {
            return Err(syntax("can't assign a block to this target", line));
        };
        let (body, _) = self.parse_body(&["endset"])?;
        let (toks, l2) = self.take_tag();
        Toks {
            t: &toks,
            i: 1,
            line: l2,
            depth: 0,
            chain: 0,
        }
        .expect_end()?;
        Ok(Node::SetBlock { name, body })
    }
}

/// Names of the filters the engine knows (unknown filters fail at parse time, as in Jinja2).
pub const FILTERS: &[&str] = &[
    "abs",
    "capitalize",
    "choice",
    "count",
    "d",
    "default",
    "first",
    "float",
    "format",
    "highlight",
    "int",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "most_frequent",
    "random",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "sum",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
];

/// Names of the tests the engine knows.
pub const TESTS: &[&str] = &[
    "boolean",
    "callable",
    "defined",
    "divisibleby",
    "eq",
    "equalto",
    "==",
    "escaped",
    "even",
    "false",
    "float",
    "ge",
    ">=",
    "gt",
    "greaterthan",
    ">",
    "in",
    "integer",
    "iterable",
    "le",
    "<=",
    "lower",
    "lt",
    "lessthan",
    "<",
    "mapping",
    "ne",
    "!=",
    "none",
    "number",
    "odd",
    "sameas",
    "sequence",
    "string",
    "true",
    "undefined",
    "upper",
];

impl Toks<'_> {
    fn cur(&self) -> Option<&Tok> {
        self.t.get(self.i).map(|(t, _)| t)
    }
    fn peek(&self, n: usize) -> Option<&Tok> {
        self.t.get(self.i + n).map(|(t, _)| t)
    }
    fn line(&self) -> usize {
        self.t.get(self.i).map(|(_, l)| *l).unwrap_or(self.line)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.cur(), Some(Tok::Op(o)) if *o == op)
    }
    fn is_name(&self, n: &str) -> bool {
        matches!(self.cur(), Some(Tok::Name(x)) if x == n)
    }
    fn skip_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_name(&mut self, n: &str) -> bool {
        if self.is_name(n) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), Error> {
        if self.skip_op(op) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{op}'")))
        }
    }
    fn unexpected(&self, want: &str) -> Error {
        let got = match self.cur() {
            None => "end of statement block".to_string(),
            Some(Tok::Name(n)) => format!("'{n}'"),
            Some(Tok::Str(_)) => "string".into(),
            Some(Tok::Int(_)) | Some(Tok::Float(_)) => "number".into(),
            Some(Tok::Op(o)) => format!("'{o}'"),
        };
        syntax(format!("expected {want}, got {got}"), self.line())
    }
    fn expect_end(&mut self) -> Result<(), Error> {
        if self.cur().is_none() {
            Ok(())
        } else {
            Err(self.unexpected("end of statement block"))
        }
    }
    fn mk(&self, kind: ExprKind, line: usize) -> Expr {
        Expr { kind, line }
    }
    fn chain(&mut self) -> Result<(), Error> {
        self.chain += 1;
        if self.chain > MAX_CHAIN {
            Err(syntax("expression too long", self.line()))
        } else {
            Ok(())
        }
    }
    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(syntax("expression too deeply nested", self.line()))
        } else {
            Ok(())
        }
    }

    fn parse_target(&mut self, with_namespace: bool) -> Result<Target, Error> {
        let mut items = Vec::new();
        let paren = self.skip_op("(");
        loop {
            let Some(Tok::Name(n)) = self.cur().cloned() else {
                return Err(self.unexpected("name"));
            };
            self.i += 1;
            if with_namespace && self.is_op(".") {
                self.i += 1;
                let Some(Tok::Name(a)) = self.cur().cloned() else {
                    return Err(self.unexpected("attribute name"));
                };
                self.i += 1;
                items.push(Target::Attr(n, a));
            } else {
                items.push(Target::Name(n));
            }
            if !self.skip_op(",") {
                break;
            }
            if !matches!(self.cur(), Some(Tok::Name(n)) if n != "in") {
                break;
            }
        }
        if paren {
            self.expect_op(")")?;
        }
        if items.len() == 1 && !paren {
            return Ok(items.pop().unwrap_or(Target::Name(String::new())));
        }
        Ok(Target::Tuple(items))
    }

    /// Jinja's parse_tuple.
    fn parse_tuple(&mut self, with_condexpr: bool, for_iter: bool) -> Result<Expr, Error> {
        let line = self.line();
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            if !items.is_empty() {
                if !self.skip_op(",") {
                    break;
                }
                comma = true;
            }
            if self.cur().is_none()
                || self.is_op(")")
                || (for_iter && self.is_name("recursive"))
                || (for_iter && self.is_name("if"))
            {
                break;
            }
            items.push(self.parse_expression(with_condexpr)?);
        }
        if !comma {
            if items.len() == 1 {
                return Ok(items
                    .pop()
                    .unwrap_or_else(|| self.mk(ExprKind::Tuple(vec![]), line)));
            }
            if items.is_empty() {
                return Err(self.unexpected("expression"));
            }
        }
        Ok(self.mk(ExprKind::Tuple(items), line))
    }

    fn parse_expression(&mut self, with_condexpr: bool) -> Result<Expr, Error> {
        self.enter()?;
        let r = if with_condexpr {
            self.parse_condexpr()
        } else {
            self.parse_or()
        };
        self.depth -= 1;
        r
    }

    fn parse_condexpr(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let mut e1 = self.parse_or()?;
        while self.skip_name("if") {
            let e2 = self.parse_or()?;
            let e3 = if self.skip_name("else") {
                Some(Box::new(self.parse_condexpr()?))
            } else {
                None
            };
            self.chain()?;
            e1 = self.mk(ExprKind::Cond(Box::new(e2), Box::new(e1), e3), line);
        }
        Ok(e1)
    }

    fn parse_or(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let mut l = self.parse_and()?;
        while self.skip_name("or") {
            let r = self.parse_and()?;
            self.chain()?;
            l = self.mk(ExprKind::Or(Box::new(l), Box::new(r)), line);
        }
        Ok(l)
    }

    fn parse_and(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let mut l = self.parse_not()?;
        while self.skip_name("and") {
            let r = self.parse_not()?;
            self.chain()?;
            l = self.mk(ExprKind::And(Box::new(l), Box::new(r)), line);
        }
        Ok(l)
    }

    fn parse_not(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        if self.is_name("not") {
            self.i += 1;
            self.enter()?;
            let e = self.parse_not()?;
            self.depth -= 1;
            return Ok(self.mk(ExprKind::Not(Box::new(e)), line));
        }
        self.parse_compare()
    }

    fn parse_compare(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let e = self.parse_math1()?;
        let mut ops = Vec::new();
        loop {
            let op = match self.cur() {
                Some(Tok::Op("==")) => CmpOp::Eq,
                Some(Tok::Op("!=")) => CmpOp::Ne,
                Some(Tok::Op("<")) => CmpOp::Lt,
                Some(Tok::Op("<=")) => CmpOp::Le,
                Some(Tok::Op(">")) => CmpOp::Gt,
                Some(Tok::Op(">=")) => CmpOp::Ge,
                Some(Tok::Name(n)) if n == "in" => CmpOp::In,
                Some(Tok::Name(n))
                    if n == "not" && matches!(self.peek(1), Some(Tok::Name(m)) if m == "in") =>
                {
                    self.i += 1;
                    CmpOp::NotIn
                }
                _ => break,
            };
            self.i += 1;
            ops.push((op, self.parse_math1()?));
        }
        if ops.is_empty() {
            Ok(e)
        } else {
            Ok(self.mk(ExprKind::Compare(Box::new(e), ops), line))
        }
    }

    fn parse_math1(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let mut l = self.parse_concat()?;
        loop {
            let op = if self.is_op("+") {
                BinOp::Add
            } else if self.is_op("-") {
                BinOp::Sub
            } else {
                break;
            };
            self.i += 1;
            let r = self.parse_concat()?;
            self.chain()?;
            l = self.mk(ExprKind::Bin(op, Box::new(l), Box::new(r)), line);
        }
        Ok(l)
    }

    fn parse_concat(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let mut args = vec![self.parse_math2()?];
        while self.skip_op("~") {
            self.chain()?;
            args.push(self.parse_math2()?);
        }
        if args.len() == 1 {
            return Ok(args
                .pop()
                .unwrap_or_else(|| self.mk(ExprKind::Concat(vec![]), line)));
        }
        Ok(self.mk(ExprKind::Concat(args), line))
    }

    fn parse_math2(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let mut l = self.parse_pow()?;
        loop {
            let op = match self.cur() {
                Some(Tok::Op("*")) => BinOp::Mul,
                Some(Tok::Op("/")) => BinOp::Div,
                Some(Tok::Op("//")) => BinOp::FloorDiv,
                Some(Tok::Op("%")) => BinOp::Mod,
                _ => break,
            };
            self.i += 1;
            let r = self.parse_pow()?;
            self.chain()?;
            l = self.mk(ExprKind::Bin(op, Box::new(l), Box::new(r)), line);
        }
        Ok(l)
    }

    fn parse_pow(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let mut l = self.parse_unary(true)?;
        while self.skip_op("**") {
            let r = self.parse_unary(true)?;
            self.chain()?;
            l = self.mk(ExprKind::Bin(BinOp::Pow, Box::new(l), Box::new(r)), line);
        }
        Ok(l)
    }

    fn parse_unary(&mut self, with_filter: bool) -> Result<Expr, Error> {
        let line = self.line();
        self.enter()?;
        let node = if self.skip_op("-") {
            let e = self.parse_unary(false)?;
            self.mk(ExprKind::Neg(Box::new(e)), line)
        } else if self.skip_op("+") {
            let e = self.parse_unary(false)?;
            self.mk(ExprKind::Pos(Box::new(e)), line)
        } else {
            self.parse_primary()?
        };
        let mut node = self.parse_postfix(node)?;
        if with_filter {
            node = self.parse_filter_expr(node)?;
        }
        self.depth -= 1;
        Ok(node)
    }

    fn parse_primary(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let Some(tok) = self.cur().cloned() else {
            return Err(self.unexpected("expression"));
        };
        self.i += 1;
        Ok(match tok {
            Tok::Name(n) => match n.as_str() {
                "true" | "True" => self.mk(ExprKind::Const(Value::Bool(true)), line),
                "false" | "False" => self.mk(ExprKind::Const(Value::Bool(false)), line),
                "none" | "None" => self.mk(ExprKind::Const(Value::None), line),
                _ => self.mk(ExprKind::Name(n), line),
            },
            Tok::Str(s) => {
                let mut s = s;
                while let Some(Tok::Str(t)) = self.cur() {
                    s.push_str(t);
                    self.i += 1;
                }
                self.mk(ExprKind::Const(Value::str(&s)), line)
            }
            Tok::Int(i) => self.mk(ExprKind::Const(Value::Int(i)), line),
            Tok::Float(f) => self.mk(ExprKind::Const(Value::Float(f)), line),
            Tok::Op("(") => {
                let e = self.parse_tuple(true, false)?;
                self.expect_op(")")?;
                e
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.is_op("]") {
                    if !items.is_empty() {
                        self.expect_op(",")?;
                        if self.is_op("]") {
                            break;
                        }
                    }
                    items.push(self.parse_expression(true)?);
                }
                self.expect_op("]")?;
                self.mk(ExprKind::List(items), line)
            }
            Tok::Op("{") => {
                let mut items = Vec::new();
                while !self.is_op("}") {
                    if !items.is_empty() {
                        self.expect_op(",")?;
                        if self.is_op("}") {
                            break;
                        }
                    }
                    let k = self.parse_expression(true)?;
                    self.expect_op(":")?;
                    let v = self.parse_expression(true)?;
                    items.push((k, v));
                }
                self.expect_op("}")?;
                self.mk(ExprKind::Dict(items), line)
            }
            _ => {
                self.i -= 1;
                return Err(self.unexpected("expression"));
            }
        })
    }

    fn parse_postfix(&mut self, mut node: Expr) -> Result<Expr, Error> {
        loop {
            if self.is_op(".") || self.is_op("[") {
                self.chain()?;
                node = self.parse_subscript(node)?;
            } else if self.is_op("(") {
                self.chain()?;
                node = self.parse_call(node)?;
            } else {
                return Ok(node);
            }
        }
    }

    fn parse_filter_expr(&mut self, mut node: Expr) -> Result<Expr, Error> {
        loop {
            if self.is_op("|") {
                self.chain()?;
                node = self.parse_filter(node)?;
            } else if self.is_name("is") {
                self.chain()?;
                node = self.parse_test(node)?;
            } else if self.is_op("(") {
                self.chain()?;
                node = self.parse_call(node)?;
            } else {
                return Ok(node);
            }
        }
    }

    fn parse_subscript(&mut self, node: Expr) -> Result<Expr, Error> {
        let line = self.line();
        if self.skip_op(".") {
            return match self.cur().cloned() {
                Some(Tok::Name(n)) => {
                    self.i += 1;
                    Ok(self.mk(ExprKind::Getattr(Box::new(node), n), line))
                }
                Some(Tok::Int(i)) => {
                    self.i += 1;
                    let c = self.mk(ExprKind::Const(Value::Int(i)), line);
                    Ok(self.mk(ExprKind::Getitem(Box::new(node), Box::new(c)), line))
                }
                _ => Err(self.unexpected("name or number")),
            };
        }
        self.expect_op("[")?;
        let mut args = Vec::new();
        while !self.is_op("]") {
            if !args.is_empty() {
                self.expect_op(",")?;
                if self.is_op("]") {
                    break;
                }
            }
            args.push(self.parse_subscribed()?);
        }
        self.expect_op("]")?;
        let arg = if args.len() == 1 {
            args.pop()
                .unwrap_or_else(|| self.mk(ExprKind::Tuple(vec![]), line))
        } else {
            self.mk(ExprKind::Tuple(args), line)
        };
        Ok(self.mk(ExprKind::Getitem(Box::new(node), Box::new(arg)), line))
    }

    fn parse_subscribed(&mut self) -> Result<Expr, Error> {
        let line = self.line();
        let start = if self.is_op(":") {
            None
        } else {
            let e = self.parse_expression(true)?;
            if !self.is_op(":") {
                return Ok(e);
            }
            Some(Box::new(e))
        };
        self.expect_op(":")?;
        let stop = if self.is_op("]") || self.is_op(",") || self.is_op(":") {
            None
        } else {
            Some(Box::new(self.parse_expression(true)?))
        };
        let step = if self.skip_op(":") {
            if self.is_op("]") || self.is_op(",") {
                None
            } else {
                Some(Box::new(self.parse_expression(true)?))
            }
        } else {
            None
        };
        Ok(self.mk(ExprKind::Slice(start, stop, step), line))
    }

    fn parse_args(&mut self) -> Result<Args, Error> {
        self.expect_op("(")?;
        let mut args = Args::default();
        let mut first = true;
        while !self.is_op(")") {
            if !first {
                self.expect_op(",")?;
                if self.is_op(")") {
                    break;
                }
            }
            first = false;
            if self.is_op("*") || self.is_op("**") {
                return Err(
                    Error::new(ErrorKind::Unsupported, "*args / **kwargs in calls").at(self.line()),
                );
            }
            if let (Some(Tok::Name(n)), Some(Tok::Op("="))) = (self.cur(), self.peek(1)) {
                let n = n.clone();
                self.i += 2;
                let v = self.parse_expression(true)?;
                args.kw.push((n, v));
            } else {
                if !args.kw.is_empty() {
                    return Err(syntax(
                        "positional argument after keyword argument",
                        self.line(),
                    ));
                }
                args.pos.push(self.parse_expression(true)?);
            }
        }
        self.expect_op(")")?;
        Ok(args)
    }

    fn parse_call(&mut self, node: Expr) -> Result<Expr, Error> {
        let line = self.line();
        let args = self.parse_args()?;
        Ok(self.mk(ExprKind::Call(Box::new(node), args), line))
    }

    fn dotted_name(&mut self) -> Result<String, Error> {
        let Some(Tok::Name(n)) = self.cur().cloned() else {
            return Err(self.unexpected("name"));
        };
        self.i += 1;
        let mut n = n;
        while self.is_op(".") {
            self.i += 1;
            let Some(Tok::Name(m)) = self.cur().cloned() else {
                return Err(self.unexpected("name"));
            };
            self.i += 1;
            n.push('.');
            n.push_str(&m);
        }
        Ok(n)
    }

    fn parse_filter(&mut self, mut node: Expr) -> Result<Expr, Error> {
        while self.skip_op("|") {
            self.chain()?;
            let line = self.line();
            let name = self.dotted_name()?;
            if !FILTERS.contains(&name.as_str()) {
                return Err(syntax(format!("No filter named '{name}'."), line));
            }
            let args = if self.is_op("(") {
                self.parse_args()?
            } else {
                Args::default()
            };
            node = self.mk(ExprKind::Filter(Box::new(node), name, args), line);
        }
        Ok(node)
    }

    fn parse_test(&mut self, node: Expr) -> Result<Expr, Error> {
        let line = self.line();
        self.i += 1; // 'is'
        let negated = self.skip_name("not");
        let name = match self.cur().cloned() {
            Some(Tok::Op(o)) if matches!(o, "==" | "!=" | "<" | "<=" | ">" | ">=") => {
                self.i += 1;
                o.to_string()
            }
            _ => self.dotted_name()?,
        };
        if !TESTS.contains(&name.as_str()) {
            return Err(syntax(format!("No test named '{name}'."), line));
        }
        let args = if self.is_op("(") {
            self.parse_args()?
        } else if match self.cur() {
            Some(Tok::Name(n)) => !matches!(n.as_str(), "else" | "or" | "and"),
            Some(Tok::Str(_)) | Some(Tok::Int(_)) | Some(Tok::Float(_)) => true,
            Some(Tok::Op(o)) => matches!(*o, "(" | "[" | "{"),
            None => false,
        } {
            if self.is_name("is") {
                return Err(syntax("You cannot chain multiple tests with is", line));
            }
            let a = self.parse_primary()?;
            let a = self.parse_postfix(a)?;
            Args {
                pos: vec![a],
                kw: Vec::new(),
            }
        } else {
            Args::default()
        };
        let t = self.mk(ExprKind::Test(Box::new(node), name, args), line);
        Ok(if negated {
            self.mk(ExprKind::Not(Box::new(t)), line)
        } else {
            t
        })
    }
}
