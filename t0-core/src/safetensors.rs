//! A `no_std` parser for the safetensors format over a byte buffer (an mmap or a `Vec`).
//!
//! Layout: 8 bytes little-endian header length `n`, `n` bytes of JSON
//! (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`), then
//! the data section; offsets are relative to its start. We require what the reference
//! implementation requires: tensors tile the data section exactly (no gaps, no overlap, no
//! trailing bytes), `end - begin == numel × dtype size`, unique names. Nothing is allocated
//! from an untrusted size before it has been checked against the buffer.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::tensor::{DType, TensorSource, TensorView};

pub mod index;

/// Largest accepted JSON header (the reference implementation's cap).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// What is wrong with a safetensors buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SafetensorsError {
    /// Shorter than the 8-byte length prefix.
    TooShort {
        /// Buffer length.
        len: usize,
    },
    /// The header length exceeds [`MAX_HEADER_LEN`] (not a safetensors file, or hostile).
    HeaderTooLarge {
        /// Declared header length.
        header_len: u64,
    },
    /// The header length points past the end of the file (truncated file).
    HeaderBeyondFile {
        /// Declared header length.
        header_len: u64,
        /// File length.
        file_len: usize,
    },
    /// The header bytes are not UTF-8.
    HeaderNotUtf8 {
        /// Offset within the header of the first invalid byte.
        valid_up_to: usize,
    },
    /// The header is not JSON, or JSON of the wrong shape.
    InvalidHeader(String),
    /// Two entries with the same name.
    DuplicateTensor(String),
    /// A dtype string we do not know.
    UnknownDtype {
        /// Tensor name.
        tensor: String,
        /// The dtype as written.
        dtype: String,
    },
    /// A known dtype that t0 cannot use.
    UnsupportedDtype {
        /// Tensor name.
        tensor: String,
        /// The dtype as written.
        dtype: String,
    },
    /// `numel × dtype size` overflows `usize`.
    ShapeOverflow {
        /// Tensor name.
        tensor: String,
    },
    /// `data_offsets` has `end < begin`.
    ReversedOffsets {
        /// Tensor name.
        tensor: String,
        /// Declared begin.
        begin: u64,
        /// Declared end.
        end: u64,
    },
    /// `end - begin` does not equal `numel × dtype size`.
    SizeMismatch {
        /// Tensor name.
        tensor: String,
        /// Bytes implied by dtype and shape.
        expected: usize,
        /// `end - begin` as declared.
        declared: u64,
    },
    /// The tensor's bytes lie outside the data section.
    OutOfBounds {
        /// Tensor name.
        tensor: String,
        /// Declared end offset.
        end: u64,
        /// Data section length.
        data_len: usize,
    },
    /// The tensor's bytes overlap another tensor's.
    Overlap {
        /// Tensor name.
        tensor: String,
        /// The tensor it overlaps (the one before it in the data section).
        other: String,
        /// Where it begins.
        begin: u64,
        /// Where the other one ends.
        other_end: u64,
    },
    /// Unused bytes lie between the previous tensor (or the data start) and this one.
    Gap {
        /// Tensor name.
        tensor: String,
        /// Where it should begin (end of the previous tensor).
        expected_begin: u64,
        /// Where it begins.
        begin: u64,
    },
    /// Bytes after the last tensor.
    TrailingBytes {
        /// The last tensor in the data section (empty when there is none).
        last: String,
        /// End of the last tensor.
        used: u64,
        /// Data section length.
        data_len: usize,
    },
}

