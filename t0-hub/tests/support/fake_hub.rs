//! A fake Hugging Face Hub on 127.0.0.1 for tests (std::net, one thread per connection,
//! one request per connection). It serves the Hub's URL layout with the headers clients
//! rely on:
//!
//! - `GET /api/models/{owner}/{name}/revision/{rev}` → `{"id", "sha", "siblings"}`;
//! - `HEAD|GET /{owner}/{name}/resolve/{rev}/{file}`: regular files → 200 with `ETag`
//!   (40 hex), `X-Repo-Commit`, `Content-Length`, `Accept-Ranges`; LFS files → 302 to
//!   an absolute `/cdn/{sha256}` URL with `X-Linked-Etag` (the sha256), `X-Linked-Size`,
//!   `X-Repo-Commit`, as the Hub redirects to its CDN;
//! - `HEAD|GET /cdn/{sha256}` with `Range: bytes=N-` support (206 + `Content-Range`);
//! - errors with the Hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`,
//!   `EntryNotFound`) and 401 for a repo that needs a token and did not get it.
//!
//! Faults for tests: drop the connection after N body bytes (once), flip a byte (same
//! length: hash mismatch), serve one byte less (size mismatch), ignore `Range`.
//! Every request is recorded (method, path, Range, Authorization).
//!
//! Shared by t0-hub's and t0-cli's tests (`#[path]`).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use sha2::{Digest, Sha256};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

/// Injected faults.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Close the connection after this many body bytes of this file (once).
    pub drop_after: Option<(String, usize)>,
    /// Serve this file with one byte flipped.
    pub corrupt: Option<String>,
    /// Serve this file's body one byte short (with a matching Content-Length; HEAD
    /// still announces the true size).
    pub truncate: Option<String>,
    /// Answer 200 with the whole file even when a Range was asked for.
    pub ignore_range: bool,
}

struct Repo {
    commit: String,
    files: BTreeMap<String, Vec<u8>>,
    lfs: BTreeSet<String>,
    token: Option<String>,
}

#[derive(Default)]
struct State {
    repos: BTreeMap<String, Repo>,
    /// Renamed repos: old id → new id (answered with a relative 307, as the Hub does).
    aliases: BTreeMap<String, String>,
    requests: Vec<Request>,
    faults: Faults,
}

