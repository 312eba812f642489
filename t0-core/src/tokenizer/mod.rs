//! SentencePiece (unigram) tokenization for T5 / T0, id for id identical to the
//! `sentencepiece` library and to HF `T5Tokenizer` (legacy mode).
//!
//! ```
//! use t0_core::tokenizer::Tokenizer;
//! let bytes = include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/tests/fixtures/tokenizer/t5style-4k.model"
//! ));
//! let tok = Tokenizer::from_spiece_bytes(bytes).unwrap();
//! let ids = tok.encode("Hello world <extra_id_0>.", true);
//! assert_eq!(ids.last(), Some(&tok.eos_id()));
//! assert_eq!(tok.piece_to_id("<extra_id_0>"), Some(4099));
//! // The sentinel is dropped; the text after it was encoded on its own, with its own `▁`.
//! assert_eq!(tok.decode(&ids), "Hello world .");
//! ```
//!
//! # What is implemented
//! - [`Tokenizer::from_spiece_bytes`] reads a `spiece.model` (sentencepiece `ModelProto`)
//!   with a hand-written protobuf reader; under `std`, [`Tokenizer::from_tokenizer_json`]
//!   reads an HF `tokenizer.json` (Unigram + Precompiled + Metaspace) into the same thing.
//! - Normalisation exactly as `normalizer.cc` (precompiled charsmap, whitespace rules,
//!   dummy prefix, `▁` escaping, user-defined symbols passed through) and segmentation
//!   exactly as `unigram_model.cc` (`EncodeOptimized`: Viterbi with its tie-breaking and
//!   float arithmetic; runs of unknown characters merged into one unk id; byte fallback).
//! - T5 conventions: `extra_ids` sentinels (default 100) appended after the sentencepiece
//!   vocabulary in reverse order (`<extra_id_0>` is the last id).
//!
//! # Special tokens in input text ([`Tokenizer::encode`])
//! As HF `T5Tokenizer` with `legacy=True` (what transformers uses when the tokenizer config
//! does not set `legacy`; `legacy=False` differs only in that text right after a special
//! token gets no dummy-prefix `▁`): the text is split around special tokens, each piece of text is encoded by sentencepiece on its own (so each gets its own
//! dummy-prefix `▁`), and the special tokens become their ids. The special tokens are the
//! sentinels `<extra_id_N>` (N < extra_ids, written without leading zeros) and the model's
//! control and unknown pieces (for T5: `<pad>`, `</s>`, `<unk>`). Sentinels swallow the
//! whitespace on both sides (HF's `lstrip=True, rstrip=True`; whitespace as Python's
//! `str.isspace`); the other special tokens do not. Matching is leftmost-longest.
//! [`Tokenizer::encode_plain`] is plain sentencepiece (`EncodeAsIds`) with no special tokens.
//!
//! # EOS
//! `encode(text, true)` appends EOS unless the ids already end with EOS (HF's
//! `_add_eos_if_not_present`). T0's evaluation encodes inputs without EOS and answer choices
//! with EOS.
//!
//! # Length
//! Encoding has no length cap: time is linear in the input (the Viterbi pass looks at most
//! one vocabulary piece length ahead) and memory is O(input). Truncation to the model's
//! limits (T0: 1024 input / 256 target tokens) is the caller's job.
//!
//! # Decoding ([`Tokenizer::decode`])
//! As HF `T5Tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)`:
//! control ids (`<pad>`, `</s>`), the unk id and all sentinels are dropped; ids outside the
//! vocabulary are dropped ([`Tokenizer::try_decode`] reports them instead); the remaining
//! pieces are joined with `▁` turned back into spaces and the leading space removed; byte
//! pieces are reassembled into UTF-8 (each invalid byte becomes U+FFFD, as sentencepiece
//! does); finally surrounding whitespace is trimmed (Python's `str.strip`). So an unknown
//! character does not come back: `decode(encode("a😀b"))` is `"ab"`.
//! [`Tokenizer::decode_sentencepiece`] is plain sentencepiece `DecodeIds` instead (unk
//! becomes `" ⁇ "`, control ids vanish, sentinels appear as their text).
//! [`Tokenizer::decode_stream`] decodes incrementally (for streaming generation); what it
//! returns, concatenated, equals `decode` of all the ids.

