//! A small protobuf reader for sentencepiece's `ModelProto` (`spiece.model`).
//!
//! Only the fields that affect encoding and decoding are kept; everything else is skipped by
//! wire type. Every length is checked against the bytes that remain before it is used, so no
//! allocation is ever sized by an untrusted number. Semantics follow protobuf: the last value
//! of a singular scalar wins, repeated occurrences of a singular message are merged, and
//! absent fields take the defaults declared in `sentencepiece_model.proto`.

use alloc::vec::Vec;

use super::error::TokenizerError;

/// `ModelProto.SentencePiece.Type` values.
pub(crate) mod piece_type {
    pub const NORMAL: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const CONTROL: i32 = 3;
    pub const USER_DEFINED: i32 = 4;
    pub const UNUSED: i32 = 5;
    pub const BYTE: i32 = 6;
}

/// One `ModelProto.SentencePiece`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PieceProto<'a> {
    pub piece: &'a [u8],
    pub score: f32,
    pub kind: i32,
}

/// The fields of `TrainerSpec` that matter at encode/decode time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrainerSpecProto<'a> {
    pub model_type: i32,
    pub unk_id: i32,
    pub unk_id_present: bool,
    pub bos_id: i32,
    pub eos_id: i32,
    pub pad_id: i32,
    pub byte_fallback: bool,
    pub treat_whitespace_as_suffix: bool,
    pub unk_surface: Option<&'a [u8]>,
}

impl Default for TrainerSpecProto<'_> {
    fn default() -> Self {
        // Defaults from sentencepiece_model.proto.
        Self {
            model_type: 1,
            unk_id: 0,
            unk_id_present: false,
            bos_id: 1,
            eos_id: 2,
            pad_id: -1,
            byte_fallback: false,
            treat_whitespace_as_suffix: false,
            unk_surface: None,
        }
    }
}

/// The fields of `NormalizerSpec` that matter at encode time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NormalizerSpecProto<'a> {
    pub precompiled_charsmap: &'a [u8],
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
    pub escape_whitespaces: bool,
}

impl Default for NormalizerSpecProto<'_> {
    fn default() -> Self {
        Self {
            precompiled_charsmap: &[],
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        }
    }
}

/// The parts of `ModelProto` the tokenizer uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelProto<'a> {
    pub pieces: Vec<PieceProto<'a>>,
    pub trainer_spec: TrainerSpecProto<'a>,
    pub normalizer_spec: NormalizerSpecProto<'a>,
    /// Whether `denormalizer_spec` carries a non-empty charsmap (unsupported).
    pub has_denormalizer: bool,
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// A cursor over protobuf wire-format bytes. `base` is the offset of `buf` in the whole
/// input, for error messages.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    field: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize, field: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            field,
        }
    }

    fn err(&self, reason: &'static str) -> TokenizerError {
        TokenizerError::Proto {
            field: self.field,
            offset: self.base + self.pos,
            reason,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, TokenizerError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err("truncated varint"));
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    /// Reads a field key: (field number, wire type).
    fn key(&mut self) -> Result<(u64, u8), TokenizerError> {
        let k = self.varint()?;
        let field = k >> 3;
        if field == 0 {
            return Err(self.err("field number 0"));
        }
        Ok((field, (k & 7) as u8))
    }

    fn len_delimited(&mut self) -> Result<(&'a [u8], usize), TokenizerError> {
        let len = self.varint()?;
        let start = self.pos;
        let remaining = self.buf.len() - start;
        if len > remaining as u64 {
            return Err(self.err("length-delimited field runs past the end of its message"));
        }
        let len = len as usize;
        self.pos = start + len;
        Ok((&self.buf[start..start + len], self.base + start))
    }

    fn fixed32(&mut self) -> Result<u32, TokenizerError> {
        let Some(bytes) = self.buf.get(self.pos..self.pos + 4) else {
            return Err(self.err("truncated fixed32"));
        };
        self.pos += 4;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn skip(&mut self, wire: u8) -> Result<(), TokenizerError> {
        match wire {
            WIRE_VARINT => {
                self.varint()?;
            }
            WIRE_FIXED64 => {
                if self.buf.len() - self.pos < 8 {
                    return Err(self.err("truncated fixed64"));
                }
                self.pos += 8;
            }
            WIRE_LEN => {
                self.len_delimited()?;
            }
            WIRE_FIXED32 => {
                self.fixed32()?;
            }
            _ => return Err(self.err("unsupported wire type (groups are not used by ModelProto)")),
        }
        Ok(())
    }

    /// Reads an int32/enum varint (negative values are sign-extended to 10 bytes on the
    /// wire; protobuf truncates to 32 bits).
    fn int32(&mut self, wire: u8) -> Result<i32, TokenizerError> {
        self.expect(wire, WIRE_VARINT)?;
        Ok(self.varint()? as i32)
    }

    fn boolean(&mut self, wire: u8) -> Result<bool, TokenizerError> {
        self.expect(wire, WIRE_VARINT)?;
        Ok(self.varint()? != 0)
    }

    fn float(&mut self, wire: u8) -> Result<f32, TokenizerError> {
        self.expect(wire, WIRE_FIXED32)?;
        Ok(f32::from_bits(self.fixed32()?))
    }

    fn bytes(&mut self, wire: u8) -> Result<(&'a [u8], usize), TokenizerError> {
        self.expect(wire, WIRE_LEN)?;
        self.len_delimited()
    }

    fn expect(&self, wire: u8, want: u8) -> Result<(), TokenizerError> {
        if wire == want {
            Ok(())
        } else {
            Err(self.err("wrong wire type for a known field"))
        }
    }
}

/// Parses a serialized `ModelProto`.
pub(crate) fn parse_model(bytes: &[u8]) -> Result<ModelProto<'_>, TokenizerError> {
    let mut model = ModelProto::default();
    let mut r = Reader::new(bytes, 0, "ModelProto");
    while !r.at_end() {
        let (field, wire) = r.key()?;
        match field {
            1 => {
                let (msg, base) = r.bytes(wire)?;
                model.pieces.push(parse_piece(msg, base)?);
            }
            2 => {
                let (msg, base) = r.bytes(wire)?;
                parse_trainer_spec(msg, base, &mut model.trainer_spec)?;
            }
            3 => {
                let (msg, base) = r.bytes(wire)?;
                parse_normalizer_spec(msg, base, &mut model.normalizer_spec)?;
            }
            5 => {
                let (msg, base) = r.bytes(wire)?;
                let mut spec = NormalizerSpecProto::default();
                parse_normalizer_spec(msg, base, &mut spec)?;
                model.has_denormalizer |= !spec.precompiled_charsmap.is_empty();
            }
            _ => r.skip(wire)?,
        }
    }
    Ok(model)
}

