//! The random checkpoint writer and the loader agree: single file, sharded, every dtype.

use std::fs;

use t0_core::config::T5Config;
use t0_core::loader::{Checkpoint, INDEX_FILE, SINGLE_FILE};
use t0_core::random::{
    random_checkpoint, random_tensor, write_random_checkpoint, write_random_checkpoint_sharded,
};
use t0_core::tensor::{DType, TensorSource};
use t0_core::weights::{expected_tensors, resolve};

fn tiny() -> T5Config {
    let mut c = T5Config::t0_base();
    (c.d_model, c.d_ff, c.num_heads, c.d_kv, c.vocab_size) = (16, 40, 4, 4, 64);
    (c.num_layers, c.num_decoder_layers) = (2, 3);
    c
}

#[test]
fn streamed_file_equals_in_memory_bytes_and_opens() {
    let cfg = tiny();
    for dtype in [DType::F32, DType::BF16, DType::F16] {
        let dir = tempfile::tempdir().unwrap();
        write_random_checkpoint(dir.path(), &cfg, 9, dtype).unwrap();
        let on_disk = fs::read(dir.path().join(SINGLE_FILE)).unwrap();
        assert_eq!(on_disk, random_checkpoint(&cfg, 9, dtype), "{dtype:?}");
        let ck = Checkpoint::open(dir.path()).unwrap();
        assert_eq!(ck.config(), &cfg);
        assert_eq!(ck.tensor_names().len(), expected_tensors(&cfg).len());
        assert!(!dir.path().join("model.safetensors.tmp").exists());
        let spec = &expected_tensors(&cfg)[5];
        let got = ck.tensor(&spec.name).unwrap();
        assert_eq!(got.dtype, dtype);
        assert_eq!(got.shape, spec.shape.as_slice());
    }
}

#[test]
fn sharded_copy_agrees_with_single_file_copy() {
    let cfg = tiny();
    let single = tempfile::tempdir().unwrap();
    let sharded = tempfile::tempdir().unwrap();
    write_random_checkpoint(single.path(), &cfg, 4, DType::F32).unwrap();
    write_random_checkpoint_sharded(sharded.path(), &cfg, 4, DType::F32, 6000).unwrap();
    assert!(sharded.path().join(INDEX_FILE).is_file());
    assert!(!sharded.path().join(SINGLE_FILE).exists());
    let a = Checkpoint::open(single.path()).unwrap();
    let b = Checkpoint::open(sharded.path()).unwrap();
    assert!(b.files().len() > 2, "{} shards", b.files().len());
    assert_eq!(a.tensor_names(), b.tensor_names());
    for spec in expected_tensors(&cfg) {
        let (x, y) = (
            resolve(&a, &spec.name).unwrap(),
            resolve(&b, &spec.name).unwrap(),
        );
        assert_eq!(x.data, y.data, "{}", spec.name);
        assert_eq!(x.to_f32_vec().unwrap(), random_tensor(4, &spec));
    }
}

#[test]
fn checkpoints_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Checkpoint>();
    assert_send_sync::<t0_core::loader::MappedFile>();
    let cfg = tiny();
    let dir = tempfile::tempdir().unwrap();
    write_random_checkpoint(dir.path(), &cfg, 2, DType::BF16).unwrap();
    let ck = Checkpoint::open(dir.path()).unwrap();
    let specs = expected_tensors(&cfg);
    std::thread::scope(|s| {
        for part in specs.chunks(specs.len().div_ceil(2)) {
            let ck = &ck;
            s.spawn(move || {
                for spec in part {
                    assert_eq!(ck.tensor(&spec.name).unwrap().shape, spec.shape.as_slice());
                }
            });
        }
    });
}

/// The Hugging Face cache stores snapshot files as symlinks into `blobs/`: they open.
#[cfg(unix)]
#[test]
fn opens_a_hub_cache_snapshot_of_symlinks() {
    let cfg = tiny();
    let root = tempfile::tempdir().unwrap();
    let blobs = root.path().join("blobs");
    write_random_checkpoint(&blobs, &cfg, 3, DType::F16).unwrap();
    let snap = root.path().join("snapshots").join("0123abc");
    fs::create_dir_all(&snap).unwrap();
    for f in ["config.json", SINGLE_FILE] {
        let hashed = blobs.join(format!("{f}.blob"));
        fs::rename(blobs.join(f), &hashed).unwrap();
        std::os::unix::fs::symlink(format!("../../blobs/{f}.blob"), snap.join(f)).unwrap();
    }
    let ck = Checkpoint::open(&snap).unwrap();
    assert_eq!(ck.config(), &cfg);
    assert_eq!(
        fs::read(blobs.join("model.safetensors.blob")).unwrap(),
        random_checkpoint(&cfg, 3, DType::F16)
    );
}
