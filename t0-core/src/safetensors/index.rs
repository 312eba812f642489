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

use super::{EntryKind, ObjectSeed, parse_object};

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

/// One top-level entry of an index: only `weight_map` and `metadata.total_size` are read;
/// everything else is skipped without being stored.
enum IndexEntry {
    WeightMap(Vec<(String, String)>),
    Metadata(Option<u64>),
    Other,
}

/// The `metadata` object: `total_size` when it is an integer; the rest skipped.
struct Metadata(Option<u64>);

impl<'de> serde::Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Metadata, A::Error> {
                let mut total = None;
                while let Some(k) = m.next_key::<String>()? {
                    if k == "total_size" {
                        total = m.next_value::<TotalSize>()?.0;
                    } else {
                        m.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(Metadata(total))
            }
        }
        d.deserialize_map(V)
    }
}

/// `total_size`: an integer, or anything else (ignored, as HF tools sometimes write floats).
struct TotalSize(Option<u64>);

impl<'de> serde::Deserialize<'de> for TotalSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TotalSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E>(self, v: u64) -> Result<TotalSize, E> {
                Ok(TotalSize(Some(v)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<TotalSize, E> {
                Ok(TotalSize(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<TotalSize, E> {
                Ok(TotalSize(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<TotalSize, E> {
                Ok(TotalSize(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<TotalSize, E> {
                Ok(TotalSize(None))
            }
            fn visit_unit<E>(self) -> Result<TotalSize, E> {
                Ok(TotalSize(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<TotalSize, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(TotalSize(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<TotalSize, A::Error> {
                while m
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(TotalSize(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl EntryKind for IndexEntry {
    fn read<'de, A: serde::de::MapAccess<'de>>(
        key: &str,
        inner_key: &mut String,
        m: &mut A,
    ) -> Result<Self, A::Error> {
        match key {
            "weight_map" => {
                let mut scratch = String::new();
                m.next_value_seed(ObjectSeed::<String> {
                    key: inner_key,
                    inner_key: &mut scratch,
                    kind: core::marker::PhantomData,
                })
                .map(IndexEntry::WeightMap)
            }
            "metadata" => m
                .next_value::<Metadata>()
                .map(|t| IndexEntry::Metadata(t.0)),
            _ => m
                .next_value::<serde::de::IgnoredAny>()
                .map(|_| IndexEntry::Other),
        }
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
        let entries = parse_object::<IndexEntry>(text).map_err(|(key, inner, e)| {
            IndexError::Json(match (key.as_str(), inner.as_str()) {
                ("", _) => e.to_string(),
                ("weight_map", t) if !t.is_empty() => {
                    alloc::format!("weight_map: tensor `{t}`: {e}")
                }
                (k, _) => alloc::format!("{k}: {e}"),
            })
        })?;
        let mut map = None;
        let mut total_size = None;
        for (_, entry) in entries {
            match entry {
                IndexEntry::WeightMap(m) => {
                    if map.is_some() {
                        return Err(IndexError::Json("\"weight_map\" appears twice".into()));
                    }
                    map = Some(m);
                }
                IndexEntry::Metadata(t) => total_size = t,
                IndexEntry::Other => {}
            }
        }
        let entries = map.ok_or(IndexError::MissingWeightMap)?;
        if entries.is_empty() {
            return Err(IndexError::Empty);
        }
        let mut weight_map = BTreeMap::new();
        for (tensor, shard) in entries {
            if !valid_shard_name(&shard) {
                return Err(IndexError::BadShardName { tensor, shard });
            }
            if weight_map.contains_key(&tensor) {
                return Err(IndexError::DuplicateTensor(tensor));
            }
            weight_map.insert(tensor, shard);
        }
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
        assert!(e.to_string().contains("weight_map: tensor `a`"), "{e}");
        let e = err(r#"{"metadata": 3, "weight_map": {"a": "b"}}"#);
        assert!(
            e.to_string().starts_with("invalid index JSON: metadata:"),
            "{e}"
        );
        assert!(matches!(
            err(r#"{"weight_map": {"a": "b"}} x"#),
            IndexError::Json(_)
        ));
        assert!(matches!(
            err(r#"{"weight_map": {"a": "b"}, "weight_map": {"a": "b"}}"#),
            IndexError::Json(_)
        ));
        // Odd metadata is ignored, as long as it is JSON.
        let ok = ShardIndex::parse(
            br#"{"metadata": {"total_size": 1.5e9, "x": [{}]}, "weight_map": {"a": "b"}}"#,
        )
        .unwrap();
        assert_eq!(ok.total_size, None);
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
