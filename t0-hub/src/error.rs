//! [`HubError`]: everything that can go wrong resolving or downloading a model.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong resolving a model name or downloading its files.
///
/// Every variant names the repository, file, URL or path involved, and the messages say
/// what to do where there is something to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum HubError {
    /// `--model` was neither an existing directory nor a repo id `owner/name[@revision]`.
    NotAModel {
        /// The argument as given.
        spec: String,
        /// Why it is not a repo id.
        reason: String,
    },
    /// The repository does not exist (or is private and no valid token was sent).
    RepoNotFound {
        /// `owner/name`.
        repo: String,
        /// The endpoint asked.
        endpoint: String,
        /// Whether a token was sent.
        token_sent: bool,
    },
    /// The repository exists but has no such branch, tag or commit.
    RevisionNotFound {
        /// `owner/name`.
        repo: String,
        /// The revision asked for.
        revision: String,
    },
    /// The repository has no such file at that revision.
    EntryNotFound {
        /// `owner/name`.
        repo: String,
        /// The revision.
        revision: String,
        /// The file.
        file: String,
    },
    /// The Hub answered 401: authentication needed (or the token was rejected).
    Unauthorized {
        /// `owner/name`.
        repo: String,
        /// The URL that was refused.
        url: String,
        /// Whether a token was sent (then it was rejected or lacks access).
        token_sent: bool,
    },
    /// The Hub answered 403 (a gated repo whose conditions were not accepted, or a token
    /// without read access).
    Forbidden {
        /// `owner/name`.
        repo: String,
        /// The URL that was refused.
        url: String,
        /// The Hub's own explanation, when it gave one.
        message: String,
    },
    /// Any other HTTP error status.
    Http {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The Hub's explanation (`X-Error-Message`), when it gave one.
        message: String,
    },
    /// The connection failed (DNS, refused, TLS, timeout, dropped and out of retries).
    Network {
        /// The URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The server's answer lacks a header t0 needs or has one it cannot use.
    BadResponse {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// `HF_HUB_OFFLINE` is set and the cache has no usable copy.
    Offline {
        /// `owner/name`.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// The Hub cache directory looked in.
        cache: PathBuf,
        /// What is missing.
        missing: String,
    },
    /// A downloaded file does not have the size the Hub announced (it was deleted).
    SizeMismatch {
        /// The file in the repo.
        file: String,
        /// The announced size.
        expected: u64,
        /// What arrived.
        got: u64,
    },
    /// A downloaded file's sha256 is not the Hub's (it was deleted).
    HashMismatch {
        /// The file in the repo.
        file: String,
        /// The sha256 from the Hub's `X-Linked-Etag`.
        expected: String,
        /// The sha256 of what arrived.
        got: String,
    },
    /// The repository lacks a file t0 needs (e.g. no `config.json`, no safetensors).
    MissingFiles {
        /// `owner/name`.
        repo: String,
        /// The revision (commit) looked at.
        revision: String,
        /// What is missing and what to do.
        reason: String,
    },
    /// A file name, revision, commit hash or ETag from the server or an index that is
    /// not safe to use as a path in the cache.
    UnsafeName {
        /// What it is (e.g. "file name", "commit hash").
        what: &'static str,
        /// The value as received.
        value: String,
    },
    /// `model.safetensors.index.json` is invalid.
    BadIndex {
        /// The index file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// Reading or writing the cache failed.
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl HubError {
    /// An [`HubError::Io`] for `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        HubError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

const TOKEN_HINT: &str = "set HF_TOKEN to a Hugging Face access token \
     (https://huggingface.co/settings/tokens), or put it in $HF_HOME/token";

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::NotAModel { spec, reason } => write!(
                f,
                "--model {spec:?} is not a directory, and not a Hub repo id \
                 (owner/name[@revision]): {reason}"
            ),
            HubError::RepoNotFound {
                repo,
                endpoint,
                token_sent,
            } => {
                write!(f, "repository `{repo}` not found on {endpoint}")?;
                if *token_sent {
                    write!(f, " (or the token sent has no access to it)")
                } else {
                    write!(
                        f,
                        " (check the name; if it is private or gated, {TOKEN_HINT})"
                    )
                }
            }
            HubError::RevisionNotFound { repo, revision } => write!(
                f,
                "repository `{repo}` has no revision `{revision}` (a branch, tag or commit hash)"
            ),
            HubError::EntryNotFound {
                repo,
                revision,
                file,
            } => write!(
                f,
                "repository `{repo}` has no file `{file}` at `{revision}`"
            ),
            HubError::Unauthorized {
                repo,
                url,
                token_sent,
            } => {
                if *token_sent {
                    write!(
                        f,
                        "the Hub rejected the token for `{repo}` ({url}: 401): check HF_TOKEN \
                         (or $HF_HOME/token) and that it has read access to the repository"
                    )
                } else {
                    write!(
                        f,
                        "`{repo}` needs authentication ({url}: 401 Unauthorized): {TOKEN_HINT}"
                    )
                }
            }
            HubError::Forbidden { repo, url, message } => {
                write!(f, "access to `{repo}` refused ({url}: 403 Forbidden")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                write!(
                    f,
                    "): if the repository is gated, accept its conditions on its Hub page, \
                     then {TOKEN_HINT}"
                )
            }
            HubError::Http {
                url,
                status,
                message,
            } => {
                write!(f, "{url}: HTTP {status}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            HubError::Network { url, reason } => write!(
                f,
                "{url}: {reason} (run the same command again to resume; set HF_HUB_OFFLINE=1 \
                 to use only the cache)"
            ),
            HubError::BadResponse { url, reason } => write!(f, "{url}: unusable answer: {reason}"),
            HubError::Offline {
                repo,
                revision,
                cache,
                missing,
            } => write!(
                f,
                "HF_HUB_OFFLINE is set and the cache {} has no usable copy of `{repo}` at \
                 `{revision}` ({missing}); unset HF_HUB_OFFLINE to download it",
                cache.display()
            ),
            HubError::SizeMismatch {
                file,
                expected,
                got,
            } => write!(
                f,
                "`{file}`: received {got} bytes, the Hub announced {expected}; the partial file \
                 was deleted, run the command again"
            ),
            HubError::HashMismatch {
                file,
                expected,
                got,
            } => write!(
                f,
                "`{file}`: sha256 {got} does not match the Hub's {expected}; the file was \
                 deleted, run the command again"
            ),
            HubError::MissingFiles {
                repo,
                revision,
                reason,
            } => write!(f, "`{repo}` at `{revision}`: {reason}"),
            HubError::UnsafeName { what, value } => {
                write!(f, "refusing {what} {value:?}: not a safe name in the cache")
            }
            HubError::BadIndex { path, reason } => write!(f, "{}: {reason}", path.display()),
            HubError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for HubError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HubError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
