//! The `model.safetensors.index.json` of a sharded checkpoint:
//! `{"metadata": {"total_size": N}, "weight_map": {"tensor name": "shard file name"}}`.
//!
//! ```
//! use t0_core::safetensors::index::ShardIndex;
//! let ix = ShardIndex::parse(br#"{"metadata": {"total_size": 8},
//!     "weight_map": {"a": "model-00001-of-00002.safetensors",
//!                    "b": "model-00002-of-00002.safetensors"}}"#).unwrap();
//! assert_eq!(ix.shards(), vec!["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
//! assert_eq!(ix.shard_of("b"), Some("model-00002-of-00002.safetensors"));
//! ```

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::Entries;

/// Largest accepted index file (real ones are tens of kilobytes).
pub const MAX_INDEX_LEN: u64 = 64 << 20;

/// What is wrong with an index file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexError {
    /// Not UTF-8, not JSON, or JSON of the wrong shape.
    Json(String),
    /// The `weight_map` object is absent.
    MissingWeightMap,
    /// The `weight_map` lists no tensor.
    Empty,
    /// A tensor is listed twice.
    DuplicateTensor(String),
    /// A shard is not a plain file name in the checkpoint directory (empty, a path, `..`).
    BadShardName {
        /// The tensor it is listed for.
        tensor: String,
        /// The shard as written.
        shard: String,
    },
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::Json(m) => write!(f, "invalid index JSON: {m}"),
            IndexError::MissingWeightMap => f.write_str("no \"weight_map\" object"),
            IndexError::Empty => f.write_str("\"weight_map\" lists no tensor"),
            IndexError::DuplicateTensor(t) => {
                write!(f, "tensor `{t}` is listed twice in \"weight_map\"")
            }
            IndexError::BadShardName { tensor, shard } => write!(
                f,
                "tensor `{tensor}`: shard {shard:?} is not a file name in the checkpoint directory"
            ),
        }
    }
}

impl core::error::Error for IndexError {}

/// A parsed, validated index: which shard holds each tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIndex {
    /// Tensor name → shard file name (relative to the index's directory).
    pub weight_map: BTreeMap<String, String>,
    /// `metadata.total_size` when present (informational; not checked).
    pub total_size: Option<u64>,
}

/// The top level: only the two keys we read; others are ignored. Must be a JSON object.
struct RawIndex {
    metadata: Option<serde_json::Value>,
    weight_map: Option<Entries>,
}

impl<'de> serde::Deserialize<'de> for RawIndex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawIndex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object with a \"weight_map\"")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<RawIndex, A::Error> {
                use serde::de::Error;
                let mut raw = RawIndex {
                    metadata: None,
                    weight_map: None,
                };
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "weight_map" if raw.weight_map.is_some() => {
                            return Err(A::Error::custom("\"weight_map\" appears twice"));
                        }
                        "weight_map" => raw.weight_map = Some(m.next_value()?),
                        "metadata" => raw.metadata = Some(m.next_value()?),
                        _ => {
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(raw)
            }
        }
        d.deserialize_map(V)
    }
}

fn valid_shard_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && !s.contains(['/', '\\', '\0'])
        && !(s.len() >= 2 && s.as_bytes()[1] == b':')
}

impl ShardIndex {
    /// Parses the bytes of an index file.
    pub fn parse(bytes: &[u8]) -> Result<Self, IndexError> {
        let text = core::str::from_utf8(bytes)
            .map_err(|e| IndexError::Json(alloc::format!("not UTF-8: {e}")))?;
        let raw: RawIndex =
            serde_json::from_str(text).map_err(|e| IndexError::Json(e.to_string()))?;
        let entries = raw.weight_map.ok_or(IndexError::MissingWeightMap)?;
        if entries.0.is_empty() {
            return Err(IndexError::Empty);
        }
        let mut weight_map = BTreeMap::new();
        for (tensor, shard) in entries.0 {
            let serde_json::Value::String(shard) = shard else {
                return Err(IndexError::Json(alloc::format!(
                    "tensor `{tensor}`: the shard must be a string, found {shard}"
                )));
            };
            if !valid_shard_name(&shard) {
                return Err(IndexError::BadShardName { tensor, shard });
            }
            if weight_map.contains_key(&tensor) {
                return Err(IndexError::DuplicateTensor(tensor));
            }
            weight_map.insert(tensor, shard);
        }
        let total_size = raw
            .metadata
            .as_ref()
            .and_then(|m| m.get("total_size"))
            .and_then(|v| v.as_u64());
        Ok(ShardIndex {
            weight_map,
            total_size,
        })
    }

