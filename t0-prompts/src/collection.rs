//! Loading a promptsource templates folder: `<dataset>[/<subset>]/templates.yaml`.

use std::path::{Path, PathBuf};

use crate::error::PromptError;
use crate::template::{Metadata, Template};
use crate::yaml::{self, Node};

/// Largest `templates.yaml` accepted (the biggest in promptsource 0.2.3 is ~200 kB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The templates of one dataset (or dataset subset), in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetTemplates {
    /// Folder path relative to the templates root, with `/` (`super_glue/rte`); the name
    /// used to look the set up.
    pub folder: String,
    /// The file's `dataset` field (`super_glue`).
    pub dataset: String,
    /// The file's `subset` field (`rte`), if any.
    pub subset: Option<String>,
    /// The templates, in the order of the file.
    pub templates: Vec<Template>,
}

impl DatasetTemplates {
    /// Parses one `templates.yaml`; `folder` names the set in errors and lookups.
    pub fn from_yaml(
        text: &str,
        folder: &str,
        path: &Path,
    ) -> Result<DatasetTemplates, PromptError> {
        let bad = |message: String| PromptError::Yaml {
            path: path.to_path_buf(),
            message,
        };
        let root = yaml::parse(text).map_err(bad)?;
        if !matches!(root, Node::Map(..)) {
            return Err(bad("the document is not a mapping".into()));
        }
        let dataset = root
            .get("dataset")
            .and_then(Node::scalar_text)
            .ok_or_else(|| bad("missing 'dataset'".into()))?;
        let subset = match root.get("subset") {
            None | Some(Node::Null) => None,
            Some(n) => Some(
                n.scalar_text()
                    .ok_or_else(|| bad("'subset' is not a scalar".into()))?,
            ),
        };
        let mut templates = Vec::new();
        match root.get("templates") {
            Some(Node::Map(entries, _)) => {
                for (key, node) in entries {
                    let key = key.scalar_text().unwrap_or_default();
                    templates.push(parse_template(node, &key, folder).map_err(bad)?);
                }
            }
            Some(Node::Null) => {}
            _ => return Err(bad("missing 'templates' mapping".into())),
        }
        Ok(DatasetTemplates {
            folder: folder.to_string(),
            dataset,
            subset,
            templates,
        })
    }