mod charsmap;
mod error;
#[cfg(feature = "std")]
mod json;
mod normalizer;
mod proto;
mod trie;
mod unigram;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

pub use error::TokenizerError;
use normalizer::Normalizer;
use unigram::{BestNode, PieceKind, Segment, Unigram};

/// The most sentinel ids a tokenizer may have.
pub const MAX_EXTRA_IDS: usize = 10_000;

/// Options for loading a tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenizerOptions {
    /// Number of T5 sentinel tokens `<extra_id_N>` appended after the sentencepiece
    /// vocabulary (T5/T0: 100). `<extra_id_0>` gets the highest id.
    pub extra_ids: usize,
}

impl Default for TokenizerOptions {
    fn default() -> Self {
        Self { extra_ids: 100 }
    }
}

impl TokenizerOptions {
    /// Sets the number of sentinel tokens.
    pub fn extra_ids(mut self, n: usize) -> Self {
        self.extra_ids = n;
        self
    }
}

/// A sentencepiece unigram tokenizer with T5's sentinel and EOS conventions.
///
/// Immutable after loading; `Send + Sync`, so one instance can serve many threads.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    unigram: Unigram,
    normalizer: Normalizer,
    extra_ids: u32,
    unk_id: u32,
    eos_id: Option<u32>,
    pad_id: Option<u32>,
    unk_surface: String,
    /// Control and unknown pieces recognised in input text: (text, id), longest first.
    specials: Vec<(String, u32)>,
    /// First bytes of all special tokens (including `<` for sentinels).
    special_first: [bool; 256],
    /// The sentinel names, `<extra_id_0>` first, concatenated; `sentinel_spans` index it.
    sentinel_text: String,
    sentinel_spans: Vec<(u32, u32)>,
}

/// The raw parts a tokenizer is built from (shared by the protobuf and JSON readers).
pub(crate) struct Parts<'a> {
    pub pieces: Vec<proto::PieceProto<'a>>,
    pub byte_fallback: bool,
    pub charsmap: &'a [u8],
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
    pub escape_whitespaces: bool,
    pub unk_id: Option<i32>,
    pub eos_id: i32,
    pub pad_id: i32,
    pub unk_surface: Option<&'a [u8]>,
    pub extra_ids: usize,
}

/// One piece of input text after splitting around special tokens.
enum Chunk<'a> {
    Text(&'a str),
    Special { id: u32, strip: bool },
}

/// Python's `str.isspace`.
fn py_isspace(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\x1c'..='\x1f'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// sentencepiece's `DecodeUTF8` validity: `(Some(len))` for a valid character, `None` for an
/// invalid lead byte (to be replaced by U+FFFD, consuming one byte).
fn spm_valid_utf8_len(b: &[u8]) -> Option<usize> {
    let trail = |x: u8| x & 0xc0 == 0x80;
    let valid_cp = |c: u32| c < 0xd800 || (0xe000..=0x10ffff).contains(&c);
    let b0 = *b.first()?;
    if b0 < 0x80 {
        return Some(1);
    }
    if b.len() >= 2 && b0 & 0xe0 == 0xc0 {
        let cp = (u32::from(b0 & 0x1f) << 6) | u32::from(b[1] & 0x3f);
        if trail(b[1]) && cp >= 0x80 {
            return Some(2);
        }
    } else if b.len() >= 3 && b0 & 0xf0 == 0xe0 {
        let cp =
            (u32::from(b0 & 0x0f) << 12) | (u32::from(b[1] & 0x3f) << 6) | u32::from(b[2] & 0x3f);
        if trail(b[1]) && trail(b[2]) && cp >= 0x800 && valid_cp(cp) {
            return Some(3);
        }
    } else if b.len() >= 4 && b0 & 0xf8 == 0xf0 {
        let cp = (u32::from(b0 & 0x07) << 18)
            | (u32::from(b[1] & 0x3f) << 12)
            | (u32::from(b[2] & 0x3f) << 6)
            | u32::from(b[3] & 0x3f);
        if trail(b[1]) && trail(b[2]) && trail(b[3]) && cp >= 0x10000 && valid_cp(cp) {
            return Some(4);
        }
    }
    None
}

/// Appends byte-fallback bytes to `text` as sentencepiece does.
fn flush_bytes(bytes: &mut Vec<u8>, text: &mut String) {
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        match spm_valid_utf8_len(rest) {
            Some(len) => {
                // A valid sequence per the checks above is valid UTF-8.
                text.push_str(core::str::from_utf8(&rest[..len]).unwrap_or("\u{fffd}"));
                rest = &rest[len..];
            }
            None => {
                text.push('\u{fffd}');
                rest = &rest[1..];
            }
        }
    }
    bytes.clear();
}

