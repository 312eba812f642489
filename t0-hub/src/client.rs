//! The HTTP side (ureq, blocking, rustls): the repo listing API, file metadata from the
//! `resolve` URL, and resumable, verified downloads into `blobs/`.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use ureq::http::Response;
use ureq::{Agent, Body};

use crate::HubError;
use crate::options::HubOptions;
use crate::progress;
use crate::repo::{ModelRef, check_commit, check_etag, check_file_name, percent_encode};

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;
/// Largest repo-listing answer read (real ones are a few kB; huge repos a few MB).
const MAX_JSON: u64 = 32 << 20;

/// What the listing API says about a revision.
#[derive(Debug, Clone)]
pub(crate) struct RepoInfo {
    /// The commit the revision points to.
    pub sha: String,
    /// Every file in the repository at that commit.
    pub files: Vec<String>,
}

/// What `HEAD …/resolve/<commit>/<file>` says about a file.
#[derive(Debug, Clone)]
pub(crate) struct FileMeta {
    /// ETag without quotes: the sha256 for LFS files (`X-Linked-Etag`), the git blob id
    /// otherwise.
    pub etag: String,
    /// Size in bytes (`X-Linked-Size`, else `Content-Length`).
    pub size: u64,
    /// Where the bytes are (the CDN URL the Hub redirects LFS files to, or the resolve URL).
    pub url: String,
}

impl FileMeta {
    /// The sha256 to check, when the ETag is one (64 hex digits: LFS files).
    pub(crate) fn sha256(&self) -> Option<&str> {
        (self.etag.len() == 64 && self.etag.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(self.etag.as_str())
    }
}

#[derive(Deserialize)]
struct ApiInfo {
    sha: Option<String>,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(Deserialize)]
struct Sibling {
    rfilename: String,
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Head,
}

/// A blocking client for one endpoint.
pub(crate) struct Client {
    agent: Agent,
    opts: HubOptions,
}

fn header<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `scheme://host[:port]` of an absolute URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    match url[after..].find('/') {
        Some(i) => &url[..after + i],
        None => url,
    }
}