    /// Reads `<dir>/templates.yaml`.
    pub fn load(path: &Path, folder: &str) -> Result<DatasetTemplates, PromptError> {
        let io = |source| PromptError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(PromptError::Yaml {
                path: path.to_path_buf(),
                message: format!("file larger than {MAX_FILE_BYTES} bytes"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        DatasetTemplates::from_yaml(&text, folder, path)
    }

    /// The template with this name (promptsource's `templates[name_to_id_mapping[name]]`).
    pub fn by_name(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.name == name)
    }

    /// The template with this id.
    pub fn by_id(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }

    /// By name, else by id; an error naming the dataset otherwise.
    pub fn get(&self, name_or_id: &str) -> Result<&Template, PromptError> {
        self.by_name(name_or_id)
            .or_else(|| self.by_id(name_or_id))
            .ok_or_else(|| PromptError::UnknownTemplate {
                dataset: self.folder.clone(),
                name: name_or_id.to_string(),
            })
    }

    /// Sorted template names (`all_template_names`).
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.templates.iter().map(|t| t.name.as_str()).collect();
        v.sort_unstable();
        v
    }
}

fn str_field(node: &Node, key: &str, required: bool) -> Result<Option<String>, String> {
    match node.get(key) {
        None | Some(Node::Null) if !required => Ok(None),
        None => Err(format!("missing '{key}'")),
        Some(Node::Str(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("'{key}' must be a string, got {other:?}")),
    }
}

fn bool_field(node: &Node, key: &str) -> Result<Option<bool>, String> {
    match node.get(key) {
        None | Some(Node::Null) => Ok(None),
        Some(Node::Bool(b)) => Ok(Some(*b)),
        // PyYAML (YAML 1.1) booleans.
        Some(Node::Str(s)) if matches!(s.as_str(), "yes" | "Yes" | "YES" | "on" | "On" | "ON") => {
            Ok(Some(true))
        }
        Some(Node::Str(s)) if matches!(s.as_str(), "no" | "No" | "NO" | "off" | "Off" | "OFF") => {
            Ok(Some(false))
        }
        Some(other) => Err(format!("'{key}' must be a boolean, got {other:?}")),
    }
}

fn list_field(node: &Node, key: &str) -> Result<Option<Vec<String>>, String> {
    match node.get(key) {
        None | Some(Node::Null) => Ok(None),
        Some(Node::Seq(items)) => items
            .iter()
            .map(|n| {
                n.scalar_text()
                    .ok_or_else(|| format!("'{key}' items must be strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!("'{key}' must be a list, got {other:?}")),
    }
}

fn parse_template(node: &Node, key: &str, folder: &str) -> Result<Template, String> {
    let ctx = |e: String| format!("template {key}: {e}");
    match node {
        Node::Map(_, Some(tag)) if tag == "Template" => {}
        _ => return Err(ctx("expected a !Template mapping".into())),
    }
    let metadata = match node.get("metadata") {
        None | Some(Node::Null) => Metadata::default(),
        Some(m @ Node::Map(_, Some(tag))) if tag == "TemplateMetadata" => Metadata {
            original_task: bool_field(m, "original_task").map_err(ctx)?,
            choices_in_prompt: bool_field(m, "choices_in_prompt").map_err(ctx)?,
            metrics: list_field(m, "metrics").map_err(ctx)?,
            languages: list_field(m, "languages").map_err(ctx)?,
        },
        Some(_) => return Err(ctx("'metadata' must be a !TemplateMetadata mapping".into())),
    };
    let id = str_field(node, "id", false)
        .map_err(ctx)?
        .unwrap_or_else(|| key.to_string());
    Ok(Template {
        id,
        name: str_field(node, "name", true)
            .map_err(ctx)?
            .unwrap_or_default(),
        jinja: str_field(node, "jinja", true)
            .map_err(ctx)?
            .unwrap_or_default(),
        answer_choices: str_field(node, "answer_choices", false).map_err(ctx)?,
        metadata,
        reference: str_field(node, "reference", false)
            .map_err(ctx)?
            .unwrap_or_default(),
        dataset: folder.to_string(),
    })
}

/// All template sets under a templates folder.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateCollection {
    /// The folder loaded.
    pub root: PathBuf,
    /// Template sets sorted by folder.
    pub datasets: Vec<DatasetTemplates>,
}

impl TemplateCollection {
    /// Loads every `templates.yaml` under `dir` (up to 3 folder levels, hidden folders
    /// skipped, as promptsource skips names starting with `.`).
    pub fn load(dir: impl AsRef<Path>) -> Result<TemplateCollection, PromptError> {
        let root = dir.as_ref().to_path_buf();
        let mut datasets = Vec::new();
        walk(&root, &root, 0, &mut datasets)?;
        datasets.sort_by(|a, b| a.folder.cmp(&b.folder));
        Ok(TemplateCollection { root, datasets })
    }

    /// The names (folders) of all template sets: `super_glue/rte`, `anli`, ...
    pub fn names(&self) -> Vec<&str> {
        self.datasets.iter().map(|d| d.folder.as_str()).collect()
    }

    /// The set for `dataset` (`super_glue/rte`, or `super_glue` + subset via
    /// [`TemplateCollection::get_subset`]).
    pub fn get(&self, name: &str) -> Result<&DatasetTemplates, PromptError> {
        let name = name.trim_matches('/');
        self.datasets
            .iter()
            .find(|d| d.folder == name)
            .ok_or_else(|| PromptError::UnknownDataset {
                name: name.to_string(),
            })
    }

    /// The set for a dataset name and optional subset.
    pub fn get_subset(
        &self,
        dataset: &str,
        subset: Option<&str>,
    ) -> Result<&DatasetTemplates, PromptError> {
        match subset {
            Some(s) => self.get(&format!("{dataset}/{s}")),
            None => self.get(dataset),
        }
    }

    /// Number of templates in all sets.
    pub fn template_count(&self) -> usize {
        self.datasets.iter().map(|d| d.templates.len()).sum()
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<DatasetTemplates>,
) -> Result<(), PromptError> {
    let io = |source| PromptError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let file = dir.join("templates.yaml");
    if depth > 0 && file.is_file() {
        let folder = dir
            .strip_prefix(root)
            .unwrap_or(dir)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        out.push(DatasetTemplates::load(&file, &folder)?);
    }
    if depth >= 3 {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for e in entries {
        walk(root, &e, depth + 1, out)?;
    }
    Ok(())
}
