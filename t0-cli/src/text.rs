//! Text ↔ token ids for the model commands. Placeholder until the tokenizer lands: every
//! text path reports that a tokenizer is needed and points to the id options.

use std::path::Path;

/// The tokenizer of a model directory.
pub struct Text {
    _private: (),
}

impl Text {
    /// Finds the tokenizer (`--tokenizer`, else `spiece.model` / `tokenizer.json` in `dir`).
    pub fn open(_dir: &Path, _tokenizer: Option<&Path>) -> Result<Self, String> {
        Err("text input needs the tokenizer, which this build lacks; pass token ids with --input-ids".into())
    }

    /// Token ids of `text`, with EOS appended when `add_eos`.
    pub fn encode(&self, _text: &str, _add_eos: bool) -> Vec<u32> {
        Vec::new()
    }

    /// Text of `ids` (special tokens dropped).
    pub fn decode(&self, _ids: &[u32]) -> String {
        String::new()
    }
}
