//! Encode and decode arbitrary strings with the T5-style fixture tokenizer: no panics,
//! ids in range, one piece per id.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use t0_core::tokenizer::Tokenizer;

static MODEL: &[u8] = include_bytes!("../../t0-core/tests/fixtures/tokenizer/t5style-4k.model");

fn tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| Tokenizer::from_spiece_bytes(MODEL).expect("fixture loads"))
}

fuzz_target!(|data: &[u8]| {
    let tok = tokenizer();
    let text = String::from_utf8_lossy(data);
    let (ids, pieces) = tok.encode_with_pieces(&text, true);
    assert_eq!(ids.len(), pieces.len());
    assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
    let _ = tok.decode(&ids);
    let _ = tok.encode_plain(&text);
    let _ = tok.normalize(&text);
    // Arbitrary ids (4 bytes each) through decode.
    let raw: Vec<u32> = data.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let _ = tok.decode(&raw);
    let _ = tok.try_decode(&raw);
});
