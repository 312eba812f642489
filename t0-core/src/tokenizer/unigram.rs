//! The unigram model: vocabulary, piece types, and the Viterbi segmentation of
//! sentencepiece's `unigram_model.cc` (`EncodeOptimized`).
//!
//! Viterbi runs over the bytes of the normalised text. For every character start, all
//! vocabulary pieces that begin there are found by walking the trie; each candidate updates
//! the best path ending at its end when its total score is *strictly* greater, so on ties the
//! candidate seen first wins (earlier start, then shorter piece). Scores are combined exactly
//! as the C++ does: the piece score is widened to `f64` (the conditional expression there is
//! a `double`), added to the `f32` best score so far, compared in `f64` and stored as `f32`.
//! User-defined pieces score `len_bytes * max_score - 0.1`; unused pieces are skipped; where
//! no single-character piece starts at a position, an unknown node of one character with
//! score `min_score - 10` (in `f32`) is added.

use alloc::string::String;
use alloc::vec::Vec;

use super::error::TokenizerError;
use super::normalizer::one_char_len;
use super::proto::{PieceProto, piece_type};
use super::trie::Trie;

/// What kind of piece an id is (`ModelProto.SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PieceKind {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte(u8),
}

/// Penalty of an unknown node below the lowest piece score.
const UNK_PENALTY: f32 = 10.0;

/// One step of the best path: the piece `[start, end)` of the normalised bytes and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub start: u32,
    pub end: u32,
    pub id: u32,
}

/// The best path ending at one byte position (scratch for [`Unigram::viterbi`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BestNode {
    score: f32,
    start: u32,
    id: u32,
}

const NO_START: u32 = u32::MAX;

/// The vocabulary and scoring of a unigram model.
#[derive(Debug, Clone)]
pub(crate) struct Unigram {
    text: String,
    spans: Vec<(u32, u32)>,
    pub(crate) kinds: Vec<PieceKind>,
    scores: Vec<f32>,
    /// Normal, user-defined and unused pieces (the ones the segmenter may match).
    trie: Trie,
    /// Ids of the control, unknown and byte pieces, sorted by text (for `piece_to_id`).
    reserved: Vec<u32>,
    pub(crate) unk_id: u32,
    min_score: f32,
    max_score: f32,
    pub(crate) byte_fallback: bool,
    byte_ids: Vec<u32>,
    pub(crate) has_user_defined: bool,
}

