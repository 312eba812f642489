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
//!
//! # Model, backends, generation, scoring
//!
//! [`model::T5Model`] is generic over a [`backend::Backend`]. The backend owns memory and
//! arithmetic (activations, prepared weights, kernel-sized ops, output heads that return
//! small host results); the model owns T5's structure (tensor names, relative position
//! buckets, masks, KV caches); weights are prepared once at load, by the backend, from the
//! checkpoint's F32/BF16/F16 tensors. The [`backend`] module docs spell the contract out.
//! [`backend::CpuBackend`] is the simple f32 reference. [`generate`] adds greedy decoding
//! over padded batches, [`score`] rank classification with one encoder pass per example.
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
pub mod tokenizer;
pub mod weights;

pub use config::{FeedForwardProj, T5Config};
pub use error::Error;
pub use tensor::{DType, TensorSource, TensorView};
