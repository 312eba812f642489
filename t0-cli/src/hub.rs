//! Models by name (cargo feature `hub`, on by default): `--model` resolution,
//! `t0 download` and `t0 cache list`. Without the feature `--model` is a local directory
//! and the binary has no network code.

use std::path::{Path, PathBuf};

/// The directory `--model` names: a local directory as is, or (feature `hub`) a Hub repo
/// id `owner/name[@revision]` resolved to its snapshot in the Hub cache, downloading what
/// is missing (settings from `HF_ENDPOINT`, `HF_HOME`, `HF_HUB_CACHE`, `HF_TOKEN`,
/// `HF_HUB_OFFLINE`, `HF_HUB_DISABLE_PROGRESS_BARS`).
pub fn model_dir(model: &Path) -> Result<PathBuf, String> {
    #[cfg(feature = "hub")]
    if let Some(spec) = model.to_str() {
        return t0_hub::resolve_model(spec, &t0_hub::HubOptions::from_env())
            .map_err(|e| e.to_string());
    }
    Ok(model.to_path_buf())
}

#[cfg(feature = "hub")]
pub use enabled::*;

#[cfg(feature = "hub")]
mod enabled {
    use clap::{Args, Subcommand};
    use t0_hub::{Hub, HubOptions, ModelRef, human_bytes};

    /// Arguments of `t0 download`.
    #[derive(Args)]
    pub struct DownloadArgs {
        /// Repo id on the Hub: `owner/name` or `owner/name@revision`.
        repo: String,
        /// Branch, tag or commit hash (instead of `@revision` in REPO; default main).
        #[arg(long)]
        revision: Option<String>,
        /// Download the files matching this pattern (`*` and `?` wildcards; repeatable)
        /// instead of what t0 needs (config.json, the safetensors weights, the tokenizer).
        #[arg(long, value_name = "PATTERN")]
        include: Vec<String>,
        /// No progress bars or messages on stderr.
        #[arg(long, short)]
        quiet: bool,
    }

    /// `t0 cache …`.
    #[derive(Subcommand)]
    pub enum CacheCommand {
        /// List the models in the Hub cache with their revisions and sizes.
        List,
    }

    /// Runs `t0 download`: prints the snapshot directory on stdout.
    pub fn download(a: DownloadArgs) -> Result<(), String> {
        let mut m = ModelRef::parse(&a.repo).map_err(|e| e.to_string())?;
        if let Some(rev) = &a.revision {
            if a.repo.contains('@') {
                return Err(format!(
                    "give the revision once: {:?} already has one and --revision {rev:?} was given",
                    a.repo
                ));
            }
            m = m.with_revision(rev).map_err(|e| e.to_string())?;
        }
        let mut opts = HubOptions::from_env();
        opts.quiet |= a.quiet;
        let quiet = opts.quiet;
        let snap = Hub::new(opts)
            .download(&m, &a.include)
            .map_err(|e| e.to_string())?;
        if !quiet {
            eprintln!(
                "t0: {m} is commit {}: {} file(s) ready, {} downloaded",
                snap.commit,
                snap.files.len(),
                human_bytes(snap.downloaded)
            );
        }
        println!("{}", snap.dir.display());
        Ok(())
    }

    /// Runs `t0 cache …`.
    pub fn cache(c: CacheCommand) -> Result<(), String> {
        match c {
            CacheCommand::List => {
                let opts = HubOptions::from_env();
                let repos = t0_hub::scan(&opts.cache_dir).map_err(|e| e.to_string())?;
                if repos.is_empty() {
                    println!("no models in {}", opts.cache_dir.display());
                    return Ok(());
                }
                println!(
                    "{:<40} {:<12} {:<16} {:>5} {:>10}",
                    "REPO", "REVISION", "REFS", "FILES", "SIZE"
                );
                let mut total = 0;
                for r in &repos {
                    total += r.size;
                    if r.revisions.is_empty() {
                        println!(
                            "{:<40} {:<12} {:<16} {:>5} {:>10}",
                            r.repo_id, "-", "-", 0, "0 B"
                        );
                    }
                    for rev in &r.revisions {
                        let refs = if rev.refs.is_empty() {
                            "-".to_string()
                        } else {
                            rev.refs.join(",")
                        };
                        println!(
                            "{:<40} {:<12} {:<16} {:>5} {:>10}",
                            r.repo_id,
                            &rev.commit[..rev.commit.len().min(12)],
                            refs,
                            rev.files,
                            human_bytes(rev.size)
                        );
                    }
                    if r.incomplete > 0 {
                        println!(
                            "{:<40} (+{} in unfinished downloads; `t0 download {}` resumes them)",
                            "",
                            human_bytes(r.incomplete),
                            r.repo_id
                        );
                    }
                }
                println!(
                    "{} repo(s), {} on disk in {}",
                    repos.len(),
                    human_bytes(total),
                    opts.cache_dir.display()
                );
                Ok(())
            }
        }
    }
}
