//! Opening a checkpoint reads its headers only: a T0pp-shaped (44.5 GB) F32 checkpoint
//! stored as a sparse file opens, and afterwards the page cache holds none of its tensor
//! data (checked with `mincore(2)`, with a positive control: reading one tensor makes
//! exactly its pages resident). No timing is asserted.

#![cfg(target_os = "linux")]

use t0_core::config::T5Config;
use t0_core::loader::Checkpoint;
use t0_core::random::write_sparse_checkpoint;
use t0_core::tensor::{DType, TensorSource};

/// How many of the pages backing `bytes` (a slice of a file mapping) are in the page cache.
fn resident_pages(bytes: &[u8]) -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let start = bytes.as_ptr() as usize & !(page - 1);
    let end = bytes.as_ptr() as usize + bytes.len();
    let pages = (end - start).div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: [start, start + pages*page) lies within one live mapping (the mmap of the
    // file, whose length is rounded up to whole pages by the kernel), and `vec` has one
    // byte per page as mincore requires.
    let rc = unsafe { libc::mincore(start as *mut libc::c_void, end - start, vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore failed: {}", std::io::Error::last_os_error());
    vec.iter().filter(|b| **b & 1 == 1).count()
}

#[test]
fn opening_a_44_gb_sparse_checkpoint_reads_only_the_header() {
    let cfg = T5Config::t0pp();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipping: no temp dir: {e}");
            return;
        }
    };
    let len = match write_sparse_checkpoint(dir.path(), &cfg, DType::F32) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("skipping: this file system cannot hold a 44 GB sparse file: {e}");
            return;
        }
    };
    assert!(len > 44_000_000_000, "{len}");
    let ck = Checkpoint::open(dir.path()).unwrap();
    assert_eq!(
        ck.data_bytes() + ck.files()[0].header().data_start as u64,
        len
    );
    let file = &ck.files()[0];
    let data = &file.bytes()[file.header().data_start..];
    // The header was read with read(2); kernel read-ahead may pull in a little beyond it,
    // but nothing like the data (44.5 GB). Allow 64 MiB of read-ahead slack.
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let resident = resident_pages(data) * page;
    assert!(
        resident < 64 << 20,
        "{resident} bytes of tensor data resident after open"
    );
    // The last tensor (lm_head, at the end of the file) has not been touched at all.
    let lm = ck.tensor("lm_head.weight").unwrap();
    assert_eq!(resident_pages(lm.data), 0);

    // Positive control: reading a tensor makes its pages resident, so mincore does see
    // reads on this file system.
    let ln = ck.tensor("decoder.final_layer_norm.weight").unwrap();
    assert_eq!(resident_pages(ln.data), 0);
    let sum: u64 = ln.data.iter().map(|b| *b as u64).sum();
    assert_eq!(sum, 0);
    assert!(resident_pages(ln.data) > 0, "mincore did not see the read");
}