/// One item of a piece sequence handed to the sentencepiece decoder.
enum DecodeItem<'a> {
    /// A normal, user-defined or unused piece (or a sentinel's text).
    Text(&'a str),
    Byte(u8),
    Control,
    /// The unk id (decodes to the unk surface).
    Unk,
    /// A piece string that is not in the vocabulary (sentencepiece keeps it verbatim).
    Verbatim(&'a str),
}

impl Tokenizer {
    /// Loads a `spiece.model` (sentencepiece `ModelProto`) with 100 T5 sentinels.
    pub fn from_spiece_bytes(bytes: &[u8]) -> Result<Self, TokenizerError> {
        Self::from_spiece_bytes_with(bytes, TokenizerOptions::default())
    }

    /// Loads a `spiece.model` with explicit options.
    pub fn from_spiece_bytes_with(
        bytes: &[u8],
        options: TokenizerOptions,
    ) -> Result<Self, TokenizerError> {
        let model = proto::parse_model(bytes)?;
        let ts = model.trainer_spec;
        if ts.model_type != 1 {
            return Err(TokenizerError::UnsupportedModelType {
                model_type: ts.model_type,
            });
        }
        if ts.treat_whitespace_as_suffix {
            return Err(TokenizerError::Unsupported {
                feature: "trainer_spec.treat_whitespace_as_suffix",
            });
        }
        if model.has_denormalizer {
            return Err(TokenizerError::Unsupported {
                feature: "denormalizer_spec.precompiled_charsmap",
            });
        }
        let ns = model.normalizer_spec;
        Self::from_parts(Parts {
            pieces: model.pieces,
            byte_fallback: ts.byte_fallback,
            charsmap: ns.precompiled_charsmap,
            add_dummy_prefix: ns.add_dummy_prefix,
            remove_extra_whitespaces: ns.remove_extra_whitespaces,
            escape_whitespaces: ns.escape_whitespaces,
            unk_id: ts.unk_id_present.then_some(ts.unk_id),
            eos_id: ts.eos_id,
            pad_id: ts.pad_id,
            unk_surface: ts.unk_surface,
            extra_ids: options.extra_ids,
        })
    }

    pub(crate) fn from_parts(p: Parts<'_>) -> Result<Self, TokenizerError> {
        if p.extra_ids > MAX_EXTRA_IDS {
            return Err(TokenizerError::TooManyExtraIds {
                requested: p.extra_ids,
            });
        }
        let unigram = Unigram::new(&p.pieces, p.byte_fallback)?;
        let n = unigram.len();
        let unk_id = unigram.unk_id;
        if let Some(id) = p.unk_id
            && id as i64 != i64::from(unk_id)
        {
            return Err(TokenizerError::BadSpecialId {
                field: "trainer_spec.unk_id",
                id: id.into(),
                vocab_size: n,
            });
        }
        let optional_id = |id: i32, field: &'static str| -> Result<Option<u32>, TokenizerError> {
            if id < 0 {
                Ok(None)
            } else if (id as usize) < n {
                Ok(Some(id as u32))
            } else {
                Err(TokenizerError::BadSpecialId {
                    field,
                    id: id.into(),
                    vocab_size: n,
                })
            }
        };
        let eos_id = optional_id(p.eos_id, "trainer_spec.eos_id")?;
        let pad_id = optional_id(p.pad_id, "trainer_spec.pad_id")?;
        let charsmap = if p.charsmap.is_empty() {
            None
        } else {
            Some(charsmap::CharsMap::parse(p.charsmap)?)
        };
        let unk_surface = match p.unk_surface {
            Some(b) => core::str::from_utf8(b)
                .map_err(|_| TokenizerError::InvalidUtf8 {
                    field: "trainer_spec.unk_surface",
                })?
                .to_string(),
            None => " \u{2047} ".to_string(),
        };
        let normalizer = Normalizer {
            charsmap,
            add_dummy_prefix: p.add_dummy_prefix,
            remove_extra_whitespaces: p.remove_extra_whitespaces,
            escape_whitespaces: p.escape_whitespaces,
            user_defined: unigram.user_defined_trie(),
        };
        let mut specials: Vec<(String, u32)> = (0..n as u32)
            .filter(|&id| {
                matches!(
                    unigram.kind(id),
                    Some(PieceKind::Control | PieceKind::Unknown)
                )
            })
            .filter_map(|id| Some((unigram.piece(id)?.to_string(), id)))
            .collect();
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let mut special_first = [false; 256];
        for (s, _) in &specials {
            special_first[s.as_bytes()[0] as usize] = true;
        }
        if p.extra_ids > 0 {
            special_first[b'<' as usize] = true;
        }
        let mut sentinel_text = String::new();
        let mut sentinel_spans = Vec::with_capacity(p.extra_ids);
        for i in 0..p.extra_ids {
            let start = sentinel_text.len() as u32;
            sentinel_text.push_str(&alloc::format!("<extra_id_{i}>"));
            sentinel_spans.push((start, sentinel_text.len() as u32));
        }
        Ok(Self {
            unigram,
            normalizer,
            extra_ids: p.extra_ids as u32,
            unk_id,
            eos_id,
            pad_id,
            unk_surface,
            specials,
            special_first,
            sentinel_text,
            sentinel_spans,
        })
    }

    /// Loads a `tokenizer.json` (HF tokenizers: Unigram model, Precompiled normalizer,
    /// Metaspace pre-tokenizer) into the same tokenizer as the equivalent `spiece.model`.
    /// Sentinels are taken from the trailing `<extra_id_N>` vocabulary entries.
    #[cfg(feature = "std")]
    pub fn from_tokenizer_json(text: &str) -> Result<Self, TokenizerError> {
        json::from_tokenizer_json(text)
    }

    /// Loads `spiece.model` or `tokenizer.json`, telling them apart by content (a JSON
    /// object starts with `{`; a `ModelProto` never does).
    #[cfg(feature = "std")]
    pub fn from_file(path: &std::path::Path) -> Result<Self, TokenizerError> {
        let bytes = std::fs::read(path).map_err(|e| TokenizerError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        let with_path = |e: TokenizerError| TokenizerError::InFile {
            path: path.display().to_string(),
            error: alloc::boxed::Box::new(e),
        };
        if first == Some(&b'{') {
            let text = core::str::from_utf8(&bytes).map_err(|_| TokenizerError::Io {
                path: path.display().to_string(),
                reason: "tokenizer.json is not valid UTF-8".into(),
            })?;
            Self::from_tokenizer_json(text).map_err(with_path)
        } else {
            Self::from_spiece_bytes(&bytes).map_err(with_path)
        }
    }

    /// Loads `dir/spiece.model`, or else `dir/tokenizer.json`.
    #[cfg(feature = "std")]
    pub fn from_dir(dir: &std::path::Path) -> Result<Self, TokenizerError> {
        for name in ["spiece.model", "tokenizer.json"] {
            let path = dir.join(name);
            if path.is_file() {
                return Self::from_file(&path);
            }
        }
        Err(TokenizerError::Io {
            path: dir.display().to_string(),
            reason: "neither spiece.model nor tokenizer.json found in this directory".into(),
        })
    }

    /// Total number of ids: sentencepiece pieces plus sentinels.
    pub fn vocab_size(&self) -> usize {
        self.unigram.len() + self.extra_ids as usize
    }

    /// Number of sentencepiece pieces (ids below this are sentencepiece's own).
    pub fn sentencepiece_size(&self) -> usize {
        self.unigram.len()
    }

    /// Number of sentinel tokens.
    pub fn extra_ids(&self) -> usize {
        self.extra_ids as usize
    }

    /// The EOS id (`trainer_spec.eos_id`; if the model has none, the unk id, which is what
    /// HF resolves `</s>` to then).
    pub fn eos_id(&self) -> u32 {
        self.eos_id.unwrap_or(self.unk_id)
    }

    /// The padding id (`trainer_spec.pad_id`; if the model has none, the unk id, as HF
    /// resolves `<pad>` then). For T5/T0 it is 0, also the decoder start id.
    pub fn pad_id(&self) -> u32 {
        self.pad_id.unwrap_or(self.unk_id)
    }

    /// The id of the unknown piece.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// The id of sentinel `<extra_id_n>`, if `n < extra_ids`.
    pub fn sentinel_id(&self, n: usize) -> Option<u32> {
        (n < self.extra_ids as usize).then(|| (self.vocab_size() - 1 - n) as u32)
    }

    /// The piece text of `id` (`<extra_id_N>` for sentinels).
    pub fn id_to_piece(&self, id: u32) -> Option<&str> {
        if let Some(p) = self.unigram.piece(id) {
            return Some(p);
        }
        let n = (self.vocab_size() as u64).checked_sub(1 + u64::from(id))?;
        let &(a, b) = self.sentinel_spans.get(n as usize)?;
        self.sentinel_text.get(a as usize..b as usize)
    }

    /// The id of a piece, sentinels included; `None` if it is not in the vocabulary.
    pub fn piece_to_id(&self, piece: &str) -> Option<u32> {
        if let Some(n) = parse_sentinel(piece)
            && let Some(id) = self.sentinel_id(n)
        {
            return Some(id);
        }
        self.unigram.piece_to_id(piece)
    }

    /// The text sentencepiece feeds its segmenter: normalised, with `▁` for spaces.
    pub fn normalize(&self, text: &str) -> String {
        let mut out = Vec::new();
        self.normalizer.normalize_into(text, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Encodes `text` as HF `T5Tokenizer` (legacy) does: special tokens in the text are
    /// recognised, the rest is encoded by sentencepiece; EOS appended if `add_eos` (and the
    /// ids do not already end with it). See the module docs.
    pub fn encode(&self, text: &str, add_eos: bool) -> Vec<u32> {
        self.encode_impl(text, add_eos, None)
    }

    /// The pieces of [`Tokenizer::encode`] (without EOS): vocabulary pieces, `<extra_id_N>`
    /// and other special tokens as their text, runs of unknown characters as their
    /// normalised text, byte-fallback bytes as `<0xXX>`.
    pub fn encode_pieces(&self, text: &str) -> Vec<String> {
        self.encode_with_pieces(text, false).1
    }

    /// [`Tokenizer::encode`] and [`Tokenizer::encode_pieces`] in one pass (one piece per id).
    pub fn encode_with_pieces(&self, text: &str, add_eos: bool) -> (Vec<u32>, Vec<String>) {
        let mut pieces = Vec::new();
        let ids = self.encode_impl(text, add_eos, Some(&mut pieces));
        (ids, pieces)
    }

    /// Plain sentencepiece `EncodeAsIds`: no special tokens recognised, no EOS.
    pub fn encode_plain(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut scratch = Scratch::default();
        self.encode_sp(text, &mut ids, None, &mut scratch);
        ids
    }

    /// [`Tokenizer::encode_plain`] with its pieces (sentencepiece's `EncodeAsPieces`).
    pub fn encode_plain_with_pieces(&self, text: &str) -> (Vec<u32>, Vec<String>) {
        let mut ids = Vec::new();
        let mut pieces = Vec::new();
        let mut scratch = Scratch::default();
        self.encode_sp(text, &mut ids, Some(&mut pieces), &mut scratch);
        (ids, pieces)
    }

    fn encode_impl(
        &self,
        text: &str,
        add_eos: bool,
        mut pieces: Option<&mut Vec<String>>,
    ) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut scratch = Scratch::default();
        let chunks = self.split_specials(text);
        for (i, chunk) in chunks.iter().enumerate() {
            match *chunk {
                Chunk::Special { id, .. } => {
                    ids.push(id);
                    if let Some(p) = pieces.as_deref_mut() {
                        p.push(self.id_to_piece(id).unwrap_or_default().to_string());
                    }
                }
                Chunk::Text(mut t) => {
                    if i > 0 && matches!(chunks[i - 1], Chunk::Special { strip: true, .. }) {
                        t = t.trim_start_matches(py_isspace);
                    }
                    if matches!(chunks.get(i + 1), Some(Chunk::Special { strip: true, .. })) {
                        t = t.trim_end_matches(py_isspace);
                    }
                    if !t.is_empty() {
                        self.encode_sp(t, &mut ids, pieces.as_deref_mut(), &mut scratch);
                    }
                }
            }
        }
        if add_eos {
            let eos = self.eos_id();
            if ids.last() != Some(&eos) {
                ids.push(eos);
                if let Some(p) = pieces {
                    p.push(self.id_to_piece(eos).unwrap_or_default().to_string());
                }
            }
        }
        ids
    }

    /// Splits `text` around special tokens (leftmost-longest).
    fn split_specials<'t>(&self, text: &'t str) -> Vec<Chunk<'t>> {
        let mut chunks = Vec::new();
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if self.special_first[bytes[i] as usize]
                && let Some((len, id, strip)) = self.match_special(&text[i..])
            {
                if i > start {
                    chunks.push(Chunk::Text(&text[start..i]));
                }
                chunks.push(Chunk::Special { id, strip });
                i += len;
                start = i;
                continue;
            }
            i += 1;
        }
        if start < bytes.len() {
            chunks.push(Chunk::Text(&text[start..]));
        }
        chunks
    }

    /// The longest special token at the start of `rest`: (length, id, strips whitespace).
    /// Only called at char boundaries (special tokens start with an ASCII or lead byte).
    fn match_special(&self, rest: &str) -> Option<(usize, u32, bool)> {
        let mut best: Option<(usize, u32, bool)> = None;
        if let Some(digits) = rest.strip_prefix("<extra_id_") {
            let n_digits = digits
                .bytes()
                .take(6)
                .take_while(u8::is_ascii_digit)
                .count();
            if n_digits > 0 && n_digits <= 5 && digits.as_bytes().get(n_digits) == Some(&b'>') {
                let num = &digits[..n_digits];
                if (num == "0" || !num.starts_with('0'))
                    && let Some(id) = num.parse::<usize>().ok().and_then(|n| self.sentinel_id(n))
                {
                    best = Some(("<extra_id_>".len() + n_digits, id, true));
                }
            }
        }
        for (s, id) in &self.specials {
            if best.is_some_and(|b| b.0 >= s.len()) {
                break; // sorted longest first
            }
            if rest.starts_with(s.as_str()) {
                best = Some((s.len(), *id, false));
                break;
            }
        }
        best
    }

    /// Plain sentencepiece encoding of `text`, appended to `ids` (and `pieces`).
    fn encode_sp(
        &self,
        text: &str,
        ids: &mut Vec<u32>,
        mut pieces: Option<&mut Vec<String>>,
        s: &mut Scratch,
    ) {
        self.normalizer.normalize_into(text, &mut s.normalized);
        s.segments.clear();
        self.unigram
            .viterbi(&s.normalized, &mut s.best, &mut s.segments);
        let norm = &s.normalized[..];
        let slice = |seg: &Segment| {
            String::from_utf8_lossy(&norm[seg.start as usize..seg.end as usize]).into_owned()
        };
        let mut prev_unk = false;
        for seg in &s.segments {
            let is_unk = seg.id == self.unk_id;
            if is_unk && self.unigram.byte_fallback {
                for &b in &norm[seg.start as usize..seg.end as usize] {
                    let id = self.unigram.byte_id(b).unwrap_or(self.unk_id);
                    ids.push(id);
                    if let Some(p) = pieces.as_deref_mut() {
                        p.push(self.id_to_piece(id).unwrap_or_default().to_string());
                    }
                }
            } else if is_unk && prev_unk {
                if let Some(last) = pieces.as_deref_mut().and_then(|p| p.last_mut()) {
                    last.push_str(&slice(seg));
                }
            } else {
                ids.push(seg.id);
                if let Some(p) = pieces.as_deref_mut() {
                    p.push(slice(seg));
                }
            }
            prev_unk = is_unk;
        }
    }

    /// Decodes ids as HF `T5Tokenizer.decode(ids, skip_special_tokens=True)` (without
    /// clean-up): control ids, unk and sentinels dropped, spaces restored, surrounding
    /// whitespace trimmed. Ids outside the vocabulary are skipped. See the module docs.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut text = String::new();
        let mut dec = SpDecoder::default();
        let mut first = true;
        for &id in ids {
            if let Some(item) = self.hf_item(id, first) {
                first = false;
                dec.push(self, &item, &mut text);
            }
        }
        dec.flush(&mut text);
        text.trim_matches(py_isspace).to_string()
    }

    /// A streaming decoder: feed ids one at a time, get text as soon as it is final.
    /// The concatenation of everything it returns equals [`Tokenizer::decode`] of all ids.
    pub fn decode_stream(&self) -> DecodeStream<'_> {
        DecodeStream {
            tok: self,
            dec: SpDecoder::default(),
            first: true,
            started: false,
            held: String::new(),
        }
    }

    /// How HF's decode (skip_special_tokens) sees `id`: `None` if it is dropped. The first
    /// kept token loses its `▁` (HF's `add_prefix_space`) and the rest is looked up again
    /// by sentencepiece.
    fn hf_item(&self, id: u32, first: bool) -> Option<DecodeItem<'_>> {
        let kind = self.unigram.kind(id)?;
        if matches!(kind, PieceKind::Control | PieceKind::Unknown) {
            return None;
        }
        if first && let Some(stripped) = self.unigram.piece(id)?.strip_prefix('\u{2581}') {
            return Some(self.lookup_decode_item(stripped));
        }
        Some(self.item_for_id(id))
    }

    /// [`Tokenizer::decode`], but an id outside the vocabulary is an error.
    pub fn try_decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.vocab_size()) {
            return Err(TokenizerError::InvalidId {
                id,
                vocab_size: self.vocab_size(),
            });
        }
        Ok(self.decode(ids))
    }

    /// Plain sentencepiece `DecodeIds`: control ids vanish, the unk id becomes the unk
    /// surface (`" ⁇ "`), sentinels appear as `<extra_id_N>`, and leading whitespace is
    /// removed as sentencepiece does; nothing is trimmed at the end. Ids outside the
    /// vocabulary are skipped.
    pub fn decode_sentencepiece(&self, ids: &[u32]) -> String {
        let items: Vec<DecodeItem<'_>> = ids
            .iter()
            .filter(|&&id| (id as usize) < self.vocab_size())
            .map(|&id| self.item_for_id(id))
            .collect();
        self.sp_decode(&items)
    }

    fn item_for_id(&self, id: u32) -> DecodeItem<'_> {
        match self.unigram.kind(id) {
            Some(PieceKind::Byte(b)) => DecodeItem::Byte(b),
            Some(PieceKind::Control) => DecodeItem::Control,
            Some(PieceKind::Unknown) => DecodeItem::Unk,
            _ => DecodeItem::Text(self.id_to_piece(id).unwrap_or_default()),
        }
    }

    /// How sentencepiece's `DecodePieces` treats a piece given as text.
    fn lookup_decode_item<'a>(&'a self, piece: &'a str) -> DecodeItem<'a> {
        match self.unigram.piece_to_id(piece) {
            Some(id) => match self.item_for_id(id) {
                DecodeItem::Text(_) => DecodeItem::Text(piece),
                other => other,
            },
            None => DecodeItem::Verbatim(piece),
        }
    }

    /// sentencepiece's `Decode` over a piece sequence.
    fn sp_decode(&self, items: &[DecodeItem<'_>]) -> String {
        let mut text = String::new();
        let mut dec = SpDecoder::default();
        for item in items {
            dec.push(self, item, &mut text);
        }
        dec.flush(&mut text);
        text
    }
}

