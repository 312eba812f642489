//! Repo ids (`owner/name[@revision]`), revisions, and the checks that make names from the
//! command line, the server or an index safe to use as paths in the cache.

use std::fmt;

use crate::HubError;

/// The branch used when no revision is given.
pub const DEFAULT_REVISION: &str = "main";

/// Longest repo name the Hub accepts (huggingface_hub's `validate_repo_id`).
const MAX_NAME_LEN: usize = 96;

/// A model repository on the Hub and the revision wanted: `owner/name[@revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    owner: String,
    name: String,
    revision: String,
}

impl ModelRef {
    /// Parses `owner/name` or `owner/name@revision` (revision: a branch, a tag or a commit
    /// hash; default `main`). Names follow the Hub's rules: letters, digits, `-`, `_`, `.`,
    /// at most 96 characters, no `--` or `..`, not starting or ending with `-` or `.`.
    pub fn parse(spec: &str) -> Result<Self, HubError> {
        let bad = |reason: &str| HubError::NotAModel {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let (id, revision) = match spec.split_once('@') {
            Some((id, rev)) => (id, rev),
            None => (spec, DEFAULT_REVISION),
        };
        let (owner, name) = id
            .split_once('/')
            .ok_or_else(|| bad("a repo id has the form owner/name"))?;
        if name.contains('/') {
            return Err(bad("a repo id has exactly one `/` (owner/name)"));
        }
        check_name_part(owner).map_err(|r| bad(&format!("owner {owner:?}: {r}")))?;
        check_name_part(name).map_err(|r| bad(&format!("name {name:?}: {r}")))?;
        check_revision(revision).map_err(|r| bad(&format!("revision {revision:?}: {r}")))?;
        Ok(ModelRef {
            owner: owner.to_string(),
            name: name.to_string(),
            revision: revision.to_string(),
        })
    }

    /// The same repository at another revision (validated like [`ModelRef::parse`]).
    pub fn with_revision(&self, revision: &str) -> Result<Self, HubError> {
        check_revision(revision).map_err(|r| HubError::NotAModel {
            spec: format!("{}@{revision}", self.repo_id()),
            reason: format!("revision {revision:?}: {r}"),
        })?;
        Ok(ModelRef {
            revision: revision.to_string(),
            ..self.clone()
        })
    }

    /// `owner/name`.
    pub fn repo_id(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The revision asked for (`main` by default).
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The cache folder name: `models--owner--name` (huggingface_hub's `repo_folder_name`).
    pub fn folder_name(&self) -> String {
        format!("models--{}--{}", self.owner, self.name)
    }

    /// `owner/name` as a URL path (names are URL-safe by construction).
    pub(crate) fn url_path(&self) -> String {
        self.repo_id()
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.owner, self.name, self.revision)
    }
}

fn check_name_part(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if s.len() > MAX_NAME_LEN {
        return Err("longer than 96 characters");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("only letters, digits, `-`, `_` and `.` are allowed");
    }
    if s.contains("--") || s.contains("..") {
        return Err("`--` and `..` are not allowed");
    }
    if s.starts_with(['-', '.']) || s.ends_with(['-', '.']) {
        return Err("must not start or end with `-` or `.`");
    }
    Ok(())
}

/// A revision is used in URLs (percent-encoded) and as a path under `refs/` (branch
/// names like `refs/pr/1` nest), so: non-empty, at most 255 bytes, no control characters,
/// no backslash, and every `/`-separated component a plain name (not empty, `.` or `..`).
fn check_revision(rev: &str) -> Result<(), &'static str> {
    if rev.is_empty() {
        return Err("empty");
    }
    if rev.len() > 255 {
        return Err("longer than 255 bytes");
    }
    if rev.chars().any(|c| c.is_control() || c == '\\') {
        return Err("control characters and `\\` are not allowed");
    }
    if rev
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err("empty, `.` or `..` path components are not allowed");
    }
    Ok(())
}

/// Whether `s` is a full commit hash (40 lowercase hex digits), as the Hub sends in
/// `X-Repo-Commit` and stores as snapshot folder names.
pub fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a commit hash received from the server before it becomes a folder name.
pub(crate) fn check_commit(s: &str) -> Result<(), HubError> {
    if is_commit_hash(s) {
        Ok(())
    } else {
        Err(HubError::UnsafeName {
            what: "commit hash",
            value: s.to_string(),
        })
    }
}

