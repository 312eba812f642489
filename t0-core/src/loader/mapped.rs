//! [`MappedFile`]: one memory-mapped safetensors file whose header has been read and
//! validated with plain reads; the data section is mapped but not touched.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::LoadError;
use crate::safetensors::{self, Header, SafetensorsError};
use crate::tensor::{TensorSource, TensorView};

/// A memory-mapped safetensors file. Tensor views borrow the mapping (zero-copy).
///
/// The file must not be truncated or rewritten while it is open: like every memory-mapped
/// reader, a concurrent truncation makes later accesses fault.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    header: Header,
    mmap: Mmap,
}

impl MappedFile {
    /// Opens `path`, reads and validates its header (only the first `8 + header length`
    /// bytes are read), and maps the file.
    pub fn open(path: &Path) -> Result<Self, LoadError> {
        let io = |e| LoadError::io(path, e);
        let st = |source| LoadError::Safetensors {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let len64 = file.metadata().map_err(io)?.len();
        // On 32-bit targets a file past 4 GiB cannot be mapped at all.
        let len = usize::try_from(len64).map_err(|_| {
            io(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!("{len64} bytes do not fit this platform's address space"),
            ))
        })?;
        let mut prefix = [0u8; 8];
        if len < 8 {
            return Err(st(SafetensorsError::TooShort { len }));
        }
        file.read_exact(&mut prefix).map_err(io)?;
        // Checked against the file length and MAX_HEADER_LEN before allocating.
        let n = safetensors::header_len(&prefix, len).map_err(st)?;
        let mut json = vec![0u8; n];
        file.read_exact(&mut json).map_err(io)?;
        let data_start = 8 + n;
        let header = safetensors::parse_header(&json, data_start, len - data_start).map_err(st)?;
        // SAFETY: the map is read-only and private to this struct; we only hand out shared
        // slices of it. Soundness requires that no one truncates or writes the file while it
        // is mapped, which is documented on the type (the universal caveat of mmap readers).
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        if mmap.len() != len {
            return Err(io(std::io::Error::other(
                "the file changed size while being opened",
            )));
        }
        Ok(MappedFile {
            path: path.to_path_buf(),
            header,
            mmap,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The validated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The whole mapped file.
    pub fn bytes(&self) -> &[u8] {
        &self.mmap
    }
}

impl TensorSource for MappedFile {
    fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        let (key, info) = self.header.tensors.get_key_value(name)?;
        let start = self.header.data_start.checked_add(info.begin)?;
        let end = self.header.data_start.checked_add(info.end)?;
        Some(TensorView {
            name: key,
            dtype: info.dtype,
            shape: &info.shape,
            data: self.mmap.get(start..end)?,
        })
    }

    fn tensor_names(&self) -> Vec<&str> {
        self.header.tensors.keys().map(String::as_str).collect()
    }
}