impl fmt::Display for SafetensorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SafetensorsError::*;
        match self {
            TooShort { len } => {
                write!(
                    f,
                    "file is {len} bytes, shorter than the 8-byte header length"
                )
            }
            HeaderTooLarge { header_len } => write!(
                f,
                "header length {header_len} exceeds the {MAX_HEADER_LEN}-byte limit (not a safetensors file?)"
            ),
            HeaderBeyondFile {
                header_len,
                file_len,
            } => write!(
                f,
                "header length {header_len} runs past the end of the {file_len}-byte file (truncated file?)"
            ),
            HeaderNotUtf8 { valid_up_to } => write!(
                f,
                "header is not UTF-8 (invalid byte at header offset {valid_up_to})"
            ),
            InvalidHeader(m) => write!(f, "invalid header: {m}"),
            DuplicateTensor(n) => write!(f, "tensor `{n}` appears twice in the header"),
            UnknownDtype { tensor, dtype } => {
                write!(f, "tensor `{tensor}`: unknown dtype {dtype:?}")
            }
            UnsupportedDtype { tensor, dtype } => write!(
                f,
                "tensor `{tensor}`: dtype {dtype} is not supported (t0 reads F32, F16, BF16, I8, U8)"
            ),
            ShapeOverflow { tensor } => write!(f, "tensor `{tensor}`: shape size overflows"),
            ReversedOffsets { tensor, begin, end } => write!(
                f,
                "tensor `{tensor}`: data_offsets [{begin}, {end}] end before they begin"
            ),
            SizeMismatch {
                tensor,
                expected,
                declared,
            } => write!(
                f,
                "tensor `{tensor}`: data_offsets span {declared} bytes but dtype × shape needs {expected}"
            ),
            OutOfBounds {
                tensor,
                end,
                data_len,
            } => write!(
                f,
                "tensor `{tensor}`: data ends at {end}, past the {data_len}-byte data section (truncated file?)"
            ),
            Overlap {
                tensor,
                other,
                begin,
                other_end,
            } => write!(
                f,
                "tensor `{tensor}`: begins at {begin}, inside tensor `{other}` (which ends at {other_end}): overlapping data"
            ),
            Gap {
                tensor,
                expected_begin,
                begin,
            } => write!(
                f,
                "tensor `{tensor}`: begins at {begin}, leaving {} unused bytes after offset {expected_begin}",
                begin.saturating_sub(*expected_begin)
            ),
            TrailingBytes {
                last,
                used,
                data_len,
            } => write!(
                f,
                "{} trailing bytes after the last tensor `{last}` (it ends at {used}, the data section is {data_len} bytes)",
                (*data_len as u64).saturating_sub(*used)
            ),
        }
    }
}

impl core::error::Error for SafetensorsError {}

/// One header entry after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Element type.
    pub dtype: DType,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Byte range within the data section.
    pub begin: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
}

/// The validated header of a safetensors file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Tensors by name.
    pub tensors: BTreeMap<String, TensorInfo>,
    /// The optional `__metadata__` string map.
    pub metadata: BTreeMap<String, String>,
    /// Offset of the data section from the start of the file (`8 + header length`).
    pub data_start: usize,
}

/// Reads the 8-byte prefix and returns the header length, checked against `file_len`.
pub fn header_len(prefix: &[u8], file_len: usize) -> Result<usize, SafetensorsError> {
    let Some(bytes) = prefix.get(..8) else {
        return Err(SafetensorsError::TooShort {
            len: prefix.len().min(file_len),
        });
    };
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    let n = u64::from_le_bytes(b);
    let fits = (file_len as u64)
        .checked_sub(8)
        .is_some_and(|rest| n <= rest);
    if n > MAX_HEADER_LEN {
        return Err(SafetensorsError::HeaderTooLarge { header_len: n });
    }
    if !fits {
        return Err(SafetensorsError::HeaderBeyondFile {
            header_len: n,
            file_len,
        });
    }
    Ok(n as usize)
}

/// Most dimensions accepted in a shape (real tensors have a handful).
pub const MAX_DIMS: usize = 1024;

/// A raw header entry as JSON gives it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInfo {
    dtype: String,
    shape: Shape,
    data_offsets: (u64, u64),
}

/// A shape, read without ever holding more than [`MAX_DIMS`] dimensions.
struct Shape(Vec<u64>);

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of non-negative integers")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Shape, A::Error> {
                let mut v = Vec::new();
                while let Some(d) = s.next_element::<u64>()? {
                    if v.len() == MAX_DIMS {
                        return Err(serde::de::Error::custom(alloc::format!(
                            "more than {MAX_DIMS} dimensions"
                        )));
                    }
                    v.push(d);
                }
                Ok(Shape(v))
            }
        }
        d.deserialize_seq(V)
    }
}

/// How the value under one key of a JSON object is read (typed, so that no untrusted
/// `serde_json::Value` tree is ever built).
pub(crate) trait EntryKind: Sized {
    /// Reads the value for `key`; `inner_key` tracks the key being read inside a nested
    /// object, for error messages.
    fn read<'de, A: serde::de::MapAccess<'de>>(
        key: &str,
        inner_key: &mut String,
        m: &mut A,
    ) -> Result<Self, A::Error>;
}

