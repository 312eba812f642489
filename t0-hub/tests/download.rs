//! Downloads against a fake Hub on 127.0.0.1 (tests/support/fake_hub.rs): first download,
//! cache hit without requests, resume after a dropped connection (within a call and across
//! calls), corrupt and short files rejected and not left in the cache, 404 / 401 / token,
//! offline mode, sharded checkpoints, `--include`, and reuse of a cache laid out the way
//! huggingface_hub lays it out. Every test has its own server and its own cache folder and
//! passes options explicitly (no process environment is read or changed).

#[path = "support/fake_hub.rs"]
mod fake_hub;

use std::fs;
use std::path::{Path, PathBuf};

use fake_hub::{FakeHub, Faults, sha256_hex};
use t0_core::config::T5Config;
use t0_core::loader::Checkpoint;
use t0_core::random::write_random_checkpoint;
use t0_core::tensor::DType;
use t0_hub::{Hub, HubError, HubOptions, ModelRef, resolve_model};

const REPO: &str = "t0-test/tiny";
/// Stands in for a tokenizer: t0-hub only moves bytes.
const SPIECE: &[u8] = b"not really a sentencepiece model, just bytes to move";

fn tiny() -> T5Config {
    let mut c = T5Config::t0_base();
    (c.d_model, c.d_ff, c.num_heads, c.d_kv, c.vocab_size) = (16, 40, 4, 4, 64);
    (c.num_layers, c.num_decoder_layers) = (2, 2);
    c
}

/// config.json + model.safetensors of a random tiny model.
fn tiny_files() -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    write_random_checkpoint(dir.path(), &tiny(), 7, DType::F32).unwrap();
    ["config.json", "model.safetensors"]
        .iter()
        .map(|f| (f.to_string(), fs::read(dir.path().join(f)).unwrap()))
        .collect()
}

/// A server with `REPO`: config.json (regular file), model.safetensors and spiece.model
/// (LFS, behind the CDN redirect). Returns server, commit, files.
fn server() -> (FakeHub, String, Vec<(String, Vec<u8>)>) {
    let hub = FakeHub::start();
    let mut files = tiny_files();
    files.push(("spiece.model".into(), SPIECE.to_vec()));
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let commit = hub.add_repo(REPO, &refs, &["model.safetensors", "spiece.model"]);
    (hub, commit, files)
}

fn opts(hub: &FakeHub, cache: &Path) -> HubOptions {
    let mut o = HubOptions::new(&hub.url(), cache);
    o.quiet = true;
    o.retries = 2;
    o
}

fn model(spec: &str) -> ModelRef {
    ModelRef::parse(spec).unwrap()
}

fn weights_len(files: &[(String, Vec<u8>)]) -> usize {
    files
        .iter()
        .find(|(n, _)| n == "model.safetensors")
        .unwrap()
        .1
        .len()
}

fn repo_dir(cache: &Path) -> PathBuf {
    cache.join("models--t0-test--tiny")
}

/// No `*.incomplete` or temporary file anywhere under `dir`.
fn no_leftovers(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".incomplete") && !name.contains(".tmp"),
                "leftover {}",
                e.path().display()
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

fn assert_same_files(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        assert_eq!(&fs::read(dir.join(name)).unwrap(), bytes, "{name}");
    }
}

