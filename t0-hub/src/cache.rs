//! The Hub cache layout shared with huggingface_hub (Python):
//!
//! ```text
//! <cache>/models--owner--name/
//!     blobs/<etag>                    file contents, named by ETag (sha256 for LFS files)
//!     blobs/<etag>.incomplete         a download in progress (resumed from its length)
//!     refs/<revision>                 the commit hash a branch or tag pointed to
//!     snapshots/<commit>/<file>       symlinks to ../../blobs/<etag>
//!     .no_exist/<commit>/<file>       empty markers: the file is known not to exist
//! ```
//!
//! Files are only ever made visible by a rename of a complete, verified blob and a
//! symlink to it, so a reader never sees a half-written file under `snapshots/`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::HubError;
use crate::repo::{ModelRef, check_file_name, is_commit_hash};

/// One repository's folder in the Hub cache.
#[derive(Debug, Clone)]
pub struct RepoCache {
    dir: PathBuf,
}

impl RepoCache {
    /// The folder of `model`'s repository under the Hub cache `cache_dir`.
    pub fn new(cache_dir: &Path, model: &ModelRef) -> Self {
        RepoCache {
            dir: cache_dir.join(model.folder_name()),
        }
    }

    /// `…/models--owner--name`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `blobs/<etag>`.
    pub fn blob_path(&self, etag: &str) -> PathBuf {
        self.dir.join("blobs").join(etag)
    }

    /// Takes the download lock of a blob, `<cache>/.locks/models--owner--name/<etag>.lock`:
    /// the file huggingface_hub locks (flock on Unix), so t0 and Python processes never
    /// download the same blob at once. Waits for another holder (calling `waiting` once
    /// first); released when the returned file is dropped, or by the OS if the process dies.
    pub fn lock_blob(&self, etag: &str, waiting: impl FnOnce()) -> Result<fs::File, HubError> {
        let name = self.dir.file_name().unwrap_or_default();
        let dir = self
            .dir
            .parent()
            .unwrap_or(&self.dir)
            .join(".locks")
            .join(name);
        fs::create_dir_all(&dir).map_err(|e| HubError::io(&dir, e))?;
        let path = dir.join(format!("{etag}.lock"));
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| HubError::io(&path, e))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                waiting();
                f.lock().map_err(|e| HubError::io(&path, e))?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(HubError::io(&path, e)),
        }
        Ok(f)
    }

    /// `snapshots/<commit>`.
    pub fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.dir.join("snapshots").join(commit)
    }

    /// `refs/<revision>`.
    fn ref_path(&self, revision: &str) -> PathBuf {
        self.dir.join("refs").join(revision)
    }

    /// The commit a revision resolves to in the cache: a commit hash is itself; a branch or
    /// tag is read from `refs/<revision>` (None when absent or not a commit hash).
    pub fn commit_for(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) {
            return Some(revision.to_string());
        }
        let text = fs::read_to_string(self.ref_path(revision)).ok()?;
        let commit = text.trim();
        is_commit_hash(commit).then(|| commit.to_string())
    }

    /// Records that `revision` points to `commit` (written to a temporary file, then
    /// renamed). A commit-hash revision needs no ref and is skipped.
    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<(), HubError> {
        if revision == commit {
            return Ok(());
        }
        let path = self.ref_path(revision);
        if fs::read_to_string(&path).is_ok_and(|t| t.trim() == commit) {
            return Ok(());
        }
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        let tmp = path.with_file_name(format!(
            ".{}.{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("ref"),
            unique_suffix()
        ));
        fs::write(&tmp, commit).map_err(|e| HubError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| HubError::io(&path, e))
    }

    /// The snapshot path of `file` at `commit` if it exists (a symlink whose blob is gone
    /// counts as absent).
    pub fn file(&self, commit: &str, file: &str) -> Option<PathBuf> {
        let p = self.snapshot_dir(commit).join(file);
        p.is_file().then_some(p)
    }

    /// Whether `file` is recorded as absent at `commit` (`.no_exist/<commit>/<file>`).
    pub fn known_missing(&self, commit: &str, file: &str) -> bool {
        self.dir.join(".no_exist").join(commit).join(file).exists()
    }

    /// Records that `file` does not exist at `commit`, as huggingface_hub does.
    pub fn mark_missing(&self, commit: &str, file: &str) -> Result<(), HubError> {
        let p = self.dir.join(".no_exist").join(commit).join(file);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        }
        fs::File::create(&p).map_err(|e| HubError::io(&p, e))?;
        Ok(())
    }

    /// Makes `snapshots/<commit>/<file>` point to `blobs/<etag>` with a relative symlink
    /// (`../../blobs/<etag>`, one more `../` per folder level in `file`), replacing what
    /// was there (a link already pointing there is left alone, so concurrent callers never
    /// see the file vanish). Where symlinks are unavailable (Windows without developer mode) the blob
    /// is copied, as huggingface_hub does.
    pub fn link(&self, commit: &str, file: &str, etag: &str) -> Result<PathBuf, HubError> {
        check_file_name(file)?;
        let dst = self.snapshot_dir(commit).join(file);
        let parent = dst.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        let depth = file.split('/').count() + 1;
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push("blobs");
        target.push(etag);
        if fs::read_link(&dst).is_ok_and(|t| t == target) && dst.is_file() {
            return Ok(dst);
        }
        if fs::symlink_metadata(&dst).is_ok() {
            match fs::remove_file(&dst) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(HubError::io(&dst, e));
                }
                _ => {}
            }
        }
        #[cfg(unix)]
        let linked = std::os::unix::fs::symlink(&target, &dst);
        #[cfg(windows)]
        let linked = std::os::windows::fs::symlink_file(&target, &dst);
        #[cfg(not(any(unix, windows)))]
        let linked: std::io::Result<()> = Err(std::io::ErrorKind::Unsupported.into());
        if linked.is_err() {
            // Another process or thread may have made the same link in between.
            if fs::read_link(&dst).is_ok_and(|t| t == target) {
                return Ok(dst);
            }
            let blob = self.blob_path(etag);
            fs::copy(&blob, &dst).map_err(|e| HubError::io(&dst, e))?;
        }
        Ok(dst)
    }
}