impl EntryKind for String {
    fn read<'de, A: serde::de::MapAccess<'de>>(
        _: &str,
        _: &mut String,
        m: &mut A,
    ) -> Result<Self, A::Error> {
        m.next_value()
    }
}

/// Reads a JSON object's entries in order (duplicates kept, so they can be reported),
/// recording the key being read in `key` so that errors can name it.
pub(crate) struct ObjectSeed<'k, E> {
    pub(crate) key: &'k mut String,
    pub(crate) inner_key: &'k mut String,
    pub(crate) kind: core::marker::PhantomData<E>,
}

impl<'de, E: EntryKind> serde::de::DeserializeSeed<'de> for ObjectSeed<'_, E> {
    type Value = Vec<(String, E)>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, E: EntryKind> serde::de::Visitor<'de> for ObjectSeed<'_, E> {
    type Value = Vec<(String, E)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut v = Vec::new();
        while let Some(k) = m.next_key::<String>()? {
            self.key.clear();
            self.key.push_str(&k);
            self.inner_key.clear();
            let e = E::read(&k, self.inner_key, &mut m)?;
            v.push((k, e));
        }
        self.key.clear();
        Ok(v)
    }
}

/// Parses `text` as one JSON object of `E` entries. On error returns the key being read
/// (empty when none), the nested key (empty when none) and serde's message.
pub(crate) fn parse_object<E: EntryKind>(
    text: &str,
) -> Result<Vec<(String, E)>, (String, String, serde_json::Error)> {
    use serde::de::DeserializeSeed;
    let (mut key, mut inner_key) = (String::new(), String::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = ObjectSeed {
        key: &mut key,
        inner_key: &mut inner_key,
        kind: core::marker::PhantomData,
    };
    let r = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    r.map_err(|e| (key, inner_key, e))
}

/// One top-level header entry.
enum HeaderEntry {
    Metadata(BTreeMap<String, String>),
    Tensor(RawInfo),
}

impl EntryKind for HeaderEntry {
    fn read<'de, A: serde::de::MapAccess<'de>>(
        key: &str,
        _: &mut String,
        m: &mut A,
    ) -> Result<Self, A::Error> {
        if key == "__metadata__" {
            m.next_value().map(HeaderEntry::Metadata)
        } else {
            m.next_value().map(HeaderEntry::Tensor)
        }
    }
}

fn parse_dtype(tensor: &str, s: &str) -> Result<DType, SafetensorsError> {
    Ok(match s {
        "F32" => DType::F32,
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "I8" => DType::I8,
        "U8" => DType::U8,
        "F64" | "I16" | "I32" | "I64" | "U16" | "U32" | "U64" | "BOOL" | "F8_E4M3" | "F8_E5M2"
        | "F8_E8M0" | "F4" | "F6_E2M3" | "F6_E3M2" | "C64" => {
            return Err(SafetensorsError::UnsupportedDtype {
                tensor: tensor.to_string(),
                dtype: s.to_string(),
            });
        }
        _ => {
            return Err(SafetensorsError::UnknownDtype {
                tensor: tensor.to_string(),
                dtype: s.to_string(),
            });
        }
    })
}

/// Parses and validates the JSON header text against a data section of `data_len` bytes.
pub fn parse_header(
    json: &[u8],
    data_start: usize,
    data_len: usize,
) -> Result<Header, SafetensorsError> {
    let text = core::str::from_utf8(json).map_err(|e| SafetensorsError::HeaderNotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let entries = parse_object::<HeaderEntry>(text).map_err(|(key, _, e)| {
        SafetensorsError::InvalidHeader(match key.as_str() {
            "" => e.to_string(),
            "__metadata__" => alloc::format!("__metadata__: {e}"),
            _ => alloc::format!("tensor `{key}`: {e}"),
        })
    })?;
    let mut tensors = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    let mut seen_meta = false;
    for (name, entry) in entries {
        let raw = match entry {
            HeaderEntry::Metadata(m) => {
                if seen_meta {
                    return Err(SafetensorsError::DuplicateTensor(name));
                }
                seen_meta = true;
                metadata = m;
                continue;
            }
            HeaderEntry::Tensor(raw) => raw,
        };
        let dtype = parse_dtype(&name, &raw.dtype)?;
        let mut numel: usize = 1;
        let mut shape = Vec::with_capacity(raw.shape.0.len());
        for &d in &raw.shape.0 {
            let d = usize::try_from(d).map_err(|_| SafetensorsError::ShapeOverflow {
                tensor: name.clone(),
            })?;
            numel = numel
                .checked_mul(d)
                .ok_or_else(|| SafetensorsError::ShapeOverflow {
                    tensor: name.clone(),
                })?;
            shape.push(d);
        }
        let expected =
            numel
                .checked_mul(dtype.size())
                .ok_or_else(|| SafetensorsError::ShapeOverflow {
                    tensor: name.clone(),
                })?;
        let (b, e) = raw.data_offsets;
        if e < b {
            return Err(SafetensorsError::ReversedOffsets {
                tensor: name,
                begin: b,
                end: e,
            });
        }
        if e - b != expected as u64 {
            return Err(SafetensorsError::SizeMismatch {
                tensor: name,
                expected,
                declared: e - b,
            });
        }
        if e > data_len as u64 {
            return Err(SafetensorsError::OutOfBounds {
                tensor: name,
                end: e,
                data_len,
            });
        }
        let info = TensorInfo {
            dtype,
            shape,
            begin: b as usize,
            end: e as usize,
        };
        if tensors.insert(name.clone(), info).is_some() {
            return Err(SafetensorsError::DuplicateTensor(name));
        }
    }
    // The tensors must tile the data section: sort by (begin, end) and walk.
    let mut order: Vec<(&String, &TensorInfo)> = tensors.iter().collect();
    order.sort_by_key(|(_, i)| (i.begin, i.end));
    let mut pos = 0u64;
    let mut prev: Option<&String> = None;
    for (name, info) in order {
        let begin = info.begin as u64;
        if begin < pos {
            return Err(SafetensorsError::Overlap {
                tensor: name.clone(),
                other: prev.cloned().unwrap_or_default(),
                begin,
                other_end: pos,
            });
        }
        if begin > pos {
            return Err(SafetensorsError::Gap {
                tensor: name.clone(),
                expected_begin: pos,
                begin,
            });
        }
        pos = info.end as u64;
        prev = Some(name);
    }
    if pos != data_len as u64 {
        return Err(SafetensorsError::TrailingBytes {
            last: prev.cloned().unwrap_or_default(),
            used: pos,
            data_len,
        });
    }
    Ok(Header {
        tensors,
        metadata,
        data_start,
    })
}

/// A parsed safetensors buffer: the header plus borrowed access to the bytes.
#[derive(Debug, Clone)]
pub struct SafeTensors<'a> {
    header: Header,
    data: &'a [u8],
}

impl<'a> SafeTensors<'a> {
    /// Parses a whole safetensors file held in memory (or memory-mapped).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SafetensorsError> {
        let n = header_len(bytes, bytes.len())?;
        let data_start = 8 + n;
        // header_len checked 8 + n <= bytes.len().
        let (json, data) = match (bytes.get(8..data_start), bytes.get(data_start..)) {
            (Some(j), Some(d)) => (j, d),
            _ => {
                return Err(SafetensorsError::HeaderBeyondFile {
                    header_len: n as u64,
                    file_len: bytes.len(),
                });
            }
        };
        let header = parse_header(json, data_start, data.len())?;
        Ok(SafeTensors { header, data })
    }

    /// The validated header.
    pub fn header(&self) -> &Header {
        &self.header
    }
}

