#!/usr/bin/env python3
"""Checks that huggingface_hub (Python) reads a Hub cache written by t0.

Usage:
  hub_cache_python_check.py CACHE_DIR REPO_ID COMMIT FILE...     check a cache t0 wrote
  hub_cache_python_check.py --download CACHE_DIR REPO_ID FILE...  fill a cache from HF_ENDPOINT

Run by t0-hub's tests against their fake Hub. The check: `scan_cache_dir` reports no
warnings and sees the repo, the commit, the `main` ref and every file;
`hf_hub_download(..., local_files_only=True)` returns our snapshot file for the branch and
for the commit; LFS blobs are named by their sha256. `--download` makes huggingface_hub
itself write the cache (from the server in HF_ENDPOINT), for t0 to reuse.

Requires: huggingface_hub (checked with 0.36.2: `pip install huggingface_hub==0.36.2`).
"""

import hashlib
import os
import sys

from huggingface_hub import hf_hub_download, scan_cache_dir


def download(cache: str, repo: str, files: list) -> None:
    for f in files:
        hf_hub_download(repo, f, cache_dir=cache)
    print("ok: downloaded")


def main() -> None:
    if sys.argv[1] == "--download":
        download(sys.argv[2], sys.argv[3], sys.argv[4:])
        return
    cache, repo, commit, *files = sys.argv[1:]
    info = scan_cache_dir(cache)
    assert not info.warnings, info.warnings
    repos = {r.repo_id: r for r in info.repos}
    assert repo in repos, f"{repo} not in {sorted(repos)}"
    r = repos[repo]
    assert r.repo_type == "model", r.repo_type
    assert r.size_on_disk > 0
    revs = {rev.commit_hash: rev for rev in r.revisions}
    assert commit in revs, f"{commit} not in {sorted(revs)}"
    rev = revs[commit]
    assert "main" in rev.refs, rev.refs
    names = {f.file_name for f in rev.files}
    assert set(files) <= names, (files, names)
    snapshot = os.path.join(cache, "models--" + repo.replace("/", "--"), "snapshots", commit)
    for f in files:
        for revision in (None, commit):
            p = hf_hub_download(
                repo, f, revision=revision, cache_dir=cache, local_files_only=True
            )
            assert os.path.realpath(p) == os.path.realpath(os.path.join(snapshot, f)), p
        blob = os.path.realpath(os.path.join(snapshot, f))
        name = os.path.basename(blob)
        if len(name) == 64:
            with open(blob, "rb") as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == name, f
    print(f"ok: huggingface_hub {__import__('huggingface_hub').__version__} reads {repo}@{commit}")


if __name__ == "__main__":
    main()
