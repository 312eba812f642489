//! Reader for HF `tokenizer.json` files of sentencepiece unigram tokenizers (as written by
//! `transformers`' `T5TokenizerFast` conversion): a `Unigram` model, a `Precompiled`
//! normalizer (sentencepiece's charsmap, base64) with `Strip`/`Replace(" {2,}")` for
//! sentencepiece's whitespace removal, and a `Metaspace` pre-tokenizer for the dummy prefix.
//!
//! The file is mapped onto the same [`Parts`] as a `spiece.model`, and encoding then follows
//! sentencepiece's semantics (not those of the HF `tokenizers` pipeline). Piece types, lost
//! in the conversion, are recovered from `added_tokens`: special tokens inside the
//! vocabulary become control pieces (the `unk_id` one the unknown piece), non-special ones
//! user-defined pieces, and with `byte_fallback` the `<0xXX>` pieces byte pieces. Trailing
//! vocabulary entries `<extra_id_N>` (T5's sentinels, in reverse order) become sentinels.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::Value;

use super::proto::{PieceProto, piece_type};
use super::{Parts, Tokenizer, TokenizerError, parse_sentinel};

fn err(path: &str, reason: impl Into<String>) -> TokenizerError {
    TokenizerError::Json {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Decodes standard base64 (with or without `=` padding).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// All objects in a normalizer/pre-tokenizer tree (through `Sequence`s).
fn flatten<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    if v.get("type").and_then(Value::as_str) == Some("Sequence") {
        if let Some(items) = v.get(key).and_then(Value::as_array) {
            for item in items {
                flatten(item, key, out);
            }
        }
    } else if v.is_object() {
        out.push(v);
    }
}

pub(crate) fn from_tokenizer_json(text: &str) -> Result<Tokenizer, TokenizerError> {
    let root: Value = serde_json::from_str(text).map_err(|e| err("$", e.to_string()))?;
    let model = root.get("model").ok_or_else(|| err("model", "missing"))?;
    let kind = model.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "Unigram" {
        return Err(err(
            "model.type",
            format!("{kind:?} is not supported: only Unigram (sentencepiece) tokenizers are"),
        ));
    }
    let vocab = model
        .get("vocab")
        .and_then(Value::as_array)
        .ok_or_else(|| err("model.vocab", "missing or not an array"))?;
    let mut entries: Vec<(&str, f32)> = Vec::with_capacity(vocab.len());
    for (i, e) in vocab.iter().enumerate() {
        let pair = e.as_array().filter(|a| a.len() == 2);
        let piece = pair.and_then(|a| a[0].as_str());
        let score = pair.and_then(|a| a[1].as_f64());
        match (piece, score) {
            (Some(p), Some(s)) => entries.push((p, s as f32)),
            _ => return Err(err(&format!("model.vocab[{i}]"), "expected [piece, score]")),
        }
    }
    let unk_id = match model.get("unk_id") {
        Some(Value::Number(n)) => {
            n.as_u64()
                .filter(|&u| (u as usize) < entries.len())
                .ok_or_else(|| err("model.unk_id", "out of range"))? as usize
        }
        _ => return Err(err("model.unk_id", "missing: the model needs an unk piece")),
    };
    let byte_fallback = model
        .get("byte_fallback")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    // Trailing sentinels: entry len-1-k is `<extra_id_k>`.
    let mut extra_ids = 0;
    while extra_ids < entries.len()
        && parse_sentinel(entries[entries.len() - 1 - extra_ids].0) == Some(extra_ids)
    {
        extra_ids += 1;
    }
    let n = entries.len() - extra_ids;

    let mut kinds = alloc::vec![piece_type::NORMAL; n];
    let mut eos_id = -1;
    let mut pad_id = -1;
    if let Some(added) = root.get("added_tokens").and_then(Value::as_array) {
        for (i, t) in added.iter().enumerate() {
            let path = format!("added_tokens[{i}]");
            let id = t
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| err(&path, "missing id"))? as usize;
            let content = t.get("content").and_then(Value::as_str).unwrap_or("");
            let special = t.get("special").and_then(Value::as_bool).unwrap_or(false);
            if id >= n {
                continue; // sentinels, or tokens outside the sentencepiece vocabulary
            }
            if entries[id].0 != content {
                return Err(err(
                    &path,
                    format!("content {content:?} differs from vocab[{id}]"),
                ));
            }
            kinds[id] = if special {
                piece_type::CONTROL
            } else {
                piece_type::USER_DEFINED
            };
            if special && content == "</s>" {
                eos_id = id as i32;
            }
            if special && content == "<pad>" {
                pad_id = id as i32;
            }
        }
    }
    if unk_id >= n {
        return Err(err("model.unk_id", "points at a sentinel"));
    }
    kinds[unk_id] = piece_type::UNKNOWN;
    if byte_fallback {
        for (i, (p, _)) in entries[..n].iter().enumerate() {
            let is_byte = p.len() == 6 && p.starts_with("<0x") && p.ends_with('>');
            if is_byte && kinds[i] == piece_type::NORMAL {
                kinds[i] = piece_type::BYTE;
            }
        }
    }
    let pieces: Vec<PieceProto<'_>> = entries[..n]
        .iter()
        .zip(&kinds)
        .map(|(&(p, score), &kind)| PieceProto {
            piece: p.as_bytes(),
            score,
            kind,
        })
        .collect();

    // Normalizer.
    let mut normalizers = Vec::new();
    if let Some(nz) = root.get("normalizer").filter(|v| !v.is_null()) {
        flatten(nz, "normalizers", &mut normalizers);
    }
    let mut charsmap = Vec::new();
    let mut remove_extra_whitespaces = false;
    for nz in &normalizers {
        match nz.get("type").and_then(Value::as_str) {
            Some("Precompiled") => {
                let b64 = nz
                    .get("precompiled_charsmap")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                charsmap = base64_decode(b64)
                    .ok_or_else(|| err("normalizer.precompiled_charsmap", "invalid base64"))?;
            }
            Some("Strip") => remove_extra_whitespaces = true,
            Some("Replace") => {
                let pattern = nz
                    .get("pattern")
                    .and_then(|p| p.get("Regex"))
                    .and_then(Value::as_str);
                if pattern == Some(" {2,}") {
                    remove_extra_whitespaces = true;
                }
            }
            Some(other) => {
                return Err(err(
                    "normalizer",
                    format!("unsupported normalizer {other:?}"),
                ));
            }
            None => return Err(err("normalizer", "normalizer without a type")),
        }
    }

    // Pre-tokenizer: Metaspace gives the dummy prefix and the `▁` escaping.
    let mut pre = Vec::new();
    if let Some(p) = root.get("pre_tokenizer").filter(|v| !v.is_null()) {
        flatten(p, "pretokenizers", &mut pre);
    }
    let metaspace = pre
        .iter()
        .find(|p| p.get("type").and_then(Value::as_str) == Some("Metaspace"))
        .ok_or_else(|| {
            err(
                "pre_tokenizer",
                "no Metaspace pre-tokenizer (not a sentencepiece tokenizer)",
            )
        })?;
    let replacement = metaspace
        .get("replacement")
        .and_then(Value::as_str)
        .unwrap_or("\u{2581}");
    if replacement != "\u{2581}" {
        return Err(err(
            "pre_tokenizer.replacement",
            "only \u{2581} is supported",
        ));
    }
    let add_dummy_prefix = match metaspace.get("prepend_scheme").and_then(Value::as_str) {
        Some("never") => false,
        Some("always") | Some("first") => true,
        Some(other) => {
            return Err(err(
                "pre_tokenizer.prepend_scheme",
                format!("unknown value {other:?}"),
            ));
        }
        None => metaspace
            .get("add_prefix_space")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    };

    Tokenizer::from_parts(Parts {
        pieces,
        byte_fallback,
        charsmap: &charsmap,
        add_dummy_prefix,
        remove_extra_whitespaces,
        escape_whitespaces: true,
        unk_id: None,
        eos_id,
        pad_id,
        unk_surface: None,
        extra_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert!(base64_decode("Zm9v!").is_none());
        assert!(base64_decode("Z").is_none());
    }

    #[test]
    fn rejects_other_models() {
        let e = from_tokenizer_json(r#"{"model": {"type": "BPE", "vocab": {}, "merges": []}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("only Unigram"), "{e}");
        assert!(from_tokenizer_json("not json").is_err());
        assert!(
            from_tokenizer_json(r#"{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}"#)
                .is_err()
        );
    }
}
