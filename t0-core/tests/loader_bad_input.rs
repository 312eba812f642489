//! Every bad input of issue 2 (and docs/robustness.md §1–11) gives its own typed error that
//! names the file and, where there is one, the tensor.

use std::fs;
use std::path::{Path, PathBuf};

use t0_core::config::{ConfigError, T5Config};
use t0_core::loader::{Checkpoint, INDEX_FILE, LoadError, SINGLE_FILE};
use t0_core::random::{
    random_checkpoint, write_random_checkpoint, write_random_checkpoint_sharded,
};
use t0_core::safetensors::SafetensorsError as SE;
use t0_core::safetensors::index::{IndexError, ShardIndex};
use t0_core::tensor::{DType, TensorSource};
use t0_core::weights::{WeightsError, expected_tensors};

fn tiny() -> T5Config {
    let mut c = T5Config::t0_base();
    (c.d_model, c.d_ff, c.num_heads, c.d_kv, c.vocab_size) = (8, 12, 2, 4, 20);
    (c.num_layers, c.num_decoder_layers) = (1, 1);
    c
}

/// A safetensors file with the given header text and data bytes.
fn st_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

/// Writes `bytes` as a single-file checkpoint with a tiny config; returns the dir and file.
fn dir_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), tiny().to_json()).unwrap();
    let p = dir.path().join(SINGLE_FILE);
    fs::write(&p, bytes).unwrap();
    (dir, p)
}

/// Opens a checkpoint made of `bytes` and returns the safetensors error, checking that the
/// error names the file and, when given, the tensor.
fn st_err(bytes: &[u8], tensor: Option<&str>) -> SE {
    let (dir, p) = dir_with(bytes);
    let e = Checkpoint::open(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&p.display().to_string()), "{msg}");
    if let Some(t) = tensor {
        assert!(msg.contains(&format!("`{t}`")), "{msg}");
    }
    // Checkpoint::open_file gives the same error.
    let e2 = Checkpoint::open_file(&p).unwrap_err();
    assert_eq!(e2.to_string(), msg);
    match e {
        LoadError::Safetensors { path, source } => {
            assert_eq!(path, p);
            source
        }
        other => panic!("expected a safetensors error, got {other:?}"),
    }
}

const X: &str = r#""x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#;

#[test]
fn truncated_file() {
    let good = random_checkpoint(&tiny(), 1, DType::F32);
    // Cut inside the data: the tensor whose bytes run past the end is named.
    let e = st_err(&good[..good.len() - 3], Some("lm_head.weight"));
    assert!(
        matches!(e, SE::OutOfBounds { ref tensor, .. } if tensor == "lm_head.weight"),
        "{e:?}"
    );
    // Cut inside the header.
    assert!(matches!(
        st_err(&good[..40], None),
        SE::HeaderBeyondFile { .. }
    ));
    // Cut inside the length prefix.
    assert_eq!(st_err(&good[..5], None), SE::TooShort { len: 5 });
    assert_eq!(st_err(&[], None), SE::TooShort { len: 0 });
}

#[test]
fn header_length_beyond_file_or_absurd() {
    for n in [u64::MAX, 1 << 32, 100_000_001] {
        let mut b = n.to_le_bytes().to_vec();
        b.extend_from_slice(b"{}");
        assert_eq!(st_err(&b, None), SE::HeaderTooLarge { header_len: n });
    }
    let mut b = 1000u64.to_le_bytes().to_vec();
    b.extend_from_slice(&[b' '; 100]);
    assert_eq!(
        st_err(&b, None),
        SE::HeaderBeyondFile {
            header_len: 1000,
            file_len: 108
        }
    );
}