    /// The distinct shard file names, sorted.
    pub fn shards(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.weight_map.values().map(String::as_str).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The shard holding `tensor`.
    pub fn shard_of(&self, tensor: &str) -> Option<&str> {
        self.weight_map.get(tensor).map(String::as_str)
    }

    /// Serialises back to index JSON (as HF writes it: metadata first, names sorted).
    pub fn to_json(&self) -> String {
        let mut s = String::from("{\n  \"metadata\": {");
        if let Some(t) = self.total_size {
            s.push_str(&alloc::format!("\n    \"total_size\": {t}\n  "));
        }
        s.push_str("},\n  \"weight_map\": {");
        for (i, (k, v)) in self.weight_map.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let k = serde_json::to_string(k).unwrap_or_default();
            let v = serde_json::to_string(v).unwrap_or_default();
            s.push_str(&alloc::format!("\n    {k}: {v}"));
        }
        s.push_str("\n  }\n}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hf_index_and_round_trips() {
        let text = br#"{"metadata": {"total_size": 44541587456}, "weight_map": {
            "encoder.block.0.layer.0.SelfAttention.q.weight": "model-00001-of-00002.safetensors",
            "lm_head.weight": "model-00002-of-00002.safetensors",
            "shared.weight": "model-00001-of-00002.safetensors"}, "extra": [1]}"#;
        let ix = ShardIndex::parse(text).unwrap();
        assert_eq!(ix.total_size, Some(44541587456));
        assert_eq!(ix.weight_map.len(), 3);
        assert_eq!(ix.shards().len(), 2);
        assert_eq!(ix.shard_of("missing"), None);
        assert_eq!(ShardIndex::parse(ix.to_json().as_bytes()).unwrap(), ix);
        // metadata is optional
        let ix = ShardIndex::parse(br#"{"weight_map": {"a": "x.safetensors"}}"#).unwrap();
        assert_eq!(ix.total_size, None);
    }

    #[test]
    fn rejects_each_malformation_by_name() {
        let err = |t: &str| ShardIndex::parse(t.as_bytes()).unwrap_err();
        assert!(matches!(err("nope"), IndexError::Json(_)));
        assert!(matches!(err("[]"), IndexError::Json(_)));
        assert!(matches!(
            ShardIndex::parse(b"{\"weight_map\": {\"\xff\": \"a\"}}").unwrap_err(),
            IndexError::Json(_)
        ));
        assert_eq!(err(r#"{"metadata": {}}"#), IndexError::MissingWeightMap);
        assert_eq!(err(r#"{"weight_map": {}}"#), IndexError::Empty);
        assert_eq!(
            err(r#"{"weight_map": {"a": "x", "a": "y"}}"#),
            IndexError::DuplicateTensor("a".into())
        );
        let e = err(r#"{"weight_map": {"a": 3}}"#);
        assert!(e.to_string().contains("`a`"), "{e}");
        for bad in [
            "",
            "..",
            "../model.safetensors",
            "/etc/passwd",
            "a\\\\b",
            "C:x",
        ] {
            let t = alloc::format!(r#"{{"weight_map": {{"t": "{bad}"}}}}"#);
            assert_eq!(
                err(&t),
                IndexError::BadShardName {
                    tensor: "t".into(),
                    shard: bad.replace("\\\\", "\\")
                },
                "{bad}"
            );
        }
    }
}
