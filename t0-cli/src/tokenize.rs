//! `t0 tokenize` and `t0 detokenize`: one line in, one line out.
//!
//! `t0 tokenize --tokenizer PATH [--pieces] [--eos]` reads one UTF-8 line from stdin (only
//! the trailing `\n` or `\r\n` is removed) and prints its ids (or pieces) separated by
//! spaces. `t0 detokenize --tokenizer PATH` reads one line of ids and prints the text.
//! PATH is a `spiece.model`, a `tokenizer.json`, or a directory holding one.

use std::io::{Read, Write};
use std::path::Path;

use t0_core::tokenizer::Tokenizer;

/// Loads a tokenizer from a file or a model directory.
pub fn load(path: &Path) -> Result<Tokenizer, String> {
    let tok = if path.is_dir() {
        Tokenizer::from_dir(path)
    } else {
        Tokenizer::from_file(path)
    };
    tok.map_err(|e| e.to_string())
}

/// Reads stdin up to the first newline and removes it (and a `\r` before it).
fn read_line() -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading stdin: {e}"))?;
    if let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
        bytes.truncate(nl);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "stdin is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn write_line(line: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing stdout: {e}"))
}

/// `t0 tokenize`.
pub fn tokenize(path: &Path, pieces: bool, eos: bool) -> Result<(), String> {
    let tok = load(path)?;
    let text = read_line()?;
    let (ids, piece_list) = tok.encode_with_pieces(&text, eos);
    let line = if pieces {
        piece_list.join(" ")
    } else {
        ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
    };
    write_line(&line)
}

/// `t0 detokenize`.
pub fn detokenize(path: &Path) -> Result<(), String> {
    let tok = load(path)?;
    let line = read_line()?;
    let ids = line
        .split_ascii_whitespace()
        .map(|w| {
            w.parse::<u32>()
                .map_err(|_| format!("{w:?} is not a token id (expected non-negative integers)"))
        })
        .collect::<Result<Vec<u32>, String>>()?;
    let text = tok.try_decode(&ids).map_err(|e| e.to_string())?;
    write_line(&text)
}
