//! The tokenizer's error type.

use alloc::string::String;
use core::fmt;

/// Why a tokenizer could not be loaded, or why an operation on one failed.
///
/// Load errors name the field (protobuf or JSON path) or the piece that is wrong, so a
/// malformed `spiece.model` / `tokenizer.json` can be diagnosed without a debugger.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TokenizerError {
    /// The protobuf bytes are malformed (truncated field, bad varint, bad wire type).
    Proto {
        /// The protobuf message or field being read, e.g. `ModelProto.pieces`.
        field: &'static str,
        /// Byte offset in the input where the problem was found.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A string field is not valid UTF-8.
    InvalidUtf8 {
        /// The field, e.g. `SentencePiece.piece`.
        field: &'static str,
    },
    /// `trainer_spec.model_type` is not UNIGRAM (only unigram models are supported).
    UnsupportedModelType {
        /// The raw enum value (2 = BPE, 3 = WORD, 4 = CHAR).
        model_type: i32,
    },
    /// The model uses a sentencepiece feature this reader does not implement.
    Unsupported {
        /// The feature, e.g. `trainer_spec.treat_whitespace_as_suffix`.
        feature: &'static str,
    },
    /// The model has no pieces.
    EmptyVocab,
    /// A piece is the empty string.
    EmptyPiece {
        /// Its id.
        id: usize,
    },
    /// A piece has an unknown `type` value.
    InvalidPieceType {
        /// Its id.
        id: usize,
        /// The raw enum value.
        value: i32,
    },
    /// Two pieces have the same text.
    DuplicatePiece {
        /// The piece text.
        piece: String,
        /// The first id.
        first: usize,
        /// The second id.
        second: usize,
    },
    /// A piece's score is NaN or infinite.
    NonFiniteScore {
        /// The piece text.
        piece: String,
        /// Its id.
        id: usize,
    },
    /// No piece has type UNKNOWN.
    NoUnknownPiece,
    /// More than one piece has type UNKNOWN.
    MultipleUnknownPieces {
        /// The first one's id.
        first: usize,
        /// The second one's id.
        second: usize,
    },
    /// A special id in `trainer_spec` (unk/bos/eos/pad) is outside the vocabulary or
    /// disagrees with the piece types.
    BadSpecialId {
        /// The field, e.g. `trainer_spec.unk_id`.
        field: &'static str,
        /// The id found.
        id: i64,
        /// The number of pieces.
        vocab_size: usize,
    },
    /// A BYTE piece is invalid, or byte fallback is inconsistent with the pieces.
    BytePieces {
        /// What is wrong.
        reason: String,
    },
    /// The precompiled charsmap (normalisation rules) is malformed.
    Charsmap {
        /// What is wrong.
        reason: &'static str,
    },
    /// A token id is outside the vocabulary (including sentinels).
    InvalidId {
        /// The id.
        id: u32,
        /// The vocabulary size.
        vocab_size: usize,
    },
    /// The number of sentinel (extra) ids requested is too large.
    TooManyExtraIds {
        /// The count requested.
        requested: usize,
    },
    /// A `tokenizer.json` is malformed or describes something other than a
    /// sentencepiece-style Unigram tokenizer.
    Json {
        /// The JSON path, e.g. `model.vocab[3]`.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read, or holds neither a `spiece.model` nor a `tokenizer.json`.
    Io {
        /// The path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proto {
                field,
                offset,
                reason,
            } => write!(
                f,
                "malformed model protobuf in {field} at byte {offset}: {reason}"
            ),
            Self::InvalidUtf8 { field } => write!(f, "{field} is not valid UTF-8"),
            Self::UnsupportedModelType { model_type } => {
                let name = match model_type {
                    2 => "BPE",
                    3 => "WORD",
                    4 => "CHAR",
                    _ => "unknown",
                };
                write!(
                    f,
                    "unsupported sentencepiece model type {model_type} ({name}): only UNIGRAM models (T5, T0) are supported"
                )
            }
            Self::Unsupported { feature } => {
                write!(f, "unsupported sentencepiece feature: {feature}")
            }
            Self::EmptyVocab => write!(f, "the model has no pieces"),
            Self::EmptyPiece { id } => write!(f, "piece {id} is empty"),
            Self::InvalidPieceType { id, value } => {
                write!(f, "piece {id} has an invalid type {value}")
            }
            Self::DuplicatePiece {
                piece,
                first,
                second,
            } => write!(
                f,
                "piece {piece:?} is defined twice (ids {first} and {second})"
            ),
            Self::NonFiniteScore { piece, id } => {
                write!(f, "piece {piece:?} (id {id}) has a NaN or infinite score")
            }
            Self::NoUnknownPiece => write!(
                f,
                "no piece has type UNKNOWN (the model needs an unk piece)"
            ),
            Self::MultipleUnknownPieces { first, second } => {
                write!(f, "pieces {first} and {second} both have type UNKNOWN")
            }
            Self::BadSpecialId {
                field,
                id,
                vocab_size,
            } => write!(
                f,
                "{field} = {id} is invalid for a vocabulary of {vocab_size} pieces"
            ),
            Self::BytePieces { reason } => write!(f, "byte pieces: {reason}"),
            Self::Charsmap { reason } => {
                write!(
                    f,
                    "normalizer_spec.precompiled_charsmap is malformed: {reason}"
                )
            }
            Self::InvalidId { id, vocab_size } => {
                write!(
                    f,
                    "token id {id} is outside the vocabulary of {vocab_size} ids"
                )
            }
            Self::TooManyExtraIds { requested } => {
                write!(
                    f,
                    "{requested} extra (sentinel) ids requested; at most 10000 are allowed"
                )
            }
            Self::Json { path, reason } => write!(f, "tokenizer.json: {path}: {reason}"),
            Self::Io { path, reason } => write!(f, "{path}: {reason}"),
        }
    }
}

impl core::error::Error for TokenizerError {}