#[test]
fn first_download_then_cache_hit_without_requests() {
    let (hub, commit, files) = server();
    let cache = tempfile::tempdir().unwrap();
    let o = opts(&hub, cache.path());
    let dir = resolve_model(REPO, &o).unwrap();
    assert_eq!(dir, repo_dir(cache.path()).join("snapshots").join(&commit));
    assert_same_files(&dir, &files);
    let ck = Checkpoint::open(&dir).unwrap();
    assert_eq!(ck.config(), &tiny());
    // The layout huggingface_hub uses: refs/main holds the commit, snapshot entries are
    // relative symlinks into blobs/, LFS blobs are named by their sha256.
    let rd = repo_dir(cache.path());
    assert_eq!(fs::read_to_string(rd.join("refs/main")).unwrap(), commit);
    let w = &files
        .iter()
        .find(|(n, _)| n == "model.safetensors")
        .unwrap()
        .1;
    #[cfg(unix)]
    assert_eq!(
        fs::read_link(dir.join("model.safetensors")).unwrap(),
        PathBuf::from(format!("../../blobs/{}", sha256_hex(w)))
    );
    assert!(rd.join("blobs").join(sha256_hex(w)).is_file());
    no_leftovers(cache.path());
    // One listing, one HEAD per file, one GET per file; the token is never sent (none set).
    let reqs = hub.requests();
    let count = |m: &str| reqs.iter().filter(|r| r.method == m).count();
    assert_eq!(count("HEAD"), 3, "{reqs:#?}");
    assert_eq!(count("GET"), 4, "{reqs:#?}");
    assert!(
        reqs.iter()
            .all(|r| r.authorization.is_none() && r.range.is_none())
    );
    // Cache hit: no request at all, same directory.
    hub.clear_requests();
    assert_eq!(resolve_model(REPO, &o).unwrap(), dir);
    assert_eq!(resolve_model(&format!("{REPO}@{commit}"), &o).unwrap(), dir);
    assert!(hub.requests().is_empty(), "{:#?}", hub.requests());
}

