//! t0-hub: models by name. Resolves a Hugging Face Hub repo id (`owner/name[@revision]`)
//! to a local directory that [`t0_core::loader::Checkpoint::open`] and the tokenizer read,
//! through the Hub cache that huggingface_hub (Python) uses, so files downloaded by either
//! are reused by the other.
//!
//! - Cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`; layout
//!   in [`cache`].
//! - Files t0 needs: `config.json`, `model.safetensors` (or `model.safetensors.index.json`
//!   and its shards), and `spiece.model` or `tokenizer.json` when the repo has one.
//! - Downloads: blocking HTTP (ureq + rustls), `HF_ENDPOINT`, `HF_TOKEN` (or
//!   `$HF_HOME/token`), `HF_HUB_OFFLINE`; written to `blobs/<etag>.incomplete`, resumed
//!   with `Range` requests after a drop (within a call and across calls), checked against
//!   the announced size and, for LFS files, the sha256 in `X-Linked-Etag`, renamed into
//!   place only then; a progress bar on stderr (indicatif) unless quiet.
//!
//! ```no_run
//! let opts = t0_hub::HubOptions::from_env();
//! let dir = t0_hub::resolve_model("bigscience/T0_3B", &opts)?;
//! let ckpt = t0_core::loader::Checkpoint::open(&dir);
//! # Ok::<(), t0_hub::HubError>(())
//! ```
#![deny(missing_docs)]

pub mod cache;
mod client;
mod error;
mod hub;
mod options;
mod progress;
mod repo;

use std::path::{Path, PathBuf};

pub use cache::{CachedRepo, CachedRevision, scan};
pub use error::HubError;
pub use hub::{CONFIG, Hub, Snapshot, TOKENIZERS, WEIGHTS, WEIGHTS_INDEX, glob_match, human_bytes};
pub use options::{DEFAULT_ENDPOINT, HubOptions};
pub use repo::{DEFAULT_REVISION, ModelRef, check_file_name, is_commit_hash};

/// What a `--model` argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// An existing local path (used as is).
    Local(PathBuf),
    /// A Hub repository.
    Hub(ModelRef),
}

impl ModelSpec {
    /// An existing path is [`ModelSpec::Local`] (a local directory wins over a repo id of
    /// the same spelling, as in transformers); otherwise `spec` must be a repo id.
    pub fn parse(spec: &str) -> Result<Self, HubError> {
        let p = Path::new(spec);
        if p.exists() {
            return Ok(ModelSpec::Local(p.to_path_buf()));
        }
        ModelRef::parse(spec).map(ModelSpec::Hub)
    }
}

/// The one call the model commands make: a local directory is returned as is; a repo id
/// resolves to its snapshot directory in the Hub cache, downloading what is missing
/// (see [`Hub::resolve`]).
pub fn resolve_model(spec: &str, opts: &HubOptions) -> Result<PathBuf, HubError> {
    match ModelSpec::parse(spec)? {
        ModelSpec::Local(p) => Ok(p),
        ModelSpec::Hub(m) => Hub::new(opts.clone()).resolve(&m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_win_and_others_must_be_repo_ids() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().to_str().unwrap();
        assert_eq!(
            ModelSpec::parse(s).unwrap(),
            ModelSpec::Local(dir.path().into())
        );
        let opts = HubOptions::new("http://127.0.0.1:9", dir.path());
        assert_eq!(resolve_model(s, &opts).unwrap(), dir.path());
        assert!(matches!(
            ModelSpec::parse("o/n@v1").unwrap(),
            ModelSpec::Hub(m) if m.repo_id() == "o/n" && m.revision() == "v1"
        ));
        let e = resolve_model("/no/such/dir", &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a directory") && e.contains("/no/such/dir"),
            "{e}"
        );
    }
}