/// Parses `<0xXX>` (upper-case hex, as sentencepiece writes it).
fn byte_piece_value(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

impl Unigram {
    /// Builds the model from the parsed pieces, with the checks of sentencepiece's
    /// `InitializePieces` plus ours (duplicates anywhere, NaN scores).
    pub(crate) fn new(
        pieces: &[PieceProto<'_>],
        byte_fallback: bool,
    ) -> Result<Self, TokenizerError> {
        if pieces.is_empty() {
            return Err(TokenizerError::EmptyVocab);
        }
        if pieces.len() > u32::MAX as usize / 2 {
            return Err(TokenizerError::Proto {
                field: "ModelProto.pieces",
                offset: 0,
                reason: "too many pieces",
            });
        }
        let total: usize = pieces.iter().map(|p| p.piece.len()).sum();
        let mut text = String::with_capacity(total);
        let mut spans = Vec::with_capacity(pieces.len());
        let mut kinds = Vec::with_capacity(pieces.len());
        let mut scores = Vec::with_capacity(pieces.len());
        let mut unk_id: Option<usize> = None;
        let mut byte_ids = if byte_fallback {
            alloc::vec![u32::MAX; 256]
        } else {
            Vec::new()
        };
        let mut min_score = f32::MAX;
        let mut max_score = f32::MIN_POSITIVE;
        let mut has_user_defined = false;
        for (id, p) in pieces.iter().enumerate() {
            let s = core::str::from_utf8(p.piece).map_err(|_| TokenizerError::InvalidUtf8 {
                field: "ModelProto.pieces.piece",
            })?;
            if s.is_empty() {
                return Err(TokenizerError::EmptyPiece { id });
            }
            if !p.score.is_finite() {
                return Err(TokenizerError::NonFiniteScore {
                    piece: s.into(),
                    id,
                });
            }
            let kind = match p.kind {
                piece_type::NORMAL => {
                    min_score = min_score.min(p.score);
                    max_score = max_score.max(p.score);
                    PieceKind::Normal
                }
                piece_type::UNKNOWN => {
                    if let Some(first) = unk_id {
                        return Err(TokenizerError::MultipleUnknownPieces { first, second: id });
                    }
                    unk_id = Some(id);
                    PieceKind::Unknown
                }
                piece_type::CONTROL => PieceKind::Control,
                piece_type::USER_DEFINED => {
                    has_user_defined = true;
                    PieceKind::UserDefined
                }
                piece_type::UNUSED => PieceKind::Unused,
                piece_type::BYTE => {
                    if !byte_fallback {
                        return Err(TokenizerError::BytePieces {
                            reason: alloc::format!(
                                "byte piece {s:?} found although trainer_spec.byte_fallback is false"
                            ),
                        });
                    }
                    let b = byte_piece_value(s).ok_or_else(|| TokenizerError::BytePieces {
                        reason: alloc::format!("invalid byte piece {s:?}"),
                    })?;
                    byte_ids[b as usize] = id as u32;
                    PieceKind::Byte(b)
                }
                value => return Err(TokenizerError::InvalidPieceType { id, value }),
            };
            let start = text.len() as u32;
            text.push_str(s);
            spans.push((start, text.len() as u32));
            kinds.push(kind);
            scores.push(p.score);
        }
        let unk_id = unk_id.ok_or(TokenizerError::NoUnknownPiece)? as u32;
        if byte_fallback && byte_ids.contains(&u32::MAX) {
            return Err(TokenizerError::BytePieces {
                reason: "byte_fallback is true but not all 256 byte pieces <0x00>..<0xFF> exist"
                    .into(),
            });
        }
        // Duplicate check over all pieces: sort ids by text.
        let piece = |id: u32| {
            let (a, b) = spans[id as usize];
            &text.as_bytes()[a as usize..b as usize]
        };
        let mut order: Vec<u32> = (0..pieces.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| piece(a).cmp(piece(b)).then(a.cmp(&b)));
        for w in order.windows(2) {
            if piece(w[0]) == piece(w[1]) {
                return Err(TokenizerError::DuplicatePiece {
                    piece: String::from_utf8_lossy(piece(w[0])).into_owned(),
                    first: w[0] as usize,
                    second: w[1] as usize,
                });
            }
        }
        let matchable = |k: PieceKind| {
            matches!(
                k,
                PieceKind::Normal | PieceKind::UserDefined | PieceKind::Unused
            )
        };
        let entries: Vec<(&[u8], u32)> = (0..pieces.len() as u32)
            .filter(|&id| matchable(kinds[id as usize]))
            .map(|id| (piece(id), id))
            .collect();
        let trie = Trie::build(&entries);
        // `order` is sorted by text, so the filtered ids stay sorted.
        let reserved: Vec<u32> = order
            .into_iter()
            .filter(|&id| !matchable(kinds[id as usize]))
            .collect();
        Ok(Self {
            text,
            spans,
            kinds,
            scores,
            trie,
            reserved,
            unk_id,
            min_score,
            max_score,
            byte_fallback,
            byte_ids,
            has_user_defined,
        })
    }

    /// Number of pieces.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The text of piece `id`.
    pub(crate) fn piece(&self, id: u32) -> Option<&str> {
        let &(a, b) = self.spans.get(id as usize)?;
        self.text.get(a as usize..b as usize)
    }

    /// The kind of piece `id`.
    pub(crate) fn kind(&self, id: u32) -> Option<PieceKind> {
        self.kinds.get(id as usize).copied()
    }

    /// The id of the piece with text `piece`.
    pub(crate) fn piece_to_id(&self, piece: &str) -> Option<u32> {
        if let Ok(i) = self
            .reserved
            .binary_search_by(|&id| self.piece(id).unwrap_or("").cmp(piece))
        {
            return Some(self.reserved[i]);
        }
        self.trie.get(piece.as_bytes())
    }

    /// The id of byte piece `<0xXX>` (byte-fallback models only).
    pub(crate) fn byte_id(&self, b: u8) -> Option<u32> {
        self.byte_ids.get(b as usize).copied()
    }

    /// The user-defined pieces, for the normalizer's pass-through matcher.
    pub(crate) fn user_defined_trie(&self) -> Option<Trie> {
        if !self.has_user_defined {
            return None;
        }
        let entries: Vec<(&[u8], u32)> = (0..self.len() as u32)
            .filter(|&id| self.kinds[id as usize] == PieceKind::UserDefined)
            .filter_map(|id| Some((self.piece(id)?.as_bytes(), id)))
            .collect();
        Some(Trie::build(&entries))
    }

    /// The best segmentation of the normalised bytes `s` (sentencepiece's
    /// `EncodeOptimized`), appended to `out` in order. `best` is scratch space reused between calls.
    pub(crate) fn viterbi(&self, s: &[u8], best: &mut Vec<BestNode>, out: &mut Vec<Segment>) {
        let n = s.len();
        if n == 0 {
            return;
        }
        best.clear();
        best.resize(
            n + 1,
            BestNode {
                score: 0.0,
                start: NO_START,
                id: 0,
            },
        );
        let unk_score = self.min_score - UNK_PENALTY;
        let trie = &self.trie;
        let mut starts_at = 0usize;
        while starts_at < n {
            let till_here = best[starts_at].score;
            let mblen = one_char_len(s[starts_at]).min(n - starts_at);
            let mut has_single_node = false;
            let mut node = trie.root();
            let mut key_pos = starts_at;
            while key_pos < n {
                match trie.child(node, s[key_pos]) {
                    Some(next) => node = next,
                    None => break,
                }
                key_pos += 1;
                let Some(id) = trie.value(node) else {
                    continue;
                };
                let length = key_pos - starts_at;
                let score: f64 = match self.kinds[id as usize] {
                    PieceKind::Unused => continue,
                    PieceKind::UserDefined => f64::from(length as f32 * self.max_score) - 0.1,
                    _ => f64::from(self.scores[id as usize]),
                };
                let candidate = score + f64::from(till_here);
                let target = &mut best[key_pos];
                if target.start == NO_START || candidate > f64::from(target.score) {
                    *target = BestNode {
                        score: candidate as f32,
                        start: starts_at as u32,
                        id,
                    };
                }
                if length == mblen {
                    has_single_node = true;
                }
            }
            if !has_single_node {
                let target = &mut best[starts_at + mblen];
                let candidate = unk_score + till_here;
                if target.start == NO_START || candidate > target.score {
                    *target = BestNode {
                        score: candidate,
                        start: starts_at as u32,
                        id: self.unk_id,
                    };
                }
            }
            starts_at += mblen;
        }
        let first = out.len();
        let mut end = n;
        while end > 0 {
            let node = best[end];
            out.push(Segment {
                start: node.start,
                end: end as u32,
                id: node.id,
            });
            end = node.start as usize;
        }
        out[first..].reverse();
    }
}
