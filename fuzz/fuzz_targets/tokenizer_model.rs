//! The sentencepiece ModelProto reader on arbitrary bytes: loading must return an error
//! or a tokenizer that encodes and decodes without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use t0_core::tokenizer::Tokenizer;

fuzz_target!(|data: &[u8]| {
    if let Ok(tok) = Tokenizer::from_spiece_bytes(data) {
        let ids = tok.encode("Hello <extra_id_0> wörld ﬁ ① 😀\t x", true);
        assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
        let _ = tok.decode(&ids);
        let _ = tok.decode_sentencepiece(&ids);
    }
});