#[test]
fn header_not_json_not_utf8_or_wrong_shape() {
    assert!(matches!(
        st_err(&st_file("not json", &[]), None),
        SE::InvalidHeader(_)
    ));
    assert!(matches!(
        st_err(&st_file("[1, 2]", &[]), None),
        SE::InvalidHeader(_)
    ));
    let mut bad = st_file("{\"ab\":1}", &[]);
    bad[10] = 0xff;
    assert_eq!(st_err(&bad, None), SE::HeaderNotUtf8 { valid_up_to: 2 });
    for entry in [
        r#"{"x":{"dtype":"F32","shape":[2]}}"#,
        r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#,
        r#"{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#,
        r#"{"x":[1]}"#,
    ] {
        assert!(
            matches!(
                st_err(&st_file(entry, &[0; 8]), Some("x")),
                SE::InvalidHeader(_)
            ),
            "{entry}"
        );
    }
    let dims = vec!["1"; 1025].join(",");
    let e = st_err(
        &st_file(
            &format!(r#"{{"x":{{"dtype":"U8","shape":[{dims}],"data_offsets":[0,1]}}}}"#),
            &[0],
        ),
        Some("x"),
    );
    assert!(
        matches!(e, SE::InvalidHeader(ref m) if m.contains("1024 dimensions")),
        "{e:?}"
    );
    let e = st_err(&st_file("{} {}", &[]), None);
    assert!(
        matches!(e, SE::InvalidHeader(ref m) if m.contains("trailing")),
        "{e:?}"
    );
    let e = st_err(&st_file(r#"{"__metadata__":{"a":1}}"#, &[]), None);
    assert!(
        matches!(e, SE::InvalidHeader(ref m) if m.contains("__metadata__")),
        "{e:?}"
    );
}

#[test]
fn offsets_out_of_bounds_overlapping_gaps_trailing_reversed_and_size_mismatch() {
    let e = st_err(&st_file(&format!("{{{X}}}"), &[0; 6]), Some("x"));
    assert_eq!(
        e,
        SE::OutOfBounds {
            tensor: "x".into(),
            end: 8,
            data_len: 6
        }
    );
    let y = r#""y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}"#;
    let e = st_err(&st_file(&format!("{{{X},{y}}}"), &[0; 12]), Some("y"));
    assert_eq!(
        e,
        SE::Overlap {
            tensor: "y".into(),
            other: "x".into(),
            begin: 4,
            other_end: 8
        }
    );
    assert!(e.to_string().contains("`x`"));
    let y = r#""y":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}"#;
    let e = st_err(&st_file(&format!("{{{X},{y}}}"), &[0; 20]), Some("y"));
    assert_eq!(
        e,
        SE::Gap {
            tensor: "y".into(),
            expected_begin: 8,
            begin: 12
        }
    );
    let e = st_err(&st_file(&format!("{{{X}}}"), &[0; 11]), Some("x"));
    assert_eq!(
        e,
        SE::TrailingBytes {
            last: "x".into(),
            used: 8,
            data_len: 11
        }
    );
    let e = st_err(
        &st_file(
            r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            &[0; 8],
        ),
        Some("x"),
    );
    assert!(matches!(
        e,
        SE::ReversedOffsets {
            begin: 8,
            end: 0,
            ..
        }
    ));
    let e = st_err(
        &st_file(
            r#"{"x":{"dtype":"BF16","shape":[3,2],"data_offsets":[0,8]}}"#,
            &[0; 8],
        ),
        Some("x"),
    );
    assert_eq!(
        e,
        SE::SizeMismatch {
            tensor: "x".into(),
            expected: 12,
            declared: 8
        }
    );
    let e = st_err(
        &st_file(
            r#"{"x":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}"#,
            &[0; 8],
        ),
        Some("x"),
    );
    assert_eq!(e, SE::ShapeOverflow { tensor: "x".into() });
}

#[test]
fn unknown_and_unsupported_dtypes_and_duplicates() {
    let e = st_err(
        &st_file(
            r#"{"x":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#,
            &[0; 8],
        ),
        Some("x"),
    );
    assert_eq!(
        e,
        SE::UnknownDtype {
            tensor: "x".into(),
            dtype: "F33".into()
        }
    );
    let e = st_err(
        &st_file(
            r#"{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#,
            &[0; 8],
        ),
        Some("x"),
    );
    assert!(matches!(e, SE::UnsupportedDtype { ref dtype, .. } if dtype == "F64"));
    let dup = r#""x":{"dtype":"U8","shape":[8],"data_offsets":[8,16]}"#;
    let e = st_err(&st_file(&format!("{{{X},{dup}}}"), &[0; 16]), Some("x"));
    assert_eq!(e, SE::DuplicateTensor("x".into()));
}

/// A complete tiny checkpoint with `edit` applied to its tensor list (name, shape, dtype).
fn checkpoint_with(
    cfg: &T5Config,
    edit: impl Fn(&mut Vec<(String, Vec<usize>, DType)>),
) -> (tempfile::TempDir, PathBuf) {
    let mut list: Vec<(String, Vec<usize>, DType)> = expected_tensors(cfg)
        .into_iter()
        .map(|s| (s.name, s.shape, DType::F32))
        .collect();
    edit(&mut list);
    let data: Vec<Vec<u8>> = list
        .iter()
        .map(|(_, s, d)| vec![0u8; s.iter().product::<usize>() * d.size()])
        .collect();
    let entries: Vec<(&str, DType, &[usize], &[u8])> = list
        .iter()
        .zip(&data)
        .map(|((n, s, d), b)| (n.as_str(), *d, s.as_slice(), b.as_slice()))
        .collect();
    dir_with(&t0_core::safetensors::serialize(&entries, None))
}

fn weights_err(dir: &Path) -> (PathBuf, WeightsError) {
    match Checkpoint::open(dir).unwrap_err() {
        LoadError::Weights { path, source } => (path, source),
        other => panic!("expected a weights error, got {other:?}"),
    }
}

#[test]
fn missing_tensor_wrong_shape_and_integer_dtype() {
    let cfg = tiny();
    let gone = "decoder.block.0.layer.2.DenseReluDense.wi_1.weight";
    let (dir, p) = checkpoint_with(&cfg, |l| l.retain(|t| t.0 != gone));
    let (path, e) = weights_err(dir.path());
    assert_eq!(path, p);
    assert_eq!(
        e,
        WeightsError::Missing {
            tensor: gone.into(),
            expected: vec![12, 8]
        }
    );
    let msg = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(msg.contains(gone) && msg.contains(SINGLE_FILE), "{msg}");

    let odd = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
    let (dir, _) = checkpoint_with(&cfg, |l| {
        for t in l.iter_mut().filter(|t| t.0 == odd) {
            t.1 = vec![32, 3];
        }
    });
    let (_, e) = weights_err(dir.path());
    assert_eq!(
        e,
        WeightsError::WrongShape {
            tensor: odd.into(),
            expected: vec![32, 2],
            actual: vec![32, 3],
            fields: "relative_attention_num_buckets, num_heads"
        }
    );

    let (dir, _) = checkpoint_with(&cfg, |l| l[3].2 = DType::U8);
    let (_, e) = weights_err(dir.path());
    assert!(
        matches!(
            e,
            WeightsError::NotFloat {
                dtype: DType::U8,
                ..
            }
        ),
        "{e:?}"
    );

    // A checkpoint with more layers than config.json says.
    let mut deeper = cfg.clone();
    deeper.num_decoder_layers = 2;
    let (dir, _) = checkpoint_with(&deeper, |_| {});
    let (_, e) = weights_err(dir.path());
    assert!(
        matches!(
            e,
            WeightsError::ExtraLayer {
                field: "num_decoder_layers",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn config_missing_nonsensical_or_not_matching_weights() {
    let cfg = tiny();
    let dir = tempfile::tempdir().unwrap();
    write_random_checkpoint(dir.path(), &cfg, 1, DType::F32).unwrap();
    let config = dir.path().join("config.json");

    fs::write(&config, r#"{"num_heads": 0}"#).unwrap();
    match Checkpoint::open(dir.path()).unwrap_err() {
        LoadError::Config { path, source } => {
            assert_eq!(path, config);
            assert!(
                matches!(
                    source,
                    ConfigError::InvalidField {
                        field: "num_heads",
                        ..
                    }
                ),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    fs::write(&config, "{\"d_model\": ").unwrap();
    assert!(matches!(
        Checkpoint::open(dir.path()).unwrap_err(),
        LoadError::Config {
            source: ConfigError::Json(_),
            ..
        }
    ));
    fs::write(&config, b"{\"d_model\": \xff}").unwrap();
    assert!(matches!(
        Checkpoint::open(dir.path()).unwrap_err(),
        LoadError::Config {
            source: ConfigError::Json(_),
            ..
        }
    ));

    // d_model that does not match the weights.
    let mut wrong = cfg.clone();
    wrong.d_model = 16;
    fs::write(&config, wrong.to_json()).unwrap();
    let (path, e) = weights_err(dir.path());
    assert_eq!(path, dir.path().join(SINGLE_FILE));
    assert!(
        matches!(&e, WeightsError::WrongShape { tensor, expected, actual, .. }
            if tensor == "shared.weight" && expected == &[20, 16] && actual == &[20, 8]),
        "{e:?}"
    );
    // vocab_size ≠ embedding rows.
    let mut wrong = cfg.clone();
    wrong.vocab_size = 21;
    fs::write(&config, wrong.to_json()).unwrap();
    assert!(matches!(
        weights_err(dir.path()).1,
        WeightsError::WrongShape { .. }
    ));

    fs::remove_file(&config).unwrap();
    match Checkpoint::open(dir.path()).unwrap_err() {
        LoadError::MissingConfig { path } => assert_eq!(path, config),
        other => panic!("{other:?}"),
    }
}

#[test]
fn index_naming_missing_shard_or_shard_missing_tensor_or_malformed() {
    let cfg = tiny();
    let dir = tempfile::tempdir().unwrap();
    write_random_checkpoint_sharded(dir.path(), &cfg, 1, DType::F32, 1500).unwrap();
    Checkpoint::open(dir.path()).unwrap();
    let index = dir.path().join(INDEX_FILE);
    let text = fs::read_to_string(&index).unwrap();

    // A listed tensor moved to a shard that does not hold it.
    let ix = ShardIndex::parse(text.as_bytes()).unwrap();
    let (t_a, s_a) = ix.weight_map.iter().next().unwrap();
    let (_, s_b) = ix.weight_map.iter().find(|(_, s)| *s != s_a).unwrap();
    let mut moved = ix.clone();
    moved.weight_map.insert(t_a.clone(), s_b.clone());
    fs::write(&index, moved.to_json()).unwrap();
    match Checkpoint::open(dir.path()).unwrap_err() {
        LoadError::ShardMissingTensor { shard, tensor } => {
            assert_eq!(shard, dir.path().join(s_b));
            assert_eq!(&tensor, t_a);
        }
        other => panic!("{other:?}"),
    }

    // A shard file that does not exist.
    fs::write(&index, &text).unwrap();
    let gone = dir.path().join(s_a);
    fs::remove_file(&gone).unwrap();
    let e = Checkpoint::open(dir.path()).unwrap_err();
    let msg = e.to_string();
    match e {
        LoadError::MissingShard {
            index: i,
            shard,
            tensor,
        } => {
            assert_eq!((i, shard), (index.clone(), gone.clone()));
            assert_eq!(&ix.weight_map[&tensor], s_a);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        msg.contains(INDEX_FILE) && msg.contains(s_a.as_str()),
        "{msg}"
    );

    // Malformed index, and one pointing outside the directory.
    fs::write(&index, "{\"weight_map\": 3}").unwrap();
    assert!(matches!(
        Checkpoint::open(dir.path()).unwrap_err(),
        LoadError::Index {
            source: IndexError::Json(_),
            ..
        }
    ));
    fs::write(
        &index,
        r#"{"weight_map": {"shared.weight": "../../etc/passwd"}}"#,
    )
    .unwrap();
    assert!(matches!(
        Checkpoint::open(dir.path()).unwrap_err(),
        LoadError::Index {
            source: IndexError::BadShardName { .. },
            ..
        }
    ));
    // A listed shard that is itself broken: the shard is named.
    fs::write(&index, &text).unwrap();
    fs::write(&gone, b"short").unwrap();
    match Checkpoint::open(dir.path()).unwrap_err() {
        LoadError::Safetensors { path, source } => {
            assert_eq!(path, gone);
            assert_eq!(source, SE::TooShort { len: 5 });
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pytorch_bin_only_directory_is_unsupported_and_empty_dir_has_no_weights() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), tiny().to_json()).unwrap();
    match Checkpoint::open(dir.path()).unwrap_err() {
        LoadError::NoWeights { dir: d } => assert_eq!(d, dir.path()),
        other => panic!("{other:?}"),
    }
    // A pickle that would run code if unpickled: we never read it.
    fs::write(
        dir.path().join("pytorch_model.bin"),
        b"\x80\x02cos\nsystem\n",
    )
    .unwrap();
    let e = Checkpoint::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("unsupported format"), "{e}");
    assert!(
        matches!(e, LoadError::UnsupportedFormat { ref path, .. } if path.ends_with("pytorch_model.bin"))
    );
    let file = dir.path().join("pytorch_model.bin");
    assert!(matches!(
        Checkpoint::open(&file).unwrap_err(),
        LoadError::NotADirectory { ref path } if *path == file
    ));
    let missing = dir.path().join("nope");
    assert!(matches!(
        Checkpoint::open(&missing).unwrap_err(),
        LoadError::MissingConfig { .. }
    ));
    assert!(matches!(
        Checkpoint::open_file(&missing).unwrap_err(),
        LoadError::Io { ref path, .. } if *path == missing
    ));
}

#[test]
fn unaligned_data_section_loads_through_a_copy() {
    // A header of odd length puts the data section (and the F32 tensor) at an odd offset.
    let vals = [1.5f32, -2.25, 3.0e-5, f32::MAX];
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let header = r#"{"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    assert_eq!((8 + header.len()) % 4, 1);
    let (dir, p) = dir_with(&st_file(header, &data));
    let _ = dir;
    let f = Checkpoint::open_file(&p).unwrap();
    let t = f.tensor("x").unwrap();
    assert_eq!(t.data.as_ptr() as usize % 4, 1);
    assert!(t.as_f32_slice().is_none());
    assert_eq!(t.to_f32_vec().unwrap(), vals);
}

#[test]
fn errors_are_distinct_across_the_checklist() {
    // One representative per class; their Display texts must all differ in kind.
    let cases: Vec<Vec<u8>> = vec![
        vec![1, 2, 3],
        u64::MAX.to_le_bytes().to_vec(),
        st_file("{}", &[0; 3])[..9].to_vec(),
        st_file("{", &[]),
        st_file(&format!("{{{X}}}"), &[0; 4]),
    ];
    let kinds: Vec<String> = cases
        .iter()
        .map(|b| {
            format!("{:?}", st_err(b, None))
                .split([' ', '{', '('])
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut dedup = kinds.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), kinds.len(), "{kinds:?}");
}
