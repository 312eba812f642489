//! [`HubOptions`]: endpoint, cache location, token, offline mode, progress — from the
//! environment variables huggingface_hub reads, or set explicitly.

use std::path::PathBuf;

/// The public Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where and how to resolve models. Build it with [`HubOptions::from_env`] (what the CLI
/// does) or field by field (what tests and embedding programs do: nothing here reads the
/// process environment after construction).
#[derive(Clone)]
pub struct HubOptions {
    /// Base URL of the Hub, without trailing `/` (`HF_ENDPOINT`).
    pub endpoint: String,
    /// The Hub cache: the folder holding `models--owner--name/` (`HF_HUB_CACHE`, else
    /// `$HF_HOME/hub`).
    pub cache_dir: PathBuf,
    /// Access token sent as `Authorization: Bearer …` to the endpoint (never to other
    /// hosts such as the CDN the Hub redirects to).
    pub token: Option<String>,
    /// Use only the cache; never touch the network (`HF_HUB_OFFLINE`).
    pub offline: bool,
    /// No progress bars or messages on stderr.
    pub quiet: bool,
    /// How many times a dropped download is resumed (with an HTTP `Range` request) within
    /// one call before giving up; what was received stays in `blobs/<etag>.incomplete`
    /// and the next call resumes from there.
    pub retries: u32,
}

impl std::fmt::Debug for HubOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubOptions")
            .field("endpoint", &self.endpoint)
            .field("cache_dir", &self.cache_dir)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("offline", &self.offline)
            .field("quiet", &self.quiet)
            .field("retries", &self.retries)
            .finish()
    }
}

impl HubOptions {
    /// Options for `endpoint` with the cache in `cache_dir`; no token, online, progress on,
    /// 5 retries.
    pub fn new(endpoint: &str, cache_dir: impl Into<PathBuf>) -> Self {
        HubOptions {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            cache_dir: cache_dir.into(),
            token: None,
            offline: false,
            quiet: false,
            retries: 5,
        }
    }

    /// Reads the process environment, as huggingface_hub does:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `HF_ENDPOINT` | Hub base URL | `https://huggingface.co` |
    /// | `HF_HOME` | Hugging Face home | `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` |
    /// | `HF_HUB_CACHE` (or legacy `HUGGINGFACE_HUB_CACHE`) | the Hub cache | `$HF_HOME/hub` |
    /// | `HF_TOKEN` (or legacy `HUGGING_FACE_HUB_TOKEN`) | access token | the file `HF_TOKEN_PATH`, else `$HF_HOME/token` (what `huggingface-cli login` writes) |
    /// | `HF_HUB_OFFLINE` | `1`/`true`/`yes`/`on`: cache only | off |
    /// | `HF_HUB_DISABLE_PROGRESS_BARS` | same values: no progress bars | off |
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// [`HubOptions::from_env`] with the variables looked up through `var` (for tests and
    /// programs with their own configuration).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let hf_home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let base = var("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
                let home = var("HOME")
                    .or_else(|| var("USERPROFILE"))
                    .unwrap_or_else(|| ".".into());
                PathBuf::from(home).join(".cache")
            });
            base.join("huggingface")
        });
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("hub"));
        let token = var("HF_TOKEN")
            .or_else(|| var("HUGGING_FACE_HUB_TOKEN"))
            .map(|t| t.trim().to_string())
            .or_else(|| {
                let path = var("HF_TOKEN_PATH")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| hf_home.join("token"));
                let t = std::fs::read_to_string(path).ok()?;
                let t = t.trim();
                (!t.is_empty()).then(|| t.to_string())
            });
        let truthy = |k: &str| {
            var(k).is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on"
                )
            })
        };
        let endpoint = var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        HubOptions {
            token,
            offline: truthy("HF_HUB_OFFLINE"),
            quiet: truthy("HF_HUB_DISABLE_PROGRESS_BARS"),
            ..HubOptions::new(endpoint.trim(), cache_dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn opts(vars: &[(&str, &str)]) -> HubOptions {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubOptions::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_follow_huggingface_hub() {
        let o = opts(&[("HOME", "/home/u")]);
        assert_eq!(o.endpoint, "https://huggingface.co");
        assert_eq!(o.cache_dir, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert!(o.token.is_none() && !o.offline && !o.quiet);
        let o = opts(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/x")]);
        assert_eq!(o.cache_dir, PathBuf::from("/x/huggingface/hub"));
        let o = opts(&[("HF_HOME", "/h"), ("XDG_CACHE_HOME", "/x")]);
        assert_eq!(o.cache_dir, PathBuf::from("/h/hub"));
        let o = opts(&[("HF_HOME", "/h"), ("HF_HUB_CACHE", "/c")]);
        assert_eq!(o.cache_dir, PathBuf::from("/c"));
        let o = opts(&[("HF_ENDPOINT", "http://127.0.0.1:9/"), ("HOME", "/")]);
        assert_eq!(o.endpoint, "http://127.0.0.1:9");
    }

    #[test]
    fn offline_and_progress_switches() {
        for v in ["1", "TRUE", "yes", "On"] {
            assert!(opts(&[("HF_HUB_OFFLINE", v)]).offline, "{v}");
            assert!(opts(&[("HF_HUB_DISABLE_PROGRESS_BARS", v)]).quiet, "{v}");
        }
        for v in ["0", "false", "", "no"] {
            assert!(!opts(&[("HF_HUB_OFFLINE", v)]).offline, "{v}");
        }
    }

    #[test]
    fn token_from_variable_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        assert_eq!(opts(&[("HF_HOME", home)]).token, None);
        std::fs::write(dir.path().join("token"), "hf_file\n").unwrap();
        assert_eq!(opts(&[("HF_HOME", home)]).token.as_deref(), Some("hf_file"));
        let o = opts(&[("HF_HOME", home), ("HF_TOKEN", "hf_env")]);
        assert_eq!(o.token.as_deref(), Some("hf_env"));
        assert!(
            !format!("{o:?}").contains("hf_env"),
            "Debug must not print the token"
        );
        std::fs::write(dir.path().join("other"), "hf_other").unwrap();
        let other = dir.path().join("other");
        let o = opts(&[
            ("HF_HOME", home),
            ("HF_TOKEN_PATH", other.to_str().unwrap()),
        ]);
        assert_eq!(o.token.as_deref(), Some("hf_other"));
    }
}
