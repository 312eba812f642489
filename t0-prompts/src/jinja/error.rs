//! Errors of the template engine.

use std::fmt;

/// What went wrong, by the Python exception it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `jinja2.TemplateSyntaxError`.
    Syntax,
    /// `jinja2.UndefinedError` (attribute of / call on / arithmetic with an undefined value).
    Undefined,
    /// Python `TypeError`.
    Type,
    /// Python `ValueError`.
    Value,
    /// Python `IndexError` / `KeyError`.
    Lookup,
    /// Python `ZeroDivisionError` / `OverflowError`.
    Arithmetic,
    /// `jinja2.TemplateRuntimeError` and other runtime errors.
    Runtime,
    /// A size limit of the render options was hit (output, loop iterations, value size).
    Limit,
    /// A Jinja feature this engine does not implement.
    Unsupported,
}

/// An engine error: kind, message, and the template line when known.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// The kind.
    pub kind: ErrorKind,
    /// A message in the spirit of Python's.
    pub message: String,
    /// 1-based line in the template source, when known.
    pub line: Option<usize>,
}

impl Error {
    /// New error without a line.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            line: None,
        }
    }
    /// Sets the line if not set.
    pub fn at(mut self, line: usize) -> Error {
        if self.line.is_none() {
            self.line = Some(line);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Syntax => "syntax error",
            ErrorKind::Undefined => "undefined",
            ErrorKind::Type => "type error",
            ErrorKind::Value => "value error",
            ErrorKind::Lookup => "lookup error",
            ErrorKind::Arithmetic => "arithmetic error",
            ErrorKind::Runtime => "runtime error",
            ErrorKind::Limit => "limit exceeded",
            ErrorKind::Unsupported => "unsupported",
        };
        match self.line {
            Some(l) => write!(f, "{kind} (line {l}): {}", self.message),
            None => write!(f, "{kind}: {}", self.message),
        }
    }
}

impl std::error::Error for Error {}