/// sentencepiece's `Decode` loop as a state machine: byte pieces are collected and turned
/// into UTF-8 when a non-byte piece (or the end) comes; leading `▁` are removed while
/// nothing has been produced (all of them with `remove_extra_whitespaces`, else one).
struct SpDecoder {
    bytes: Vec<u8>,
    is_bos_ws: bool,
    bos_ws_seen: bool,
    produced: bool,
}

impl Default for SpDecoder {
    fn default() -> Self {
        Self {
            bytes: Vec::new(),
            is_bos_ws: true,
            bos_ws_seen: false,
            produced: false,
        }
    }
}

impl SpDecoder {
    fn push(&mut self, tok: &Tokenizer, item: &DecodeItem<'_>, out: &mut String) {
        if let DecodeItem::Byte(b) = item {
            self.bytes.push(*b);
            return;
        }
        self.flush(out);
        if self.bos_ws_seen || self.produced {
            self.is_bos_ws = false;
        }
        self.bos_ws_seen = false;
        let before = out.len();
        match item {
            DecodeItem::Control | DecodeItem::Byte(_) => {}
            DecodeItem::Unk => out.push_str(&tok.unk_surface),
            DecodeItem::Verbatim(p) => out.push_str(p),
            DecodeItem::Text(p) => {
                let n = &tok.normalizer;
                let mut p = *p;
                if self.is_bos_ws
                    && (n.add_dummy_prefix || n.remove_extra_whitespaces)
                    && let Some(rest) = p.strip_prefix('\u{2581}')
                {
                    p = rest;
                    self.bos_ws_seen = !n.remove_extra_whitespaces;
                }
                for c in p.chars() {
                    out.push(if c == '\u{2581}' { ' ' } else { c });
                }
            }
        }
        self.produced |= out.len() > before;
    }

