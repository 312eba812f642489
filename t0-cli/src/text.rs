//! Text ↔ token ids for the model commands, through t0's tokenizer.

use std::path::Path;

use t0_core::tokenizer::Tokenizer;

/// The tokenizer of a model directory.
pub struct Text {
    tok: Tokenizer,
}

impl Text {
    /// Finds the tokenizer: `--tokenizer PATH` (`spiece.model` or `tokenizer.json`), else
    /// `spiece.model` / `tokenizer.json` in the model directory. Rejects a tokenizer with
    /// more ids than the model's vocabulary.
    pub fn open(dir: &Path, tokenizer: Option<&Path>, vocab_size: usize) -> Result<Self, String> {
        let tok = match tokenizer {
            Some(p) => Tokenizer::from_file(p).map_err(|e| format!("{}: {e}", p.display()))?,
            None => Tokenizer::from_dir(dir).map_err(|e| {
                format!(
                    "{e} (pass the tokenizer file with --tokenizer, or token ids with --input-ids)"
                )
            })?,
        };
        if tok.vocab_size() > vocab_size {
            return Err(format!(
                "the tokenizer has {} ids but the model's vocab_size is {vocab_size}: they do not belong together",
                tok.vocab_size()
            ));
        }
        Ok(Text { tok })
    }

    /// Token ids of `text`, with EOS appended when `add_eos`.
    pub fn encode(&self, text: &str, add_eos: bool) -> Vec<u32> {
        self.tok.encode(text, add_eos)
    }

    /// Text of `ids`, special tokens dropped (HF's `decode(skip_special_tokens=True)`).
    pub fn decode(&self, ids: &[u32]) -> String {
        self.tok.decode(ids)
    }
}
