//! [`Hub`]: which files t0 needs, the cache-first resolution, and downloads.

use std::fs;
use std::io::IsTerminal;
use std::path::PathBuf;

use t0_core::safetensors::index::{MAX_INDEX_LEN, ShardIndex};

use crate::HubError;
use crate::cache::RepoCache;
use crate::client::Client;
use crate::options::HubOptions;
use crate::repo::{ModelRef, check_file_name};

/// `config.json`.
pub const CONFIG: &str = "config.json";
/// A single-file checkpoint.
pub const WEIGHTS: &str = "model.safetensors";
/// The index of a sharded checkpoint.
pub const WEIGHTS_INDEX: &str = "model.safetensors.index.json";
/// The tokenizers t0 reads, in order of preference.
pub const TOKENIZERS: [&str; 2] = ["spiece.model", "tokenizer.json"];

/// The result of a download: where the files are and what was fetched.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Snapshot {
    /// `…/snapshots/<commit>`: the model directory.
    pub dir: PathBuf,
    /// The commit.
    pub commit: String,
    /// The files wanted (all present now).
    pub files: Vec<String>,
    /// Bytes received over the network by this call (0 when all was cached).
    pub downloaded: u64,
}

/// Resolves and downloads models with one set of [`HubOptions`].
pub struct Hub {
    opts: HubOptions,
    client: Client,
}

impl Hub {
    /// A hub client for `opts` (no network access happens until a download is needed).
    pub fn new(opts: HubOptions) -> Self {
        let client = Client::new(&opts);
        Hub { opts, client }
    }

    /// The options in use.
    pub fn options(&self) -> &HubOptions {
        &self.opts
    }

    fn repo_cache(&self, m: &ModelRef) -> RepoCache {
        RepoCache::new(&self.opts.cache_dir, m)
    }

    /// The snapshot directory of `m` with what t0 needs (`config.json`, the safetensors
    /// weights — single file or index and shards — and `spiece.model` or
    /// `tokenizer.json` when the repo has one).
    ///
    /// Cache first: when the revision is known in the cache (a `refs/` entry, or a commit
    /// hash) and its snapshot is complete, no request is made at all (run `t0 download`
    /// to pick up a newer commit of a branch). Otherwise the Hub is asked and only the
    /// missing files are fetched. Offline (`HF_HUB_OFFLINE`), a snapshot with the config
    /// and the weights is enough, and anything less is an [`HubError::Offline`].
    pub fn resolve(&self, m: &ModelRef) -> Result<PathBuf, HubError> {
        let rc = self.repo_cache(m);
        let cached = match rc.commit_for(m.revision()) {
            Some(commit) => t0_complete(&rc, &commit, !self.opts.offline).map(|()| commit),
            None => Err(format!("revision `{}` was never downloaded", m.revision())),
        };
        match cached {
            Ok(commit) => Ok(rc.snapshot_dir(&commit)),
            Err(missing) if self.opts.offline => Err(HubError::Offline {
                repo: m.repo_id(),
                revision: m.revision().to_string(),
                cache: self.opts.cache_dir.clone(),
                missing,
            }),
            Err(_) => Ok(self.download(m, &[])?.dir),
        }
    }