/// The server; stops when dropped.
pub struct FakeHub {
    addr: SocketAddr,
    cdn: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = match b[i] {
            b'%' => s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
            _ => None,
        };
        if let Some(v) = hex {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeHub {
    pub fn start() -> Self {
        // The Hub and its "CDN" listen on two ports: two origins, as in production, so
        // tests can check that the token never leaves the Hub's origin.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let cdn_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cdn = cdn_listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        for l in [listener, cdn_listener] {
            let (st, sp) = (state.clone(), stop.clone());
            thread::spawn(move || {
                for conn in l.incoming() {
                    if sp.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let st = st.clone();
                    thread::spawn(move || handle(conn, cdn, &st));
                }
            });
        }
        FakeHub {
            addr,
            cdn,
            state,
            stop,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a repo; `lfs` files are served through the CDN redirect with their sha256.
    /// Returns its commit hash.
    pub fn add_repo(&self, id: &str, files: &[(&str, Vec<u8>)], lfs: &[&str]) -> String {
        let commit = sha256_hex(id.as_bytes())[..40].to_string();
        let repo = Repo {
            commit: commit.clone(),
            files: files
                .iter()
                .map(|(n, b)| (n.to_string(), b.clone()))
                .collect(),
            lfs: lfs.iter().map(|s| s.to_string()).collect(),
            token: None,
        };
        self.state
            .lock()
            .unwrap()
            .repos
            .insert(id.to_string(), repo);
        commit
    }

    /// Makes `id` answer 401 unless `Authorization: Bearer <token>` is sent.
    pub fn require_token(&self, id: &str, token: &str) {
        let mut s = self.state.lock().unwrap();
        s.repos.get_mut(id).unwrap().token = Some(token.to_string());
    }

    /// Makes `old` a former name of `new`: its URLs answer 307 with a relative Location.
    pub fn add_alias(&self, old: &str, new: &str) {
        let mut s = self.state.lock().unwrap();
        s.aliases.insert(old.to_string(), new.to_string());
    }

    pub fn set_faults(&self, f: Faults) {
        self.state.lock().unwrap().faults = f;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        let _ = TcpStream::connect(self.cdn);
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Close after this many body bytes (a dropped connection).
    cut: Option<usize>,
}

fn answer(status: u16) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: Vec::new(),
        cut: None,
    }
}

fn error(status: u16, code: &str, msg: &str) -> Answer {
    let mut a = answer(status);
    if !code.is_empty() {
        a.headers.push(("X-Error-Code".into(), code.into()));
    }
    a.headers.push(("X-Error-Message".into(), msg.into()));
    a
}

fn handle(conn: TcpStream, cdn: SocketAddr, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let req = Request {
        method: method.clone(),
        path: path.clone(),
        range: headers.get("range").cloned(),
        authorization: headers.get("authorization").cloned(),
    };
    let a = {
        let mut st = state.lock().unwrap();
        st.requests.push(req.clone());
        route(&mut st, &req, cdn)
    };
    let mut out = conn;
    let reason = match a.status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Other",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\nConnection: close\r\n", a.status);
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let has_len = a.headers.iter().any(|(k, _)| k == "Content-Length");
    if !has_len {
        head.push_str(&format!("Content-Length: {}\r\n", a.body.len()));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    if method != "HEAD" {
        let body = match a.cut {
            Some(n) => &a.body[..n.min(a.body.len())],
            None => &a.body[..],
        };
        let _ = out.write_all(body);
    }
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
}

fn route(st: &mut State, req: &Request, cdn: SocketAddr) -> Answer {
    let path = req.path.split('?').next().unwrap_or("");
    for (old, new) in &st.aliases {
        for prefix in ["/api/models/", "/"] {
            if let Some(rest) = path.strip_prefix(&format!("{prefix}{old}/")) {
                let mut a = answer(307);
                a.headers
                    .push(("Location".into(), format!("{prefix}{new}/{rest}")));
                return a;
            }
        }
    }
    if let Some(rest) = path.strip_prefix("/api/models/") {
        let segs: Vec<&str> = rest.splitn(4, '/').collect();
        if segs.len() != 4 || segs[2] != "revision" {
            return error(404, "", "bad api path");
        }
        let id = format!("{}/{}", segs[0], segs[1]);
        let rev = percent_decode(segs[3]);
        let repo = match check_repo(st, &id, &rev, req) {
            Ok(r) => r,
            Err(a) => return a,
        };
        let siblings: Vec<String> = repo
            .files
            .keys()
            .map(|f| format!("{{\"rfilename\":\"{f}\"}}"))
            .collect();
        let mut a = answer(200);
        a.body = format!(
            "{{\"id\":\"{id}\",\"sha\":\"{}\",\"siblings\":[{}]}}",
            repo.commit,
            siblings.join(",")
        )
        .into_bytes();
        a.headers
            .push(("Content-Type".into(), "application/json".into()));
        return a;
    }
    if let Some(sha) = path.strip_prefix("/cdn/") {
        let found = st.repos.values().find_map(|r| {
            r.files
                .iter()
                .find(|(_, b)| sha256_hex(b) == sha)
                .map(|(n, b)| (n.clone(), b.clone()))
        });
        return match found {
            Some((name, bytes)) => serve(st, req, &name, &bytes, Vec::new()),
            None => error(404, "", "no such blob"),
        };
    }
    // /{owner}/{name}/resolve/{rev}/{file...}
    let segs: Vec<&str> = path.trim_start_matches('/').splitn(5, '/').collect();
    if segs.len() != 5 || segs[2] != "resolve" {
        return error(404, "", "not found");
    }
    let id = format!("{}/{}", segs[0], segs[1]);
    let rev = percent_decode(segs[3]);
    let file = percent_decode(segs[4]);
    let repo = match check_repo(st, &id, &rev, req) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let Some(bytes) = repo.files.get(&file).cloned() else {
        return error(404, "EntryNotFound", "Entry not found");
    };
    let commit = repo.commit.clone();
    let sha = sha256_hex(&bytes);
    if repo.lfs.contains(&file) {
        let mut a = answer(302);
        a.headers = vec![
            ("Location".into(), format!("http://{cdn}/cdn/{sha}")),
            ("X-Repo-Commit".into(), commit),
            ("X-Linked-Etag".into(), format!("\"{sha}\"")),
            ("X-Linked-Size".into(), bytes.len().to_string()),
            (
                "ETag".into(),
                format!("\"{}\"", &sha256_hex(sha.as_bytes())[..40]),
            ),
        ];
        return a;
    }
    let extra = vec![
        ("X-Repo-Commit".into(), commit),
        ("ETag".into(), format!("\"{}\"", &sha[..40])),
    ];
    serve(st, req, &file, &bytes, extra)
}

fn check_repo<'a>(st: &'a State, id: &str, rev: &str, req: &Request) -> Result<&'a Repo, Answer> {
    let Some(repo) = st.repos.get(id) else {
        return Err(error(404, "RepoNotFound", "Repository not found"));
    };
    let authorized = |t: &String| req.authorization.as_deref() == Some(&format!("Bearer {t}"));
    if repo.token.as_ref().is_some_and(|t| !authorized(t)) {
        return Err(error(
            401,
            "",
            "Invalid credentials in Authorization header",
        ));
    }
    if rev != "main" && rev != repo.commit {
        return Err(error(404, "RevisionNotFound", "Invalid rev id"));
    }
    Ok(repo)
}

/// File bytes with Range support and the faults applied.
fn serve(
    st: &mut State,
    req: &Request,
    name: &str,
    bytes: &[u8],
    extra: Vec<(String, String)>,
) -> Answer {
    let mut body = bytes.to_vec();
    if st.faults.corrupt.as_deref() == Some(name) && !body.is_empty() {
        let mid = body.len() / 2;
        body[mid] ^= 0xff;
    }
    // Only the body is short: HEAD still announces the true size.
    if st.faults.truncate.as_deref() == Some(name) && req.method == "GET" {
        body.pop();
    }
    let total = body.len();
    let mut a = answer(200);
    a.headers = extra;
    a.headers.push(("Accept-Ranges".into(), "bytes".into()));
    let start = req
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    match start {
        Some(s) if !st.faults.ignore_range => {
            if s >= total {
                a.status = 416;
                a.headers
                    .push(("Content-Range".into(), format!("bytes */{total}")));
                return a;
            }
            a.status = 206;
            a.headers.push((
                "Content-Range".into(),
                format!("bytes {s}-{}/{total}", total - 1),
            ));
            a.body = body[s..].to_vec();
        }
        _ => a.body = body,
    }
    let drop_now = req.method == "GET"
        && st
            .faults
            .drop_after
            .as_ref()
            .is_some_and(|(f, _)| f == name);
    if drop_now {
        let n = st.faults.drop_after.take().map_or(0, |(_, n)| n);
        a.headers
            .push(("Content-Length".into(), a.body.len().to_string()));
        a.cut = Some(n);
    }
    a
}
