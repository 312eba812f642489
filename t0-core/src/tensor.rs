//! Element types, borrowed tensor views and the [`TensorSource`] trait that every
//! checkpoint (memory-mapped file, in-memory bytes, sharded directory) implements.

use alloc::vec::Vec;

/// Element type of a stored tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    BF16,
    /// Signed 8-bit integer (quantized weights).
    I8,
    /// Unsigned 8-bit integer (packed 4-bit weights).
    U8,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I8 | DType::U8 => 1,
        }
    }

    /// The safetensors spelling (`F32`, `F16`, `BF16`, `I8`, `U8`).
    pub fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::I8 => "I8",
            DType::U8 => "U8",
        }
    }

    /// Whether this is a floating-point type the model can compute from.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }
}

/// A borrowed view of one tensor's bytes (little-endian, row-major).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorView<'a> {
    /// The tensor's name in the checkpoint.
    pub name: &'a str,
    /// Element type.
    pub dtype: DType,
    /// Dimensions, outermost first.
    pub shape: &'a [usize],
    /// Exactly `numel * dtype.size()` bytes.
    pub data: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// The data as `&[f32]` without copying, when the dtype is F32 and the bytes are aligned.
    pub fn as_f32_slice(&self) -> Option<&'a [f32]> {
        if self.dtype != DType::F32 || cfg!(target_endian = "big") {
            return None;
        }
        bytemuck::try_cast_slice(self.data).ok()
    }

    /// Converts any float dtype to a new `Vec<f32>` (works for unaligned data too).
    ///
    /// Returns `None` for integer dtypes.
    pub fn to_f32_vec(&self) -> Option<Vec<f32>> {
        if let Some(s) = self.as_f32_slice() {
            return Some(s.to_vec());
        }
        let d = self.data;
        Some(match self.dtype {
            DType::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::F16 => d
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::BF16 => d
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::I8 | DType::U8 => return None,
        })
    }
}

/// Anything that hands out named tensors: a parsed safetensors buffer, a memory-mapped
/// checkpoint directory, a set of shards.
pub trait TensorSource {
    /// The tensor called `name`, if present.
    fn tensor(&self, name: &str) -> Option<TensorView<'_>>;
    /// Every tensor name, in no particular order.
    fn tensor_names(&self) -> Vec<&str>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_each_float_dtype() {
        let vals = [1.5f32, -2.0, 0.0, 65504.0];
        let f32b: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f16b: Vec<u8> = vals
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect();
        let bf16b: Vec<u8> = vals
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect();
        let shape = [4usize];
        for (dtype, data) in [
            (DType::F32, &f32b),
            (DType::F16, &f16b),
            (DType::BF16, &bf16b),
        ] {
            let v = TensorView {
                name: "t",
                dtype,
                shape: &shape,
                data,
            };
            assert_eq!(v.numel(), 4);
            let got = v.to_f32_vec().unwrap();
            for (g, w) in got.iter().zip(vals) {
                let back = match dtype {
                    DType::BF16 => half::bf16::from_f32(w).to_f32(),
                    _ => w,
                };
                assert_eq!(*g, back);
            }
        }
    }

    #[test]
    fn unaligned_f32_converts_by_copy() {
        let mut buf = [0u8; 9];
        buf[1..5].copy_from_slice(&3.25f32.to_le_bytes());
        buf[5..9].copy_from_slice(&(-1.0f32).to_le_bytes());
        let shape = [2usize];
        let v = TensorView {
            name: "t",
            dtype: DType::F32,
            shape: &shape,
            data: &buf[1..],
        };
        assert_eq!(v.to_f32_vec().unwrap(), vec![3.25, -1.0]);
        let i = TensorView {
            name: "i",
            dtype: DType::I8,
            shape: &shape,
            data: &buf[..2],
        };
        assert!(i.to_f32_vec().is_none());
    }
}