    /// Downloads into the cache: what t0 needs when `include` is empty (as
    /// [`Hub::resolve`]), else every file matching one of the `include` patterns (`*`
    /// and `?` wildcards, `*` crossing `/`, as huggingface_hub's `allow_patterns`). Always
    /// asks the Hub for the revision's current commit (offline: the cached snapshot, if
    /// complete); files already in the snapshot are not fetched again.
    pub fn download(&self, m: &ModelRef, include: &[String]) -> Result<Snapshot, HubError> {
        let rc = self.repo_cache(m);
        if self.opts.offline {
            let offline = |missing: String| HubError::Offline {
                repo: m.repo_id(),
                revision: m.revision().to_string(),
                cache: self.opts.cache_dir.clone(),
                missing,
            };
            let commit = rc.commit_for(m.revision()).ok_or_else(|| {
                offline(format!("revision `{}` was never downloaded", m.revision()))
            })?;
            let dir = rc.snapshot_dir(&commit);
            if include.is_empty() {
                t0_complete(&rc, &commit, false).map_err(offline)?;
            } else if !dir.is_dir() {
                return Err(offline(format!("no snapshot {commit}")));
            }
            let mut files = Vec::new();
            list_files(&dir, "", &mut files);
            files.sort();
            return Ok(Snapshot {
                dir,
                commit,
                files,
                downloaded: 0,
            });
        }
        let info = self.client.repo_info(m)?;
        let commit = info.sha.clone();
        let has = |f: &str| info.files.iter().any(|x| x == f);
        let missing = |reason: String| HubError::MissingFiles {
            repo: m.repo_id(),
            revision: commit.clone(),
            reason,
        };
        let mut wanted: Vec<String> = Vec::new();
        let mut index = false;
        if include.is_empty() {
            if !has(CONFIG) {
                return Err(missing(format!(
                    "no {CONFIG}: not a transformers model repo"
                )));
            }
            wanted.push(CONFIG.into());
            if has(WEIGHTS) {
                wanted.push(WEIGHTS.into());
            } else if has(WEIGHTS_INDEX) {
                wanted.push(WEIGHTS_INDEX.into());
                index = true;
            } else {
                let others: Vec<&str> = info
                    .files
                    .iter()
                    .filter(|f| {
                        f.ends_with(".bin") || f.ends_with(".h5") || f.ends_with(".msgpack")
                    })
                    .map(String::as_str)
                    .collect();
                return Err(missing(format!(
                    "no {WEIGHTS} or {WEIGHTS_INDEX}: t0 reads safetensors only (the repo has: {})",
                    if others.is_empty() {
                        "no weights".to_string()
                    } else {
                        others.join(", ")
                    }
                )));
            }
            if let Some(tok) = TOKENIZERS.iter().find(|t| has(t)) {
                wanted.push(tok.to_string());
            }
        } else {
            wanted = info
                .files
                .iter()
                .filter(|f| include.iter().any(|p| glob_match(p, f)))
                .cloned()
                .collect();
            if wanted.is_empty() {
                return Err(missing(format!(
                    "no file matches --include {}",
                    include.join(" --include ")
                )));
            }
        }
        let mut downloaded = 0;
        for f in &wanted {
            downloaded += self.ensure(m, &rc, &commit, f)?;
        }
        if index {
            let path = rc.snapshot_dir(&commit).join(WEIGHTS_INDEX);
            for shard in index_shards(&path)? {
                downloaded += self.ensure(m, &rc, &commit, &shard)?;
                wanted.push(shard);
            }
        }
        if include.is_empty() && !TOKENIZERS.iter().any(|t| has(t)) {
            for t in TOKENIZERS {
                rc.mark_missing(&commit, t)?;
            }
        }
        rc.write_ref(m.revision(), &commit)?;
        Ok(Snapshot {
            dir: rc.snapshot_dir(&commit),
            commit,
            files: wanted,
            downloaded,
        })
    }

    /// Makes `file` present in the snapshot: nothing when it is; a link when its blob is
    /// already there (another revision, or Python); else a download. Returns bytes received.
    fn ensure(
        &self,
        m: &ModelRef,
        rc: &RepoCache,
        commit: &str,
        file: &str,
    ) -> Result<u64, HubError> {
        check_file_name(file)?;
        if rc.file(commit, file).is_some() {
            return Ok(0);
        }
        let meta = self.client.file_meta(m, commit, file)?;
        let blob = rc.blob_path(&meta.etag);
        let mut got = 0;
        let complete = || fs::metadata(&blob).is_ok_and(|md| md.is_file() && md.len() == meta.size);
        // Under the blob's lock, re-checked: another process may have just finished it.
        let _lock = if complete() {
            None
        } else {
            Some(rc.lock_blob(&meta.etag, || {
                if !self.opts.quiet {
                    eprintln!("t0: waiting for another download of {file} to finish");
                }
            })?)
        };
        if !complete() {
            // On a terminal the progress bar names the file; in logs, one line per file.
            if !self.opts.quiet && !std::io::stderr().is_terminal() {
                eprintln!(
                    "t0: fetching {}@{}: {file} ({})",
                    m.repo_id(),
                    &commit[..commit.len().min(10)],
                    human_bytes(meta.size)
                );
            }
            got = self.client.download(m, file, &meta, &blob)?;
        }
        rc.link(commit, file, &meta.etag)?;
        Ok(got)
    }
}