/// Checks an ETag (after quotes are stripped) before it becomes a blob file name: the Hub
/// sends a git sha1 (40 hex) or a sha256 (64 hex); we accept 1..=128 ASCII letters, digits,
/// `-` and `_`.
pub(crate) fn check_etag(s: &str) -> Result<(), HubError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(HubError::UnsafeName {
            what: "ETag",
            value: s.to_string(),
        })
    }
}

/// Checks a repo file name (from the repo listing, an index, `--include` results) before it
/// becomes a path under a snapshot: relative, `/`-separated, no empty, `.` or `..`
/// component, no backslash or control character, at most 1024 bytes.
pub fn check_file_name(s: &str) -> Result<(), HubError> {
    let ok = !s.is_empty()
        && s.len() <= 1024
        && !s.chars().any(|c| c.is_control() || c == '\\' || c == ':')
        && s.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
    if ok {
        Ok(())
    } else {
        Err(HubError::UnsafeName {
            what: "file name",
            value: s.to_string(),
        })
    }
}

/// Percent-encodes `s` for a URL path: unreserved characters stay, `/` stays when
/// `keep_slash` (file paths) and is encoded otherwise (revisions such as `refs/pr/1`,
/// as huggingface_hub does).
pub(crate) fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_revisions() {
        let m = ModelRef::parse("bigscience/T0_3B").unwrap();
        assert_eq!(m.repo_id(), "bigscience/T0_3B");
        assert_eq!(m.revision(), "main");
        assert_eq!(m.folder_name(), "models--bigscience--T0_3B");
        let m = ModelRef::parse("google/t5-v1_1-small@refs/pr/1").unwrap();
        assert_eq!(m.revision(), "refs/pr/1");
        assert_eq!(m.to_string(), "google/t5-v1_1-small@refs/pr/1");
        let h = "0123456789abcdef0123456789abcdef01234567";
        assert!(is_commit_hash(
            ModelRef::parse(&format!("a/b@{h}")).unwrap().revision()
        ));
    }

    #[test]
    fn rejects_bad_ids_with_the_reason() {
        for (spec, why) in [
            ("T0_3B", "owner/name"),
            ("a/b/c", "exactly one"),
            ("/b", "empty"),
            ("a/", "empty"),
            ("a/b c", "only letters"),
            ("a/b--c", "`--`"),
            ("a/..", "`..`"),
            ("a/-b", "start or end"),
            ("a/b@", "empty"),
            ("a/b@x/../y", "`..`"),
            ("a/b@x\\y", "`\\`"),
            ("./model", "start or end"),
        ] {
            let e = ModelRef::parse(spec).unwrap_err().to_string();
            assert!(e.contains(why), "{spec}: {e}");
            assert!(e.contains(&format!("{spec:?}")), "{spec}: {e}");
        }
        assert!(ModelRef::parse(&format!("a/{}", "x".repeat(97))).is_err());
    }

    #[test]
    fn names_from_the_server_are_checked() {
        assert!(check_commit("0123456789abcdef0123456789abcdef01234567").is_ok());
        assert!(check_commit("../../etc").is_err());
        assert!(check_commit("0123456789ABCDEF0123456789abcdef01234567").is_err());
        assert!(check_etag("a1b2").is_ok());
        for e in ["", "a/b", "..", "a b", &"a".repeat(129)] {
            assert!(check_etag(e).is_err(), "{e}");
        }
        assert!(check_file_name("config.json").is_ok());
        assert!(check_file_name("sub/dir/model.safetensors").is_ok());
        for f in ["", "/abs", "a//b", "../x", "a/./b", "a\\b", "c:x", "a\nb"] {
            assert!(check_file_name(f).is_err(), "{f:?}");
        }
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("refs/pr/1", false), "refs%2Fpr%2F1");
        assert_eq!(percent_encode("a b/c.json", true), "a%20b/c.json");
        assert_eq!(percent_encode("é", true), "%C3%A9");
    }
}