/// Whether `url`'s host is `localhost` or a loopback address (127.0.0.0/8, `[::1]`).
fn is_loopback(url: &str) -> bool {
    let o = origin(url);
    let host_port = o.split_once("://").map_or(o, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    pub(crate) fn new(opts: &HubOptions) -> Self {
        let mut config = Agent::config_builder();
        if is_loopback(&opts.endpoint) {
            // A local mirror or test server: a proxy from HTTP(S)_PROXY cannot reach it.
            config = config.proxy(None);
        }
        let agent: Agent = config
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("t0/", env!("CARGO_PKG_VERSION"), "; hf_hub/t0-hub"))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            agent,
            opts: opts.clone(),
        }
    }

    /// One request, following up to [`MAX_REDIRECTS`] redirects when `follow`; the token
    /// goes only to the endpoint's own host.
    fn send(
        &self,
        method: Method,
        url: &str,
        range_from: Option<u64>,
        follow: bool,
    ) -> Result<(Response<Body>, String), HubError> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut req = match method {
                Method::Get => self.agent.get(&url),
                Method::Head => self.agent.head(&url),
            };
            if origin(&url) == origin(&self.opts.endpoint)
                && let Some(t) = &self.opts.token
            {
                req = req.header("Authorization", &format!("Bearer {t}"));
            }
            // Byte-exact bodies: sizes and hashes are of the uncompressed file.
            req = req.header("Accept-Encoding", "identity");
            if let Some(start) = range_from {
                req = req.header("Range", &format!("bytes={start}-"));
            }
            let resp = req.call().map_err(|e| HubError::Network {
                url: url.clone(),
                reason: e.to_string(),
            })?;
            let redirect = matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308);
            if !(follow && redirect) {
                return Ok((resp, url));
            }
            let loc = header(&resp, "location").ok_or_else(|| HubError::BadResponse {
                url: url.clone(),
                reason: "redirect without a Location header".into(),
            })?;
            url = if loc.starts_with('/') {
                format!("{}{loc}", origin(&url))
            } else {
                loc.to_string()
            };
        }
        Err(HubError::BadResponse {
            url,
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// The error for a non-success answer, from the Hub's `X-Error-Code` when present,
    /// else from the status.
    fn status_error(
        &self,
        m: &ModelRef,
        file: Option<&str>,
        url: &str,
        resp: &Response<Body>,
    ) -> HubError {
        let status = resp.status().as_u16();
        let message = header(resp, "x-error-message").unwrap_or("").to_string();
        let token_sent = self.opts.token.is_some();
        let repo = m.repo_id();
        match (header(resp, "x-error-code"), status) {
            (Some("RepoNotFound"), _) | (None, 404) if file.is_none() => HubError::RepoNotFound {
                repo,
                endpoint: self.opts.endpoint.clone(),
                token_sent,
            },
            (Some("RepoNotFound"), _) => HubError::RepoNotFound {
                repo,
                endpoint: self.opts.endpoint.clone(),
                token_sent,
            },
            (Some("RevisionNotFound"), _) => HubError::RevisionNotFound {
                repo,
                revision: m.revision().to_string(),
            },
            (Some("EntryNotFound"), _) | (None, 404) => HubError::EntryNotFound {
                repo,
                revision: m.revision().to_string(),
                file: file.unwrap_or("").to_string(),
            },
            (Some("GatedRepo"), _) | (_, 403) => HubError::Forbidden {
                repo,
                url: url.to_string(),
                message,
            },
            (_, 401) => HubError::Unauthorized {
                repo,
                url: url.to_string(),
                token_sent,
            },
            _ => HubError::Http {
                url: url.to_string(),
                status,
                message,
            },
        }
    }

    /// `GET /api/models/<repo>/revision/<revision>`: the commit and the file list.
    pub(crate) fn repo_info(&self, m: &ModelRef) -> Result<RepoInfo, HubError> {
        let url = format!(
            "{}/api/models/{}/revision/{}",
            self.opts.endpoint,
            m.url_path(),
            percent_encode(m.revision(), false)
        );
        let (mut resp, url) = self.send(Method::Get, &url, None, true)?;
        if resp.status().as_u16() != 200 {
            return Err(self.status_error(m, None, &url, &resp));
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_JSON)
            .read_to_string()
            .map_err(|e| HubError::Network {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let info: ApiInfo = serde_json::from_str(&text).map_err(|e| HubError::BadResponse {
            url: url.clone(),
            reason: format!("repo listing is not the expected JSON: {e}"),
        })?;
        let sha = info.sha.ok_or_else(|| HubError::BadResponse {
            url: url.clone(),
            reason: "repo listing has no \"sha\" (commit)".into(),
        })?;
        check_commit(&sha)?;
        let mut files = Vec::with_capacity(info.siblings.len());
        for s in info.siblings {
            check_file_name(&s.rfilename)?;
            files.push(s.rfilename);
        }
        Ok(RepoInfo { sha, files })
    }

    /// `HEAD <endpoint>/<repo>/resolve/<commit>/<file>`, following relative redirects
    /// and stopping at the first absolute one (to the LFS CDN), whose answer carries
    /// `X-Linked-Etag` / `X-Linked-Size`, as huggingface_hub's `get_hf_file_metadata` does.
    pub(crate) fn file_meta(
        &self,
        m: &ModelRef,
        commit: &str,
        file: &str,
    ) -> Result<FileMeta, HubError> {
        let mut url = format!(
            "{}/{}/resolve/{}/{}",
            self.opts.endpoint,
            m.url_path(),
            percent_encode(commit, false),
            percent_encode(file, true)
        );
        for _ in 0..=MAX_REDIRECTS {
            let (resp, _) = self.send(Method::Head, &url, None, false)?;
            let status = resp.status().as_u16();
            let mut download = url.clone();
            if (300..400).contains(&status) {
                let loc = header(&resp, "location").ok_or_else(|| HubError::BadResponse {
                    url: url.clone(),
                    reason: "redirect without a Location header".into(),
                })?;
                if loc.starts_with('/') {
                    // A relative redirect (a renamed repo): follow it.
                    url = format!("{}{loc}", origin(&url));
                    continue;
                }
                // An absolute one (the LFS CDN): its headers describe the file.
                download = loc.to_string();
            } else if !(200..300).contains(&status) {
                return Err(self.status_error(m, Some(file), &url, &resp));
            }
            let raw = header(&resp, "x-linked-etag")
                .or_else(|| header(&resp, "etag"))
                .ok_or_else(|| HubError::BadResponse {
                    url: url.clone(),
                    reason: "no ETag or X-Linked-Etag header".into(),
                })?;
            let etag = raw
                .trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string();
            check_etag(&etag)?;
            let size_text = header(&resp, "x-linked-size")
                .or_else(|| header(&resp, "content-length"))
                .ok_or_else(|| HubError::BadResponse {
                    url: url.clone(),
                    reason: "no X-Linked-Size or Content-Length header".into(),
                })?;
            let size = size_text
                .trim()
                .parse::<u64>()
                .map_err(|_| HubError::BadResponse {
                    url: url.clone(),
                    reason: format!("file size {size_text:?} is not a number"),
                })?;
            return Ok(FileMeta {
                etag,
                size,
                url: download,
            });
        }
        Err(HubError::BadResponse {
            url,
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// Downloads `meta` into `blob`: appends to `<blob>.incomplete` (resuming from its
    /// length with a `Range` request, also after a connection drop, up to `retries` times
    /// per call), checks the size and the sha256 (when the ETag is one), and only then
    /// renames it to `blob`. A mismatch deletes the partial file; a network failure keeps it
    /// for the next call. Returns the bytes received.
    pub(crate) fn download(
        &self,
        m: &ModelRef,
        file: &str,
        meta: &FileMeta,
        blob: &Path,
    ) -> Result<u64, HubError> {
        let part = blob.with_file_name(format!("{}.incomplete", meta.etag));
        let resumed = fs::metadata(&part).is_ok_and(|md| md.len() > 0);
        match self.download_once(m, file, meta, blob) {
            // A partial file left by an earlier run was bad (the mismatch deleted it):
            // one fresh start before giving up.
            Err(HubError::HashMismatch { .. } | HubError::SizeMismatch { .. }) if resumed => {
                self.download_once(m, file, meta, blob)
            }
            r => r,
        }
    }

    fn download_once(
        &self,
        m: &ModelRef,
        file: &str,
        meta: &FileMeta,
        blob: &Path,
    ) -> Result<u64, HubError> {
        let dir = blob.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| HubError::io(dir, e))?;
        let part = blob.with_file_name(format!("{}.incomplete", meta.etag));
        let io = |e| HubError::io(&part, e);
        let mut hasher = Sha256::new();
        let mut have = fs::metadata(&part).map(|md| md.len()).unwrap_or(0);
        if have > meta.size {
            have = 0;
        }
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&part)
            .map_err(io)?;
        f.set_len(have).map_err(io)?;
        if have > 0 && meta.sha256().is_some() {
            // Resuming: the hash covers the bytes already on disk.
            let mut prefix = (&f).take(have);
            std::io::copy(&mut prefix, &mut hasher).map_err(io)?;
        }
        let pb = progress::bar(file, meta.size, have, self.opts.quiet);
        let fail_mismatch = |got: u64| {
            let _ = fs::remove_file(&part);
            HubError::SizeMismatch {
                file: file.to_string(),
                expected: meta.size,
                got,
            }
        };
        let mut received = 0u64;
        let mut failures = 0u32;
        let mut buf = vec![0u8; 256 << 10];
        while have < meta.size {
            let start = (have > 0).then_some(have);
            let (resp, url) = match self.send(Method::Get, &meta.url, start, true) {
                Ok(r) => r,
                Err(e @ HubError::Network { .. }) => {
                    failures += 1;
                    if failures > self.opts.retries {
                        pb.abandon();
                        return Err(e);
                    }
                    backoff(failures);
                    continue;
                }
                Err(e) => return Err(e),
            };
            match resp.status().as_u16() {
                206 => {
                    let cr = header(&resp, "content-range").unwrap_or("");
                    if !cr.starts_with(&format!("bytes {have}-")) {
                        pb.abandon();
                        return Err(HubError::BadResponse {
                            url,
                            reason: format!("asked for bytes {have}- and got Content-Range {cr:?}"),
                        });
                    }
                }
                200 => {
                    // The server ignored the Range: start over.
                    if have > 0 {
                        have = 0;
                        hasher = Sha256::new();
                        f.set_len(0).map_err(io)?;
                    }
                }
                416 if have > 0 => {
                    // The server has fewer bytes than the partial file: start over.
                    failures += 1;
                    if failures > self.opts.retries {
                        pb.abandon();
                        return Err(self.status_error(m, Some(file), &url, &resp));
                    }
                    have = 0;
                    hasher = Sha256::new();
                    f.set_len(0).map_err(io)?;
                    continue;
                }
                _ => {
                    pb.abandon();
                    return Err(self.status_error(m, Some(file), &url, &resp));
                }
            }
            // `set_len` does not move the cursor: position explicitly.
            use std::io::Seek;
            f.seek(std::io::SeekFrom::Start(have)).map_err(io)?;
            let mut reader = resp.into_body().into_reader();
            let mut dropped = false;
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let chunk = &buf[..n];
                        if have + n as u64 > meta.size {
                            pb.abandon();
                            drop(f);
                            return Err(fail_mismatch(have + n as u64));
                        }
                        f.write_all(chunk).map_err(io)?;
                        if meta.sha256().is_some() {
                            hasher.update(chunk);
                        }
                        have += n as u64;
                        received += n as u64;
                        pb.set_position(have);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        failures += 1;
                        if failures > self.opts.retries {
                            pb.abandon();
                            f.flush().map_err(io)?;
                            return Err(HubError::Network {
                                url,
                                reason: format!(
                                    "connection lost after {have} of {} bytes of `{file}` \
                                     ({e}); {} retries used, the partial file is kept",
                                    meta.size, self.opts.retries
                                ),
                            });
                        }
                        backoff(failures);
                        dropped = true;
                        break;
                    }
                }
            }
            if !dropped && have < meta.size {
                // The body ended cleanly but short: the server's own length disagrees with
                // the size it announced.
                pb.abandon();
                drop(f);
                return Err(fail_mismatch(have));
            }
        }
        f.sync_all().map_err(io)?;
        drop(f);
        if let Some(expected) = meta.sha256() {
            let got = hex(&hasher.finalize());
            if !got.eq_ignore_ascii_case(expected) {
                pb.abandon();
                let _ = fs::remove_file(&part);
                return Err(HubError::HashMismatch {
                    file: file.to_string(),
                    expected: expected.to_string(),
                    got,
                });
            }
        }
        if let Err(e) = fs::rename(&part, blob) {
            // Another process finishing the same blob first renamed it already.
            let done = fs::metadata(blob).is_ok_and(|md| md.len() == meta.size);
            if !done {
                return Err(HubError::io(blob, e));
            }
        }
        pb.finish();
        Ok(received)
    }
}

fn backoff(failures: u32) {
    let ms = 100u64 << failures.min(5);
    std::thread::sleep(Duration::from_millis(ms));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(origin("http://127.0.0.1:8/a/b"), "http://127.0.0.1:8");
        assert_eq!(origin("https://huggingface.co"), "https://huggingface.co");
        assert_eq!(origin("https://cdn.x/y?z"), "https://cdn.x");
    }

    #[test]
    fn loopback_endpoints() {
        for u in [
            "http://127.0.0.1:8",
            "http://localhost",
            "http://[::1]:80/x",
            "http://127.9.9.9",
        ] {
            assert!(is_loopback(u), "{u}");
        }
        for u in [
            "https://huggingface.co",
            "http://10.0.0.1:8",
            "http://[2001:db8::1]",
        ] {
            assert!(!is_loopback(u), "{u}");
        }
    }

    #[test]
    fn sha256_only_for_64_hex_etags() {
        let meta = |etag: &str| FileMeta {
            etag: etag.into(),
            size: 0,
            url: String::new(),
        };
        assert!(meta(&"a".repeat(64)).sha256().is_some());
        assert!(meta(&"a".repeat(40)).sha256().is_none());
        assert!(meta(&"g".repeat(64)).sha256().is_none());
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