    /// Turns all pending bytes into text.
    fn flush(&mut self, out: &mut String) {
        let before = out.len();
        flush_bytes(&mut self.bytes, out);
        self.produced |= out.len() > before;
    }

    /// Turns the pending bytes that already form complete, valid characters into text
    /// (the left-to-right decoding of those cannot change when more bytes come).
    fn flush_complete(&mut self, out: &mut String) {
        let mut i = 0;
        while let Some(len) = spm_valid_utf8_len(&self.bytes[i..]) {
            out.push_str(core::str::from_utf8(&self.bytes[i..i + len]).unwrap_or("\u{fffd}"));
            i += len;
        }
        if i > 0 {
            self.bytes.drain(..i);
            self.produced = true;
        }
    }
}

/// Incremental decoding (see [`Tokenizer::decode_stream`]). Text is returned once it is
/// final: whitespace at the end is held back until something follows it (decode trims
/// it), and bytes of an unfinished UTF-8 character wait for the rest.
pub struct DecodeStream<'t> {
    tok: &'t Tokenizer,
    dec: SpDecoder,
    first: bool,
    started: bool,
    held: String,
}

impl DecodeStream<'_> {
    /// Adds one id and returns the text that became final (often empty).
    pub fn push(&mut self, id: u32) -> String {
        let mut raw = String::new();
        if let Some(item) = self.tok.hf_item(id, self.first) {
            self.first = false;
            self.dec.push(self.tok, &item, &mut raw);
            self.dec.flush_complete(&mut raw);
        }
        self.emit(&raw)
    }

    /// Ends the stream and returns the remaining text.
    pub fn finish(mut self) -> String {
        let mut raw = String::new();
        self.dec.flush(&mut raw);
        self.emit(&raw)
    }

    fn emit(&mut self, raw: &str) -> String {
        let mut out = String::new();
        for c in raw.chars() {
            if py_isspace(c) {
                if self.started {
                    self.held.push(c);
                }
            } else {
                out.push_str(&self.held);
                self.held.clear();
                out.push(c);
                self.started = true;
            }
        }
        out
    }
}

/// Reusable buffers for one encode call.
#[derive(Default)]
struct Scratch {
    normalized: Vec<u8>,
    best: Vec<BestNode>,
    segments: Vec<Segment>,
}

/// `<extra_id_N>` → N (canonical decimal only).
fn parse_sentinel(piece: &str) -> Option<usize> {
    let num = piece.strip_prefix("<extra_id_")?.strip_suffix('>')?;
    if num.is_empty() || num.len() > 5 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if num.len() > 1 && num.starts_with('0') {
        return None;
    }
    num.parse().ok()
}