/// The files (following links; dangling ones skipped) under a snapshot, as repo paths.
fn list_files(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        match fs::metadata(e.path()) {
            Ok(md) if md.is_dir() => list_files(&e.path(), &format!("{name}/"), out),
            Ok(_) => out.push(name),
            Err(_) => {}
        }
    }
}

/// Shard names of an index file in a snapshot, each checked to be a safe relative name.
fn index_shards(path: &std::path::Path) -> Result<Vec<String>, HubError> {
    let bad = |reason: String| HubError::BadIndex {
        path: path.to_path_buf(),
        reason,
    };
    let len = fs::metadata(path).map_err(|e| HubError::io(path, e))?.len();
    if len > MAX_INDEX_LEN {
        return Err(bad(format!(
            "{len} bytes, more than the {MAX_INDEX_LEN} accepted"
        )));
    }
    let bytes = fs::read(path).map_err(|e| HubError::io(path, e))?;
    let index = ShardIndex::parse(&bytes).map_err(|e| bad(e.to_string()))?;
    let shards: Vec<String> = index.shards().into_iter().map(str::to_string).collect();
    for s in &shards {
        check_file_name(s)?;
    }
    Ok(shards)
}

/// Whether the snapshot at `commit` has what t0 needs; the error says what is missing.
/// `need_tokenizer`: a tokenizer must be present or known absent (`.no_exist`).
fn t0_complete(rc: &RepoCache, commit: &str, need_tokenizer: bool) -> Result<(), String> {
    let dir = rc.snapshot_dir(commit);
    if rc.file(commit, CONFIG).is_none() {
        return Err(format!("no {CONFIG} in {}", dir.display()));
    }
    if rc.file(commit, WEIGHTS).is_none() {
        if rc.file(commit, WEIGHTS_INDEX).is_none() {
            return Err(format!(
                "no {WEIGHTS} or {WEIGHTS_INDEX} in {}",
                dir.display()
            ));
        }
        let shards = index_shards(&dir.join(WEIGHTS_INDEX)).map_err(|e| e.to_string())?;
        if let Some(s) = shards.iter().find(|s| rc.file(commit, s).is_none()) {
            return Err(format!("shard {s} missing in {}", dir.display()));
        }
    }
    let tokenizer_settled = TOKENIZERS.iter().any(|t| rc.file(commit, t).is_some())
        || TOKENIZERS.iter().all(|t| rc.known_missing(commit, t));
    if need_tokenizer && !tokenizer_settled {
        return Err(format!(
            "no spiece.model or tokenizer.json in {}",
            dir.display()
        ));
    }
    Ok(())
}

/// fnmatch-style match of a whole name: `*` any run of characters (including `/`), `?`
/// one character, everything else literal.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `1.5 GB`-style size (decimal units, as the Hub shows sizes).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n, want) in [
            ("*.json", "config.json", true),
            ("*.json", "sub/x.json", true),
            ("*.json", "config.jsonx", false),
            (
                "model-?????-of-*.safetensors",
                "model-00001-of-00002.safetensors",
                true,
            ),
            ("spiece.model", "spiece.model", true),
            ("spiece.model", "spiece.modelx", false),
            ("*", "", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("", "x", false),
        ] {
            assert_eq!(glob_match(p, n), want, "{p} {n}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(11_400_000_000), "11.4 GB");
        assert_eq!(human_bytes(792_000), "792.0 kB");
    }
}