/// `tmp<pid>-<n>`: unique among processes and threads, for temporary file names.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "tmp{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A repository found in the cache by [`scan`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CachedRepo {
    /// `owner/name`.
    pub repo_id: String,
    /// Its folder.
    pub path: PathBuf,
    /// Bytes of all complete blobs (what deleting the folder frees, partial downloads aside).
    pub size: u64,
    /// Bytes in `*.incomplete` downloads waiting to be resumed.
    pub incomplete: u64,
    /// Its snapshots, sorted by commit.
    pub revisions: Vec<CachedRevision>,
}

/// One snapshot of a [`CachedRepo`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CachedRevision {
    /// The commit hash.
    pub commit: String,
    /// The branches and tags (`refs/…`) pointing at it.
    pub refs: Vec<String>,
    /// Number of files present.
    pub files: usize,
    /// Their total size in bytes.
    pub size: u64,
}

/// Lists the model repositories in the Hub cache `cache_dir` (what `t0 cache list` shows).
/// A missing cache folder is an empty list.
pub fn scan(cache_dir: &Path) -> Result<Vec<CachedRepo>, HubError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(cache_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(HubError::io(cache_dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| HubError::io(cache_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_prefix("models--") else {
            continue;
        };
        let Some((owner, repo)) = id.split_once("--") else {
            continue;
        };
        let path = entry.path();
        let (mut size, mut incomplete) = (0, 0);
        if let Ok(blobs) = fs::read_dir(path.join("blobs")) {
            for b in blobs.flatten() {
                let len = b.metadata().map(|m| m.len()).unwrap_or(0);
                if b.file_name().to_string_lossy().ends_with(".incomplete") {
                    incomplete += len;
                } else {
                    size += len;
                }
            }
        }
        let mut refs = Vec::new();
        collect_refs(&path.join("refs"), "", &mut refs);
        let mut revisions = Vec::new();
        if let Ok(snaps) = fs::read_dir(path.join("snapshots")) {
            for s in snaps.flatten() {
                let commit = s.file_name().to_string_lossy().into_owned();
                let (mut files, mut bytes) = (0, 0);
                count_files(&s.path(), &mut files, &mut bytes);
                revisions.push(CachedRevision {
                    refs: refs
                        .iter()
                        .filter(|(_, c)| *c == commit)
                        .map(|(r, _)| r.clone())
                        .collect(),
                    commit,
                    files,
                    size: bytes,
                });
            }
        }
        revisions.sort_by(|a, b| a.commit.cmp(&b.commit));
        out.push(CachedRepo {
            repo_id: format!("{owner}/{repo}"),
            path,
            size,
            incomplete,
            revisions,
        });
    }
    out.sort_by(|a, b| a.repo_id.cmp(&b.repo_id));
    Ok(out)
}

fn collect_refs(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        let p = e.path();
        if p.is_dir() {
            collect_refs(&p, &format!("{name}/"), out);
        } else if let Ok(c) = fs::read_to_string(&p) {
            out.push((name, c.trim().to_string()));
        }
    }
}

fn count_files(dir: &Path, files: &mut usize, bytes: &mut u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        // `metadata` follows the symlink to the blob: its size, and dangling links skipped.
        match fs::metadata(&p) {
            Ok(m) if m.is_dir() => count_files(&p, files, bytes),
            Ok(m) => {
                *files += 1;
                *bytes += m.len();
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
    fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), HubError> {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = fs::File::create(&tmp).map_err(|e| HubError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| HubError::io(&tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| HubError::io(path, e))
    }

    #[test]
    fn blob_lock_is_where_huggingface_hub_puts_it_and_excludes() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let rc = RepoCache::new(dir.path(), &ModelRef::parse("o/n").unwrap());
        let first = rc.lock_blob("e1", || panic!("free lock")).unwrap();
        assert!(dir.path().join(".locks/models--o--n/e1.lock").is_file());
        let waited = AtomicBool::new(false);
        std::thread::scope(|s| {
            let h = s.spawn(|| rc.lock_blob("e1", || waited.store(true, Ordering::SeqCst)));
            while !waited.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            drop(first);
            h.join().unwrap().unwrap();
        });
        // Another blob's lock is independent.
        rc.lock_blob("e2", || panic!("free lock")).unwrap();
    }

    #[test]
    fn refs_links_and_scan() {
        let dir = tempfile::tempdir().unwrap();
        let m = ModelRef::parse("o/n").unwrap();
        let rc = RepoCache::new(dir.path(), &m);
        let c = "a".repeat(40);
        assert_eq!(rc.commit_for("main"), None);
        assert_eq!(rc.commit_for(&c), Some(c.clone()));
        rc.write_ref("main", &c).unwrap();
        rc.write_ref("refs/pr/1", &c).unwrap();
        assert_eq!(rc.commit_for("main"), Some(c.clone()));
        assert_eq!(
            fs::read_to_string(rc.dir().join("refs/main")).unwrap(),
            c,
            "no newline, as huggingface_hub writes it"
        );
        fs::create_dir_all(rc.dir().join("blobs")).unwrap();
        write_atomic(&rc.blob_path("e1"), b"hello").unwrap();
        let p = rc.link(&c, "sub/x.txt", "e1").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"hello");
        #[cfg(unix)]
        assert_eq!(
            fs::read_link(&p).unwrap(),
            PathBuf::from("../../../blobs/e1")
        );
        // Re-linking replaces.
        write_atomic(&rc.blob_path("e2"), b"bye").unwrap();
        rc.link(&c, "sub/x.txt", "e2").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"bye");
        assert!(rc.file(&c, "sub/x.txt").is_some() && rc.file(&c, "nope").is_none());
        assert!(!rc.known_missing(&c, "spiece.model"));
        rc.mark_missing(&c, "spiece.model").unwrap();
        assert!(rc.known_missing(&c, "spiece.model"));
        fs::write(rc.dir().join("blobs/e3.incomplete"), b"12").unwrap();
        let repos = scan(dir.path()).unwrap();
        assert_eq!(repos.len(), 1);
        let r = &repos[0];
        assert_eq!(r.repo_id, "o/n");
        assert_eq!((r.size, r.incomplete), (8, 2));
        assert_eq!(r.revisions.len(), 1);
        assert_eq!((r.revisions[0].files, r.revisions[0].size), (1, 3));
        let mut refs = r.revisions[0].refs.clone();
        refs.sort();
        assert_eq!(refs, vec!["main", "refs/pr/1"]);
        assert!(scan(&dir.path().join("absent")).unwrap().is_empty());
    }
}