impl TensorSource for SafeTensors<'_> {
    fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        let (key, info) = self.header.tensors.get_key_value(name)?;
        Some(TensorView {
            name: key,
            dtype: info.dtype,
            shape: &info.shape,
            data: self.data.get(info.begin..info.end)?,
        })
    }

    fn tensor_names(&self) -> Vec<&str> {
        self.header.tensors.keys().map(String::as_str).collect()
    }
}

/// Builds the start of a safetensors file: the 8-byte length, then the JSON header padded
/// with spaces to a multiple of 8 bytes (as the reference writer does), for tensors laid
/// out back to back in the order given. Each entry: name, dtype, shape.
///
/// Returns the bytes and the data section's total length. Fails with
/// [`SafetensorsError::ShapeOverflow`] when a tensor's or the total byte size overflows.
pub fn header_bytes(
    entries: &[(&str, DType, &[usize])],
    metadata: Option<&BTreeMap<String, String>>,
) -> Result<(Vec<u8>, u64), SafetensorsError> {
    let mut json = String::from("{");
    if let Some(m) = metadata {
        json.push_str("\"__metadata__\":");
        json.push_str(&serde_json::to_string(m).unwrap_or_else(|_| "{}".into()));
        if !entries.is_empty() {
            json.push(',');
        }
    }
    let mut off = 0u64;
    for (i, (name, dtype, shape)) in entries.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let overflow = || SafetensorsError::ShapeOverflow {
            tensor: name.to_string(),
        };
        let bytes = shape
            .iter()
            .try_fold(dtype.size() as u64, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(overflow)?;
        let end = off.checked_add(bytes).ok_or_else(overflow)?;
        let quoted = serde_json::to_string(name).unwrap_or_default();
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        json.push_str(&alloc::format!(
            "{quoted}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{off},{end}]}}",
            dtype.as_str(),
            dims.join(","),
        ));
        off = end;
    }
    json.push('}');
    while (8 + json.len()) % 8 != 0 {
        json.push(' ');
    }
    let mut out = Vec::with_capacity(8 + json.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    Ok((out, off))
}

/// Serialises tensors to safetensors bytes (tensors written in name order, 8-byte aligned
/// header as the reference writer does). Each entry: name, dtype, shape, little-endian bytes.
///
/// The caller guarantees each entry's `data` holds exactly `numel × dtype size` bytes; the
/// header describes `data.len()` bytes per tensor, so a wrong length yields a file that
/// [`SafeTensors::parse`] rejects.
pub fn serialize(
    tensors: &[(&str, DType, &[usize], &[u8])],
    metadata: Option<&BTreeMap<String, String>>,
) -> Vec<u8> {
    let mut sorted: Vec<&(&str, DType, &[usize], &[u8])> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut json = String::from("{");
    if let Some(m) = metadata {
        json.push_str("\"__metadata__\":");
        json.push_str(&serde_json::to_string(m).unwrap_or_else(|_| "{}".into()));
        if !sorted.is_empty() {
            json.push(',');
        }
    }
    let mut off = 0usize;
    for (i, (name, dtype, shape, data)) in sorted.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let name = serde_json::to_string(name).unwrap_or_default();
        let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        json.push_str(&alloc::format!(
            "{name}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            dtype.as_str(),
            shape.join(","),
            off,
            off + data.len()
        ));
        off += data.len();
    }
    json.push('}');
    while (8 + json.len()) % 8 != 0 {
        json.push(' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + off);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    for (_, _, _, data) in sorted {
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn round_trips_with_our_writer() {
        let a: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let b: Vec<u8> = vec![1, 2, 3, 4];
        let bytes = serialize(
            &[("a", DType::F32, &[2, 3], &a), ("b", DType::BF16, &[2], &b)],
            None,
        );
        let st = SafeTensors::parse(&bytes).unwrap();
        let t = st.tensor("a").unwrap();
        assert_eq!(t.shape, &[2, 3]);
        assert_eq!(t.to_f32_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(st.tensor("b").unwrap().data, &b[..]);
        assert_eq!(st.tensor_names(), vec!["a", "b"]);
        assert!(st.tensor("c").is_none());
    }

    #[test]
    fn rejects_short_and_oversized_headers() {
        assert_eq!(
            SafeTensors::parse(&[1, 2, 3]).unwrap_err(),
            SafetensorsError::TooShort { len: 3 }
        );
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(matches!(
            SafeTensors::parse(&huge),
            Err(SafetensorsError::HeaderTooLarge { .. })
        ));
    }

    #[test]
    fn rejects_bad_entries_naming_the_tensor() {
        let cases: &[(&str, usize)] = &[
            (
                r#"{"x":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#,
                4,
            ),
            (
                r#"{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#,
                8,
            ),
            (
                r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
                4,
            ),
            (
                r#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                2,
            ),
            (
                r#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                8,
            ),
            (
                r#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                6,
            ),
            (
                r#"{"x":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,4]}}"#,
                4,
            ),
        ];
        for (h, n) in cases {
            let e = SafeTensors::parse(&file(h, &vec![0; *n])).unwrap_err();
            assert!(
                e.to_string().contains('x') || matches!(e, SafetensorsError::TrailingBytes { .. }),
                "{h}: {e}"
            );
        }
        let dup = r#"{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
        assert_eq!(
            SafeTensors::parse(&file(dup, &[0, 0])).unwrap_err(),
            SafetensorsError::DuplicateTensor("x".into())
        );
        assert!(matches!(
            SafeTensors::parse(&file("not json", &[])).unwrap_err(),
            SafetensorsError::InvalidHeader(_)
        ));
    }
}