fn parse_piece(msg: &[u8], base: usize) -> Result<PieceProto<'_>, TokenizerError> {
    let mut piece = PieceProto {
        piece: &[],
        score: 0.0,
        kind: piece_type::NORMAL,
    };
    let mut r = Reader::new(msg, base, "ModelProto.pieces");
    while !r.at_end() {
        let (field, wire) = r.key()?;
        match field {
            1 => piece.piece = r.bytes(wire)?.0,
            2 => piece.score = r.float(wire)?,
            3 => piece.kind = r.int32(wire)?,
            _ => r.skip(wire)?,
        }
    }
    Ok(piece)
}

fn parse_trainer_spec<'a>(
    msg: &'a [u8],
    base: usize,
    spec: &mut TrainerSpecProto<'a>,
) -> Result<(), TokenizerError> {
    let mut r = Reader::new(msg, base, "ModelProto.trainer_spec");
    while !r.at_end() {
        let (field, wire) = r.key()?;
        match field {
            3 => spec.model_type = r.int32(wire)?,
            24 => spec.treat_whitespace_as_suffix = r.boolean(wire)?,
            35 => spec.byte_fallback = r.boolean(wire)?,
            40 => {
                spec.unk_id = r.int32(wire)?;
                spec.unk_id_present = true;
            }
            41 => spec.bos_id = r.int32(wire)?,
            42 => spec.eos_id = r.int32(wire)?,
            43 => spec.pad_id = r.int32(wire)?,
            44 => spec.unk_surface = Some(r.bytes(wire)?.0),
            _ => r.skip(wire)?,
        }
    }
    Ok(())
}

fn parse_normalizer_spec<'a>(
    msg: &'a [u8],
    base: usize,
    spec: &mut NormalizerSpecProto<'a>,
) -> Result<(), TokenizerError> {
    let mut r = Reader::new(msg, base, "ModelProto.normalizer_spec");
    while !r.at_end() {
        let (field, wire) = r.key()?;
        match field {
            2 => spec.precompiled_charsmap = r.bytes(wire)?.0,
            3 => spec.add_dummy_prefix = r.boolean(wire)?,
            4 => spec.remove_extra_whitespaces = r.boolean(wire)?,
            5 => spec.escape_whitespaces = r.boolean(wire)?,
            _ => r.skip(wire)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn parses_pieces_and_negative_ids() {
        let mut piece = Vec::new();
        piece.extend_from_slice(&[0x0a, 1, b'a', 0x15]);
        piece.extend_from_slice(&(-1.5f32).to_le_bytes());
        piece.extend_from_slice(&[0x18, 4]);
        let mut trainer = Vec::new();
        varint(43 << 3, &mut trainer);
        varint((-1i64) as u64, &mut trainer);
        varint(42 << 3, &mut trainer);
        trainer.push(0);
        let mut model = vec![0x0a, piece.len() as u8];
        model.extend_from_slice(&piece);
        model.push(0x12);
        model.push(trainer.len() as u8);
        model.extend_from_slice(&trainer);
        // An unknown fixed64 field is skipped.
        model.push(9 << 3 | 1);
        model.extend_from_slice(&[0; 8]);
        let m = parse_model(&model).unwrap();
        assert_eq!(m.pieces.len(), 1);
        assert_eq!(m.pieces[0].piece, b"a");
        assert_eq!(m.pieces[0].score, -1.5);
        assert_eq!(m.pieces[0].kind, piece_type::USER_DEFINED);
        assert_eq!(m.trainer_spec.pad_id, -1);
        assert_eq!(m.trainer_spec.eos_id, 0);
        assert!(m.normalizer_spec.add_dummy_prefix);
    }

    #[test]
    fn rejects_truncation_and_bad_wire_types() {
        assert!(parse_model(&[0x0a, 5, 1, 2]).is_err());
        assert!(parse_model(&[0x0a]).is_err());
        assert!(parse_model(&[0x0b]).is_err()); // group start
        assert!(parse_model(&[0x08, 1]).is_err()); // pieces as varint
        assert!(parse_model(&[0x80; 11]).is_err());
        assert!(parse_model(&[]).unwrap().pieces.is_empty());
    }
}
