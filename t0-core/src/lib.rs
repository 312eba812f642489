//! t0-core: T5-family encoder-decoder inference, written from scratch.
//!
//! Data flows one way: checkpoint → [`safetensors`] parser / `loader` (std) → weights
//! prepared by a backend → model → generate / score.
//!
//! ```
//! use t0_core::config::T5Config;
//! let cfg = T5Config::from_json(r#"{"d_model": 64, "d_ff": 128, "d_kv": 16, "num_heads": 4,
//!     "num_layers": 2, "vocab_size": 100, "feed_forward_proj": "gated-gelu",
//!     "tie_word_embeddings": false}"#).unwrap();
//! assert_eq!(cfg.num_decoder_layers, 2);
//! assert!(cfg.feed_forward_proj.is_gated());
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod backend;
pub mod config;
pub mod error;
pub mod generate;
#[cfg(feature = "std")]
pub mod loader;
pub mod model;
pub mod random;
pub mod safetensors;
pub mod score;
pub mod tensor;
pub mod weights;

pub use config::{FeedForwardProj, T5Config};
pub use error::Error;
pub use tensor::{DType, TensorSource, TensorView};
