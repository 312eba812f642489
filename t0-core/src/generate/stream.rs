//! Streaming text: token callbacks from [`crate::model::T5Model::generate_with`] turned
//! into text through the tokenizer's incremental decoder
//! ([`crate::tokenizer::Tokenizer::decode_stream`]). What is emitted never holds part of a
//! UTF-8 character or a leading space, and the concatenation of everything emitted for a
//! sequence equals `Tokenizer::decode` of its ids (special tokens such as EOS skipped).
//!
//! ```no_run
//! # use t0_core::{backend::CpuBackend, model::T5Model, tokenizer::Tokenizer};
//! # use t0_core::generate::{GenerateOptions, stream::TextStreamer};
//! # fn f(model: &T5Model<CpuBackend>, tok: &Tokenizer, ids: &[u32]) {
//! let opts = GenerateOptions::default();
//! let mut streamer = TextStreamer::new(tok, 1, opts.num_return_sequences);
//! let mut print = |i: usize, r: usize, id: u32| print!("{}", streamer.push(i, r, id));
//! model.generate_with(&[ids], &opts, Some(&mut print)).unwrap();
//! # }
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::tokenizer::{DecodeStream, Tokenizer};

/// One incremental decoder per output sequence (`inputs × num_return_sequences`).
pub struct TextStreamer<'t> {
    streams: Vec<Option<DecodeStream<'t>>>,
    per_input: usize,
}

impl<'t> TextStreamer<'t> {
    /// Decoders for `inputs` inputs with `per_input` sequences each.
    pub fn new(tok: &'t Tokenizer, inputs: usize, per_input: usize) -> Self {
        TextStreamer {
            streams: (0..inputs * per_input)
                .map(|_| Some(tok.decode_stream()))
                .collect(),
            per_input,
        }
    }

    /// Adds token `id` of sequence `(input, ret)` and returns the text that became final
    /// (often empty). Out-of-range sequence indices return nothing.
    pub fn push(&mut self, input: usize, ret: usize, id: u32) -> String {
        match self.streams.get_mut(input * self.per_input + ret) {
            Some(Some(s)) => s.push(id),
            _ => String::new(),
        }
    }

    /// Ends sequence `(input, ret)` and returns its remaining text.
    pub fn finish(&mut self, input: usize, ret: usize) -> String {
        match self.streams.get_mut(input * self.per_input + ret) {
            Some(s) => s.take().map(|s| s.finish()).unwrap_or_default(),
            None => String::new(),
        }
    }
}
