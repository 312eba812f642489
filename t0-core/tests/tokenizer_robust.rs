//! Robustness of the tokenizer: malformed models are load errors (never panics), encode
//! never panics on any string, and decode inverts encode where sentencepiece guarantees it.
//! (docs/robustness.md items 12–17.)

use std::path::Path;

use proptest::prelude::*;
use t0_core::tokenizer::{Tokenizer, TokenizerError, TokenizerOptions};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tokenizer")
            .join(name),
    )
    .unwrap()
}

fn t5() -> &'static Tokenizer {
    static TOK: std::sync::OnceLock<Tokenizer> = std::sync::OnceLock::new();
    TOK.get_or_init(|| Tokenizer::from_spiece_bytes(&fixture("t5style-4k.model")).unwrap())
}

// --- a tiny ModelProto writer -------------------------------------------------------------

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

fn field_bytes(field: u64, data: &[u8], out: &mut Vec<u8>) {
    varint(field << 3 | 2, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn field_varint(field: u64, v: i64, out: &mut Vec<u8>) {
    varint(field << 3, out);
    varint(v as u64, out);
}

struct Model {
    pieces: Vec<(String, f32, i64)>,
    trainer: Vec<(u64, i64)>,
    charsmap: Option<Vec<u8>>,
}

const NORMAL: i64 = 1;
const UNKNOWN: i64 = 2;
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;
const BYTE: i64 = 6;

impl Model {
    fn basic() -> Self {
        let mut pieces = vec![
            ("<pad>".to_string(), 0.0, CONTROL),
            ("</s>".to_string(), 0.0, CONTROL),
            ("<unk>".to_string(), 0.0, UNKNOWN),
        ];
        let normal = [
            ("▁", -5.0),
            ("a", -5.0),
            ("b", -5.0),
            ("c", -5.0),
            ("▁a", -3.0),
            ("ab", -3.0),
            ("▁ab", -2.0),
            ("abc", -2.0),
        ];
        for (p, score) in normal {
            pieces.push((p.to_string(), score, NORMAL));
        }
        Self {
            pieces,
            trainer: vec![(3, 1), (40, 2), (42, 1), (43, 0)],
            charsmap: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (p, score, kind) in &self.pieces {
            let mut m = Vec::new();
            field_bytes(1, p.as_bytes(), &mut m);
            varint(2 << 3 | 5, &mut m);
            m.extend_from_slice(&score.to_le_bytes());
            field_varint(3, *kind, &mut m);
            field_bytes(1, &m, &mut out);
        }
        let mut t = Vec::new();
        for &(f, v) in &self.trainer {
            field_varint(f, v, &mut t);
        }
        field_bytes(2, &t, &mut out);
        if let Some(cm) = &self.charsmap {
            let mut n = Vec::new();
            field_bytes(2, cm, &mut n);
            field_bytes(3, &n, &mut out);
        }
        out
    }

    fn load(&self) -> Result<Tokenizer, TokenizerError> {
        Tokenizer::from_spiece_bytes(&self.bytes())
    }
}

/// A darts-clone array mapping the single key "x" to replacement offset `value`:
/// root(offset 1) → unit 1^'x' with label 'x', has_leaf, offset to leaf block.
fn charsmap_x(value: u32, normalized: &[u8]) -> Vec<u8> {
    // Root at 0 with offset 1 (children block at 1). Child index = 1 ^ 0x78 = 0x79.
    // Child unit: label 0x78, has_leaf (bit 8), offset o such that 0x79 ^ o = leaf index.
    let child = 1usize ^ 0x78;
    let leaf = 0x80usize; // leaf at 0x79 ^ 0xf9 = 0x80
    let o = (child ^ leaf) as u32;
    let mut units = vec![0u32; 0x81];
    units[0] = 1 << 10;
    units[child] = 0x78 | (1 << 8) | (o << 10);
    units[leaf] = (1 << 31) | value;
    let mut blob = ((units.len() * 4) as u32).to_le_bytes().to_vec();
    for u in units {
        blob.extend_from_slice(&u.to_le_bytes());
    }
    blob.extend_from_slice(normalized);
    blob
}

#[test]
fn synthetic_model_encodes() {
    let tok = Model::basic().load().unwrap();
    assert_eq!(
        tok.encode_plain_with_pieces("abc ab").1,
        ["▁", "abc", "▁ab"]
    );
    assert_eq!(tok.vocab_size(), 11 + 100);
    assert_eq!(tok.encode_plain("zz a"), [3, 2, 7]); // "▁", unk(zz merged), "▁a"
}

#[test]
fn user_defined_pieces_are_matched_whole() {
    let mut m = Model::basic();
    m.pieces.push(("<sep>".into(), 0.0, USER_DEFINED));
    let tok = m.load().unwrap();
    assert_eq!(
        tok.encode_plain_with_pieces("ab<sep>c").1,
        ["▁ab", "<sep>", "c"]
    );
}

#[test]
fn synthetic_charsmap_applies_and_validates() {
    let mut m = Model::basic();
    m.charsmap = Some(charsmap_x(0, b"ab\0"));
    let tok = m.load().unwrap();
    assert_eq!(tok.normalize("x"), "▁ab");
    assert_eq!(tok.encode_plain("x"), [9]);

    let bad = |blob: Vec<u8>| {
        let mut m = Model::basic();
        m.charsmap = Some(blob);
        match m.load() {
            Err(TokenizerError::Charsmap { .. }) => {}
            other => panic!("expected a charsmap error, got {other:?}"),
        }
    };
    // Value pointing past the strings, a string without NUL, non-UTF-8 replacement.
    bad(charsmap_x(100, b"ab\0"));
    bad(charsmap_x(0, b"ab"));
    bad(charsmap_x(0, b"\xff\0"));
    // Trie size larger than the blob, not a multiple of 4, zero; blob shorter than header.
    let good = charsmap_x(0, b"ab\0");
    let mut big = good.clone();
    big[..4].copy_from_slice(&(1_000_000u32).to_le_bytes());
    bad(big);
    let mut odd = good.clone();
    odd[..4].copy_from_slice(&(0x81 * 4 - 2u32).to_le_bytes());
    bad(odd);
    let mut zero = good.clone();
    zero[..4].copy_from_slice(&0u32.to_le_bytes());
    bad(zero);
    bad(vec![1, 0, 0]);
    // Leaf block outside the array.
    let mut leaf_out = good.clone();
    let child = 4 + 4 * (1 ^ 0x78);
    let unit = 0x78u32 | (1 << 8) | (0xffff << 10);
    leaf_out[child..child + 4].copy_from_slice(&unit.to_le_bytes());
    bad(leaf_out);
}

#[test]
fn empty_charsmap_is_identity() {
    let tok = Model::basic().load().unwrap();
    assert_eq!(tok.normalize("ﬁ  Ａ"), "▁ﬁ▁Ａ");
}

#[test]
fn malformed_vocabularies_are_load_errors() {
    let mut m = Model::basic();
    m.pieces.clear();
    assert_eq!(m.load().unwrap_err(), TokenizerError::EmptyVocab);

    let mut m = Model::basic();
    m.pieces[5].1 = f32::NAN;
    assert!(matches!(
        m.load(),
        Err(TokenizerError::NonFiniteScore { id: 5, .. })
    ));
    m.pieces[5].1 = f32::INFINITY;
    assert!(matches!(
        m.load(),
        Err(TokenizerError::NonFiniteScore { .. })
    ));

    let mut m = Model::basic();
    m.pieces.push(("ab".into(), -3.0, NORMAL));
    assert!(matches!(
        m.load(),
        Err(TokenizerError::DuplicatePiece {
            first: 8,
            second: 11,
            ..
        })
    ));

    let mut m = Model::basic();
    m.pieces[6].0.clear();
    assert!(matches!(
        m.load(),
        Err(TokenizerError::EmptyPiece { id: 6 })
    ));

    let mut m = Model::basic();
    m.pieces[2].2 = NORMAL;
    assert_eq!(m.load().unwrap_err(), TokenizerError::NoUnknownPiece);

    let mut m = Model::basic();
    m.pieces[0].2 = UNKNOWN;
    assert!(matches!(
        m.load(),
        Err(TokenizerError::MultipleUnknownPieces { .. })
    ));

    let mut m = Model::basic();
    m.pieces[4].2 = 9;
    assert!(matches!(
        m.load(),
        Err(TokenizerError::InvalidPieceType { id: 4, value: 9 })
    ));

    for (field, v) in [(40, 500), (40, 0), (42, 11), (43, 1000)] {
        let mut m = Model::basic();
        m.trainer.push((field, v));
        assert!(
            matches!(m.load(), Err(TokenizerError::BadSpecialId { .. })),
            "field {field} = {v}"
        );
    }

    let mut m = Model::basic();
    m.pieces.push(("<0x41>".into(), 0.0, BYTE));
    assert!(matches!(m.load(), Err(TokenizerError::BytePieces { .. })));
    m.trainer.push((35, 1));
    assert!(matches!(m.load(), Err(TokenizerError::BytePieces { .. }))); // not all 256

    let mut m = Model::basic();
    m.pieces.push(("\u{2581}\u{2581}".into(), 0.0, NORMAL));
    let mut bytes = m.bytes();
    let pos = bytes
        .windows(6)
        .position(|w| w == "\u{2581}\u{2581}".as_bytes())
        .unwrap();
    bytes[pos] = 0xff;
    assert!(matches!(
        Tokenizer::from_spiece_bytes(&bytes),
        Err(TokenizerError::InvalidUtf8 { .. })
    ));
}

#[test]
fn other_model_types_are_rejected_clearly() {
    for (kind, name) in [(2, "BPE"), (3, "WORD"), (4, "CHAR")] {
        let mut m = Model::basic();
        m.trainer.push((3, kind));
        let e = m.load().unwrap_err();
        assert_eq!(
            e,
            TokenizerError::UnsupportedModelType {
                model_type: kind as i32
            }
        );
        assert!(e.to_string().contains(name), "{e}");
    }
    let mut m = Model::basic();
    m.trainer.push((24, 1));
    assert!(matches!(m.load(), Err(TokenizerError::Unsupported { .. })));
}

#[test]
fn extra_ids_option() {
    let bytes = fixture("t5style-4k.model");
    let tok = Tokenizer::from_spiece_bytes_with(&bytes, TokenizerOptions::default().extra_ids(0))
        .unwrap();
    assert_eq!(tok.vocab_size(), 4000);
    assert_eq!(tok.piece_to_id("<extra_id_0>"), None);
    assert_eq!(
        tok.encode("<extra_id_0>", false),
        tok.encode_plain("<extra_id_0>")
    );
    let tok = Tokenizer::from_spiece_bytes_with(&bytes, TokenizerOptions::default().extra_ids(3))
        .unwrap();
    assert_eq!(tok.vocab_size(), 4003);
    assert_eq!(tok.piece_to_id("<extra_id_0>"), Some(4002));
    assert_eq!(tok.id_to_piece(4000), Some("<extra_id_2>"));
    assert_eq!(tok.piece_to_id("<extra_id_3>"), None);
    assert!(
        Tokenizer::from_spiece_bytes_with(&bytes, TokenizerOptions::default().extra_ids(1 << 20))
            .is_err()
    );
}

#[test]
fn t5_conventions() {
    let tok = t5();
    assert_eq!((tok.pad_id(), tok.eos_id(), tok.unk_id()), (0, 1, 2));
    assert_eq!(tok.vocab_size(), 4100);
    assert_eq!(tok.piece_to_id("<extra_id_0>"), Some(4099));
    assert_eq!(tok.piece_to_id("<extra_id_99>"), Some(4000));
    assert_eq!(tok.id_to_piece(4099), Some("<extra_id_0>"));
    assert_eq!(tok.id_to_piece(4100), None);
    assert_eq!(tok.id_to_piece(u32::MAX), None);
    assert_eq!(tok.piece_to_id("</s>"), Some(1));
    assert_eq!(tok.piece_to_id("no such piece"), None);
    assert_eq!(tok.encode("", true), [1]);
    assert_eq!(tok.encode("</s>", true), [1]); // HF adds no second EOS
    assert!(tok.try_decode(&[5, 4100]).is_err());
    assert_eq!(tok.decode(&[5, 4100, u32::MAX]), tok.decode(&[5]));
}

#[test]
fn truncated_and_corrupted_models_never_panic() {
    let bytes = fixture("t5style-4k.model");
    // Every truncation point in the first 4 KiB and a spread over the rest.
    let cuts = (0..4096).chain((4096..bytes.len()).step_by(997));
    for cut in cuts {
        let r = Tokenizer::from_spiece_bytes(&bytes[..cut]);
        if let Ok(tok) = r {
            let _ = tok.encode("Hello <extra_id_0> wörld ﬁ", true);
        }
    }
    // Byte flips in the charsmap region and the pieces.
    let mut rng = 0x1234_5678_u64;
    for _ in 0..300 {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pos = (rng >> 20) as usize % bytes.len();
        let mut b = bytes.clone();
        b[pos] ^= (rng >> 8) as u8 | 1;
        if let Ok(tok) = Tokenizer::from_spiece_bytes(&b) {
            let ids = tok.encode("Some text ① ＡＢ <extra_id_1> 😀 e\u{301}", true);
            let _ = tok.decode(&ids);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_never_panics_and_ids_are_in_range(s in any::<String>()) {
        let tok = t5();
        let ids = tok.encode(&s, true);
        prop_assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
        let (ids2, pieces) = tok.encode_with_pieces(&s, true);
        prop_assert_eq!(&ids, &ids2);
        prop_assert_eq!(ids.len(), pieces.len());
        let _ = tok.decode(&ids);
        let _ = tok.decode_sentencepiece(&ids);
    }

    /// Where sentencepiece guarantees a lossless round trip (no unknown pieces), decoding
    /// gives back the normalised text with `▁` as spaces and the leading space removed.
    #[test]
    fn decode_inverts_encode_without_unknowns(s in "[a-zA-Z0-9 ,.!?'\\-ﬁ①Ａ\u{3000}\t]{0,60}") {
        let tok = t5();
        let ids = tok.encode_plain(&s);
        prop_assume!(!ids.contains(&tok.unk_id()));
        let normalized = tok.normalize(&s).replace('\u{2581}', " ");
        let expected = normalized.strip_prefix(' ').unwrap_or(&normalized);
        prop_assert_eq!(tok.decode_sentencepiece(&ids), expected);
        prop_assert_eq!(tok.decode(&ids), expected.trim());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Tokenizer::from_spiece_bytes(&bytes);
    }

    #[test]
    fn arbitrary_ids_never_panic_decode(ids in proptest::collection::vec(any::<u32>(), 0..40)) {
        let tok = t5();
        let _ = tok.decode(&ids);
        let _ = tok.try_decode(&ids);
        let _ = tok.decode_sentencepiece(&ids);
    }
}

#[test]
fn unknown_runs_merge_into_one_id() {
    let tok = t5();
    let ids = tok.encode_plain("☃☃☃ x ☃");
    assert_eq!(
        ids.iter().filter(|&&i| i == tok.unk_id()).count(),
        2,
        "{ids:?}"
    );
    assert_eq!(tok.decode(&tok.encode("a☃b", false)), "ab");
}