#[test]
fn resume_within_a_call_after_the_connection_drops() {
    let (hub, _, files) = server();
    let cut = weights_len(&files) / 2;
    hub.set_faults(Faults {
        drop_after: Some(("model.safetensors".into(), cut)),
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let dir = resolve_model(REPO, &opts(&hub, cache.path())).unwrap();
    assert_same_files(&dir, &files);
    let ranges: Vec<_> = hub.requests().into_iter().filter_map(|r| r.range).collect();
    assert_eq!(ranges, vec![format!("bytes={cut}-")]);
    no_leftovers(cache.path());
}

#[test]
fn resume_across_calls_from_the_incomplete_file() {
    let (hub, commit, files) = server();
    let cut = weights_len(&files) / 3;
    hub.set_faults(Faults {
        drop_after: Some(("model.safetensors".into(), cut)),
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let mut o = opts(&hub, cache.path());
    o.retries = 0;
    let e = resolve_model(REPO, &o).unwrap_err();
    assert!(matches!(e, HubError::Network { .. }), "{e}");
    assert!(e.to_string().contains("run the same command again"), "{e}");
    // What arrived is kept for the resume, and nothing is visible in the snapshot.
    let w = &files
        .iter()
        .find(|(n, _)| n == "model.safetensors")
        .unwrap()
        .1;
    let part = repo_dir(cache.path()).join(format!("blobs/{}.incomplete", sha256_hex(w)));
    assert_eq!(fs::read(&part).unwrap(), w[..cut]);
    let snap = repo_dir(cache.path()).join("snapshots").join(&commit);
    assert!(!snap.join("model.safetensors").exists());
    hub.clear_requests();
    let dir = resolve_model(REPO, &o).unwrap();
    assert_same_files(&dir, &files);
    let reqs = hub.requests();
    let gets: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .collect();
    assert_eq!(
        gets.len(),
        2,
        "HEAD redirect target is not fetched; {reqs:#?}"
    );
    assert!(
        gets.iter()
            .any(|r| r.range.as_deref() == Some(&format!("bytes={cut}-")))
    );
    // config.json was complete and linked before the failure: not fetched again.
    assert!(
        !reqs.iter().any(|r| r.path.ends_with("/config.json")),
        "{reqs:#?}"
    );
    no_leftovers(cache.path());
}

#[test]
fn concurrent_resolutions_of_one_model_share_the_cache() {
    let (hub, commit, files) = server();
    let cache = tempfile::tempdir().unwrap();
    let o = opts(&hub, cache.path());
    let dirs: Vec<PathBuf> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| resolve_model(REPO, &o)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
    });
    for d in &dirs {
        assert_eq!(d, &repo_dir(cache.path()).join("snapshots").join(&commit));
        assert_same_files(d, &files);
    }
    #[cfg(unix)]
    assert!(
        fs::symlink_metadata(dirs[0].join("model.safetensors"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    no_leftovers(cache.path());
}

#[test]
fn a_bad_partial_file_from_an_earlier_run_is_replaced() {
    let (hub, _, files) = server();
    let w = &files
        .iter()
        .find(|(n, _)| n == "model.safetensors")
        .unwrap()
        .1;
    for stale in [vec![0xAAu8; 1000], vec![0xAAu8; w.len()]] {
        let cache = tempfile::tempdir().unwrap();
        let blobs = repo_dir(cache.path()).join("blobs");
        fs::create_dir_all(&blobs).unwrap();
        fs::write(blobs.join(format!("{}.incomplete", sha256_hex(w))), &stale).unwrap();
        hub.clear_requests();
        let dir = resolve_model(REPO, &opts(&hub, cache.path())).unwrap();
        assert_same_files(&dir, &files);
        let cdn: Vec<_> = hub
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.starts_with("/cdn/"))
            .map(|r| r.range)
            .collect();
        // Resumed with a Range (unless the stale file had full length already), the hash
        // did not match, then fetched afresh; spiece.model once.
        let short = stale.len() < w.len();
        let ranged: Vec<_> = cdn.iter().flatten().collect();
        assert_eq!(ranged.len(), usize::from(short), "{cdn:?}");
        if short {
            assert_eq!(ranged[0], &format!("bytes={}-", stale.len()));
        }
        assert_eq!(cdn.len(), 2 + usize::from(short), "{cdn:?}");
        no_leftovers(cache.path());
    }
}

#[test]
fn a_server_that_ignores_range_restarts_from_zero() {
    let (hub, _, files) = server();
    hub.set_faults(Faults {
        drop_after: Some(("model.safetensors".into(), 1000)),
        ignore_range: true,
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let dir = resolve_model(REPO, &opts(&hub, cache.path())).unwrap();
    assert_same_files(&dir, &files);
}

#[test]
fn a_corrupt_file_is_rejected_and_not_left_in_the_cache() {
    let (hub, commit, files) = server();
    hub.set_faults(Faults {
        corrupt: Some("model.safetensors".into()),
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let o = opts(&hub, cache.path());
    let e = resolve_model(REPO, &o).unwrap_err();
    let w = &files
        .iter()
        .find(|(n, _)| n == "model.safetensors")
        .unwrap()
        .1;
    match &e {
        HubError::HashMismatch { file, expected, .. } => {
            assert_eq!(file, "model.safetensors");
            assert_eq!(expected, &sha256_hex(w));
        }
        _ => panic!("{e}"),
    }
    assert!(e.to_string().contains("model.safetensors"), "{e}");
    let rd = repo_dir(cache.path());
    assert!(!rd.join("blobs").join(sha256_hex(w)).exists());
    assert!(
        !rd.join("snapshots")
            .join(&commit)
            .join("model.safetensors")
            .exists()
    );
    no_leftovers(cache.path());
    // The fault gone, the same call succeeds.
    hub.set_faults(Faults::default());
    assert_same_files(&resolve_model(REPO, &o).unwrap(), &files);
}

#[test]
fn a_short_file_is_rejected_and_not_left_in_the_cache() {
    let (hub, commit, files) = server();
    for name in ["model.safetensors", "config.json"] {
        hub.set_faults(Faults {
            truncate: Some(name.into()),
            ..Faults::default()
        });
        let cache = tempfile::tempdir().unwrap();
        let e = resolve_model(REPO, &opts(&hub, cache.path())).unwrap_err();
        let want = files.iter().find(|(n, _)| n == name).unwrap().1.len() as u64;
        match &e {
            HubError::SizeMismatch {
                file,
                expected,
                got,
            } => assert_eq!((file.as_str(), *expected, *got), (name, want, want - 1)),
            _ => panic!("{name}: {e}"),
        }
        let snap = repo_dir(cache.path()).join("snapshots").join(&commit);
        assert!(!snap.join(name).exists());
        no_leftovers(cache.path());
    }
}

#[test]
fn a_renamed_repo_follows_the_relative_redirects() {
    let (hub, commit, files) = server();
    hub.add_alias("old-owner/old-name", REPO);
    let cache = tempfile::tempdir().unwrap();
    let dir = resolve_model("old-owner/old-name", &opts(&hub, cache.path())).unwrap();
    // Cached under the name asked for, as huggingface_hub does.
    let want = cache
        .path()
        .join("models--old-owner--old-name/snapshots")
        .join(&commit);
    assert_eq!(dir, want);
    assert_same_files(&dir, &files);
    let reqs = hub.requests();
    assert!(
        reqs.iter()
            .any(|r| r.path.starts_with("/api/models/old-owner/old-name/"))
    );
    assert!(
        reqs.iter()
            .any(|r| r.path.starts_with(&format!("/{REPO}/resolve/")))
    );
}

#[test]
fn a_missing_repo_is_a_clear_error_naming_it() {
    let (hub, _, _) = server();
    let cache = tempfile::tempdir().unwrap();
    let e = resolve_model("nobody/no-such-model", &opts(&hub, cache.path())).unwrap_err();
    assert!(matches!(e, HubError::RepoNotFound { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("`nobody/no-such-model` not found"), "{msg}");
    assert!(msg.contains(&hub.url()), "{msg}");
    let e = resolve_model(&format!("{REPO}@v9"), &opts(&hub, cache.path())).unwrap_err();
    assert!(matches!(e, HubError::RevisionNotFound { .. }), "{e}");
    assert!(e.to_string().contains("no revision `v9`"), "{e}");
    assert!(!repo_dir(cache.path()).join("refs").exists());
}

#[test]
fn unauthorized_without_token_then_the_token_is_sent_to_the_hub_only() {
    let (hub, _, files) = server();
    hub.require_token(REPO, "hf_secret");
    let cache = tempfile::tempdir().unwrap();
    let mut o = opts(&hub, cache.path());
    let e = resolve_model(REPO, &o).unwrap_err();
    assert!(
        matches!(
            e,
            HubError::Unauthorized {
                token_sent: false,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("set HF_TOKEN") && msg.contains(REPO), "{msg}");
    o.token = Some("wrong".into());
    let e = resolve_model(REPO, &o).unwrap_err().to_string();
    assert!(e.contains("rejected the token"), "{e}");
    hub.clear_requests();
    o.token = Some("hf_secret".into());
    assert_same_files(&resolve_model(REPO, &o).unwrap(), &files);
    let reqs = hub.requests();
    for r in &reqs {
        let want = (!r.path.starts_with("/cdn/")).then_some("Bearer hf_secret");
        assert_eq!(r.authorization.as_deref(), want, "{r:?}");
    }
    assert!(reqs.iter().any(|r| r.path.starts_with("/cdn/")));
}

#[test]
fn offline_mode_with_and_without_a_cached_copy() {
    let (hub, commit, files) = server();
    let cache = tempfile::tempdir().unwrap();
    let mut o = opts(&hub, cache.path());
    o.offline = true;
    let e = resolve_model(REPO, &o).unwrap_err();
    assert!(matches!(e, HubError::Offline { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("HF_HUB_OFFLINE") && msg.contains(REPO),
        "{msg}"
    );
    assert!(hub.requests().is_empty());
    o.offline = false;
    let dir = resolve_model(REPO, &o).unwrap();
    hub.clear_requests();
    o.offline = true;
    assert_eq!(resolve_model(REPO, &o).unwrap(), dir);
    assert_eq!(resolve_model(&format!("{REPO}@{commit}"), &o).unwrap(), dir);
    let hub_api = Hub::new(o.clone());
    let snap = hub_api.download(&model(REPO), &[]).unwrap();
    assert_eq!(snap.dir, dir);
    assert_eq!(
        snap.files,
        ["config.json", "model.safetensors", "spiece.model"]
    );
    assert_eq!(snap.downloaded, 0);
    assert!(hub.requests().is_empty());
    assert_same_files(&dir, &files);
    // A revision never fetched is an offline error even with another one cached.
    let e = resolve_model(&format!("{REPO}@dev"), &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("never downloaded"), "{e}");
}

#[test]
fn a_sharded_checkpoint_fetches_the_index_and_every_shard() {
    let hub = FakeHub::start();
    let src = tempfile::tempdir().unwrap();
    t0_core::random::write_random_checkpoint_sharded(src.path(), &tiny(), 3, DType::F32, 8 << 10)
        .unwrap();
    let names: Vec<String> = fs::read_dir(src.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let shards: Vec<&String> = names.iter().filter(|n| n.starts_with("model-")).collect();
    assert!(shards.len() > 2, "{names:?}");
    let files: Vec<(&str, Vec<u8>)> = names
        .iter()
        .map(|n| (n.as_str(), fs::read(src.path().join(n)).unwrap()))
        .collect();
    let lfs: Vec<&str> = shards.iter().map(|s| s.as_str()).collect();
    hub.add_repo("t0-test/sharded", &files, &lfs);
    let cache = tempfile::tempdir().unwrap();
    let dir = resolve_model("t0-test/sharded", &opts(&hub, cache.path())).unwrap();
    for (n, b) in &files {
        assert_eq!(&fs::read(dir.join(n)).unwrap(), b, "{n}");
    }
    let ck = Checkpoint::open(&dir).unwrap();
    assert_eq!(ck.files().len(), shards.len());
    // No tokenizer in this repo: recorded as absent, so the next call is a cache hit.
    assert!(
        cache
            .path()
            .join("models--t0-test--sharded/.no_exist")
            .read_dir()
            .is_ok()
    );
    hub.clear_requests();
    resolve_model("t0-test/sharded", &opts(&hub, cache.path())).unwrap();
    assert!(hub.requests().is_empty(), "{:#?}", hub.requests());
}

#[test]
fn include_patterns_and_repos_without_safetensors() {
    let (hub, _, files) = server();
    hub.add_repo(
        "t0-test/pickle",
        &[
            ("config.json", b"{}".to_vec()),
            ("pytorch_model.bin", vec![0; 10]),
        ],
        &[],
    );
    let cache = tempfile::tempdir().unwrap();
    let h = Hub::new(opts(&hub, cache.path()));
    let snap = h.download(&model(REPO), &["*.json".into()]).unwrap();
    assert_eq!(snap.files, vec!["config.json".to_string()]);
    assert!(snap.dir.join("config.json").is_file() && !snap.dir.join("spiece.model").exists());
    let snap = h
        .download(&model(REPO), &["spiece.*".into(), "*.json".into()])
        .unwrap();
    assert_eq!(
        snap.downloaded,
        SPIECE.len() as u64,
        "config.json is not fetched again"
    );
    let e = h
        .download(&model(REPO), &["*.bin".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no file matches --include *.bin"), "{e}");
    let e = h
        .download(&model("t0-test/pickle"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("safetensors only") && e.contains("pytorch_model.bin"),
        "{e}"
    );
    // The full t0 set after a partial download fetches only what is missing.
    let snap = h.download(&model(REPO), &[]).unwrap();
    assert_eq!(snap.downloaded, weights_len(&files) as u64);
}

/// Lays `files` out as huggingface_hub 0.x does: blobs named by ETag, snapshot symlinks
/// `../../blobs/<etag>`, `refs/main` with the commit.
#[cfg(unix)]
fn python_layout(cache: &Path, commit: &str, files: &[(String, Vec<u8>)], link: &[&str]) {
    let rd = repo_dir(cache);
    fs::create_dir_all(rd.join("blobs")).unwrap();
    fs::create_dir_all(rd.join("refs")).unwrap();
    fs::create_dir_all(rd.join("snapshots").join(commit)).unwrap();
    fs::write(rd.join("refs/main"), commit).unwrap();
    for (name, bytes) in files {
        let etag = if name == "config.json" {
            sha256_hex(bytes)[..40].to_string()
        } else {
            sha256_hex(bytes)
        };
        fs::write(rd.join("blobs").join(&etag), bytes).unwrap();
        if link.contains(&name.as_str()) {
            std::os::unix::fs::symlink(
                format!("../../blobs/{etag}"),
                rd.join("snapshots").join(commit).join(name),
            )
            .unwrap();
        }
    }
}

#[cfg(unix)]
#[test]
fn a_cache_written_by_python_is_reused() {
    let (hub, commit, files) = server();
    // Complete: no request at all.
    let cache = tempfile::tempdir().unwrap();
    python_layout(
        cache.path(),
        &commit,
        &files,
        &["config.json", "model.safetensors", "spiece.model"],
    );
    let o = opts(&hub, cache.path());
    let dir = resolve_model(REPO, &o).unwrap();
    assert_eq!(dir, repo_dir(cache.path()).join("snapshots").join(&commit));
    assert!(hub.requests().is_empty());
    // Weights blob present but not linked in this snapshot (e.g. fetched for another
    // revision): a HEAD for its ETag, then a link, no GET of the weights.
    let cache = tempfile::tempdir().unwrap();
    python_layout(cache.path(), &commit, &files, &["config.json"]);
    let o = opts(&hub, cache.path());
    let dir = resolve_model(REPO, &o).unwrap();
    assert_same_files(&dir, &files);
    let reqs = hub.requests();
    assert!(
        !reqs
            .iter()
            .any(|r| r.method == "GET" && r.path.starts_with("/cdn/")),
        "{reqs:#?}"
    );
    assert_eq!(
        reqs.iter().filter(|r| r.method == "HEAD").count(),
        2,
        "{reqs:#?}"
    );
}

/// The Python interpreter with huggingface_hub (`T0_PYTHON`, default /work/venv/bin/python,
/// else `python3`), or None (the caller skips with a message).
fn python() -> Option<String> {
    let py = std::env::var("T0_PYTHON").unwrap_or_else(|_| {
        if Path::new("/work/venv/bin/python").exists() {
            "/work/venv/bin/python".into()
        } else {
            "python3".into()
        }
    });
    let ok = std::process::Command::new(&py)
        .args(["-c", "import huggingface_hub"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        eprintln!("skipping: {py} cannot import huggingface_hub");
        None
    }
}

fn run_script(py: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/hub_cache_python_check.py");
    let mut c = std::process::Command::new(py);
    c.arg(&script).args(args);
    for k in [
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_ENDPOINT",
    ] {
        c.env_remove(k);
    }
    // The fake Hub is on 127.0.0.1: no proxy can reach it.
    c.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// huggingface_hub (Python) reads a cache t0 wrote: `scan_cache_dir` sees the repo and
/// `hf_hub_download(..., local_files_only=True)` returns our files.
#[test]
fn python_huggingface_hub_reads_our_cache() {
    let Some(py) = python() else { return };
    let (hub, commit, files) = server();
    let cache = tempfile::tempdir().unwrap();
    resolve_model(REPO, &opts(&hub, cache.path())).unwrap();
    let mut args = vec![cache.path().to_str().unwrap(), REPO, commit.as_str()];
    args.extend(files.iter().map(|(n, _)| n.as_str()));
    run_script(&py, &args, &[("HF_HUB_OFFLINE", "1")]);
}

/// t0 reuses a cache that huggingface_hub itself downloaded (from the same fake Hub):
/// no request at all, and the files are the same.
#[test]
fn a_cache_downloaded_by_python_is_reused_without_requests() {
    let Some(py) = python() else { return };
    let (hub, commit, files) = server();
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec!["--download", cache.path().to_str().unwrap(), REPO];
    args.extend(files.iter().map(|(n, _)| n.as_str()));
    run_script(
        &py,
        &args,
        &[
            ("HF_ENDPOINT", &hub.url()),
            ("HF_HUB_DISABLE_TELEMETRY", "1"),
        ],
    );
    assert!(
        hub.requests().iter().any(|r| r.method == "GET"),
        "Python did download"
    );
    hub.clear_requests();
    let dir = resolve_model(REPO, &opts(&hub, cache.path())).unwrap();
    assert_eq!(dir, repo_dir(cache.path()).join("snapshots").join(&commit));
    assert_same_files(&dir, &files);
    assert!(hub.requests().is_empty(), "{:#?}", hub.requests());
}
