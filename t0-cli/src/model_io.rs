//! Shared plumbing of the model commands: opening a model directory, parsing token ids,
//! writing `.npy` files.

use std::path::Path;

use t0_core::backend::CpuBackend;
use t0_core::loader::Checkpoint;
use t0_core::model::T5Model;

/// Opens `dir` (`config.json` + `model.safetensors` or a sharded index) on the CPU backend.
pub fn load_model(dir: &Path) -> Result<T5Model<CpuBackend>, String> {
    let ckpt = Checkpoint::open(dir).map_err(|e| e.to_string())?;
    T5Model::from_checkpoint(CpuBackend::new(), &ckpt)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Parses token ids separated by spaces and/or commas (`"0 5 17"`, `"0,5,17"`,
/// `"[0, 5, 17]"`).
pub fn parse_ids(what: &str, s: &str) -> Result<Vec<u32>, String> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<u32>()
                .map_err(|_| format!("{what}: {t:?} is not a token id (a number 0..=4294967295)"))
        })
        .collect()
}

/// Splits `"a|||b|||c"` into trimmed parts (PromptSource's choice separator).
pub fn split_choices(s: &str) -> Vec<&str> {
    s.split("|||").map(str::trim).collect()
}

/// Writes a little-endian f32 `.npy` (format 1.0) of the given 2-D shape.
pub fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f32]) -> Result<(), String> {
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(format!(
            "internal: {} values for shape ({rows}, {cols})",
            data.len()
        ));
    }
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64,
    // ending in a newline.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_in_any_separator_style() {
        assert_eq!(parse_ids("x", "0 5,17 [3]").unwrap(), vec![0, 5, 17, 3]);
        assert!(parse_ids("x", "1 -2").unwrap_err().contains("-2"));
        assert!(parse_ids("x", "1 99999999999").is_err());
        assert_eq!(parse_ids("x", "  ").unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn choices_split_and_trim() {
        assert_eq!(
            split_choices("yes ||| no|||maybe"),
            vec!["yes", "no", "maybe"]
        );
    }

    #[test]
    fn npy_header_is_aligned() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write_npy(&p, 2, 3, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let b = std::fs::read(&p).unwrap();
        let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hl) % 64, 0);
        assert_eq!(b.len(), 10 + hl + 24);
        let h = std::str::from_utf8(&b[10..10 + hl]).unwrap();
        assert!(h.contains("'shape': (2, 3)") && h.ends_with('\n'));
        assert_eq!(&b[10 + hl..10 + hl + 4], &0.0f32.to_le_bytes());
        assert!(write_npy(&p, 2, 2, &[0.0]).is_err());
    }
}
