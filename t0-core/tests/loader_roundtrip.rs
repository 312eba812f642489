//! Checkpoints written by the reference `safetensors` crate read back bit-exactly, for F32,
//! BF16 and F16, single file and sharded, through the memory-mapped loader; plus proptest
//! properties over random valid files and random corruptions of them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use proptest::prelude::*;
use safetensors::tensor::{Dtype as RefDtype, TensorView as RefView};
use t0_core::config::{FeedForwardProj, T5Config};
use t0_core::loader::{Checkpoint, INDEX_FILE};
use t0_core::random::random_tensor;
use t0_core::safetensors::SafeTensors;
use t0_core::safetensors::index::ShardIndex;
use t0_core::tensor::{DType, TensorSource};
use t0_core::weights::{TensorSpec, expected_tensors, resolve};

fn ref_dtype(d: DType) -> RefDtype {
    match d {
        DType::F32 => RefDtype::F32,
        DType::F16 => RefDtype::F16,
        DType::BF16 => RefDtype::BF16,
        DType::I8 => RefDtype::I8,
        DType::U8 => RefDtype::U8,
    }
}

/// Bytes of `vals` in `dtype`.
fn encode(vals: &[f32], dtype: DType) -> Vec<u8> {
    match dtype {
        DType::F32 => vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::F16 => vals
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect(),
        DType::BF16 => vals
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect(),
        DType::I8 | DType::U8 => vals.iter().map(|v| (*v * 100.0) as i8 as u8).collect(),
    }
}

/// Writes `tensors` with the reference crate to `path`.
fn write_ref(path: &Path, tensors: &[(String, DType, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, RefView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                RefView::new(ref_dtype(*d), s.clone(), b).unwrap(),
            )
        })
        .collect();
    let meta = Some(
        [("format".to_string(), "pt".to_string())]
            .into_iter()
            .collect(),
    );
    safetensors::tensor::serialize_to_file(views, &meta, path).unwrap();
}

fn config(ff: FeedForwardProj, tied: bool) -> T5Config {
    let mut c = T5Config::t0_base();
    (c.d_model, c.d_ff, c.num_heads, c.d_kv, c.vocab_size) = (12, 20, 3, 5, 30);
    (c.num_layers, c.num_decoder_layers) = (2, 1);
    c.feed_forward_proj = ff;
    c.tie_word_embeddings = tied;
    c
}

/// The model's tensors with values (as `random_tensor` gives) in `dtype`, the embedding
/// stored under `emb_name`.
fn model_tensors(
    cfg: &T5Config,
    dtype: DType,
    emb_name: &str,
) -> Vec<(String, DType, Vec<usize>, Vec<u8>)> {
    expected_tensors(cfg)
        .into_iter()
        .map(|s| {
            let bytes = encode(&random_tensor(11, &s), dtype);
            let name = if s.name == "shared.weight" {
                emb_name.to_string()
            } else {
                s.name
            };
            (name, dtype, s.shape, bytes)
        })
        .collect()
}

fn check_bit_exact(ck: &Checkpoint, tensors: &[(String, DType, Vec<usize>, Vec<u8>)]) {
    assert_eq!(ck.tensor_names().len(), tensors.len());
    for (name, dtype, shape, bytes) in tensors {
        let t = ck.tensor(name).unwrap();
        assert_eq!((t.dtype, t.shape), (*dtype, shape.as_slice()), "{name}");
        assert_eq!(t.data, bytes.as_slice(), "{name}");
        // Zero-copy: the view points into a mapped file.
        let file = ck
            .files()
            .iter()
            .find(|f| f.tensor(name).is_some())
            .unwrap();
        let range = file.bytes().as_ptr_range();
        assert!(
            range.contains(&t.data.as_ptr()),
            "{name} is not a view of the map"
        );
    }
}

#[test]
fn reference_single_file_reads_back_bit_exactly_for_each_dtype() {
    for dtype in [DType::F32, DType::BF16, DType::F16] {
        for (ff, tied, emb) in [
            (FeedForwardProj::GatedGelu, false, "shared.weight"),
            (FeedForwardProj::Relu, true, "encoder.embed_tokens.weight"),
            (
                FeedForwardProj::GatedSilu,
                true,
                "decoder.embed_tokens.weight",
            ),
        ] {
            let cfg = config(ff, tied);
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("config.json"), cfg.to_json()).unwrap();
            let tensors = model_tensors(&cfg, dtype, emb);
            write_ref(&dir.path().join("model.safetensors"), &tensors);
            let ck = Checkpoint::open(dir.path()).unwrap();
            check_bit_exact(&ck, &tensors);
            let e = resolve(&ck, "shared.weight").unwrap();
            assert_eq!(e.name, emb);
            // Values decode to what was written.
            let spec = TensorSpec {
                name: "shared.weight".into(),
                shape: vec![cfg.vocab_size, cfg.d_model],
            };
            let want = random_tensor(11, &spec);
            let got = e.to_f32_vec().unwrap();
            for (g, w) in got.iter().zip(&want) {
                let w = match dtype {
                    DType::BF16 => half::bf16::from_f32(*w).to_f32(),
                    DType::F16 => half::f16::from_f32(*w).to_f32(),
                    _ => *w,
                };
                assert_eq!(g.to_bits(), w.to_bits());
            }
            if dtype == DType::F32 {
                // Aligned F32 data is served without a copy.
                assert!(e.as_f32_slice().is_some());
            }
        }
    }
}

#[test]
fn reference_shards_read_back_bit_exactly_for_each_dtype() {
    for dtype in [DType::F32, DType::BF16, DType::F16] {
        let cfg = config(FeedForwardProj::GatedGelu, false);
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("config.json"), cfg.to_json()).unwrap();
        let tensors = model_tensors(&cfg, dtype, "shared.weight");
        let n = 3;
        let mut weight_map = BTreeMap::new();
        for k in 0..n {
            let name = format!("model-{:05}-of-{:05}.safetensors", k + 1, n);
            let part: Vec<_> = tensors.iter().skip(k).step_by(n).cloned().collect();
            for t in &part {
                weight_map.insert(t.0.clone(), name.clone());
            }
            write_ref(&dir.path().join(&name), &part);
        }
        let ix = ShardIndex {
            weight_map,
            total_size: None,
        };
        fs::write(dir.path().join(INDEX_FILE), ix.to_json()).unwrap();
        let ck = Checkpoint::open(dir.path()).unwrap();
        assert_eq!(ck.files().len(), n);
        check_bit_exact(&ck, &tensors);
        for (name, ..) in &tensors {
            let want = ix.shard_of(name).unwrap();
            assert!(ck.file_of(name).unwrap().ends_with(want));
        }
    }
}

/// A random valid tensor list: unique names, any dtype, small shapes (zero-size included).
fn tensors_strategy() -> impl Strategy<Value = Vec<(String, DType, Vec<usize>, Vec<u8>)>> {
    let dtype = prop::sample::select(vec![
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::I8,
        DType::U8,
    ]);
    let one = (
        "[a-z][a-z0-9._]{0,12}",
        dtype,
        prop::collection::vec(0usize..5, 0..4),
        any::<u64>(),
    );
    prop::collection::vec(one, 0..8).prop_map(|v| {
        let mut seen = std::collections::HashSet::new();
        v.into_iter()
            .filter(|(n, ..)| seen.insert(n.clone()))
            .map(|(n, d, s, seed)| {
                let len = s.iter().product::<usize>() * d.size();
                let mut x = seed | 1;
                let bytes = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                (n, d, s, bytes)
            })
            .collect()
    })
}

fn ref_bytes(tensors: &[(String, DType, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(String, RefView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                RefView::new(ref_dtype(*d), s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::tensor::serialize(views, &None).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Anything the reference writer produces, we parse to identical names, dtypes, shapes
    /// and bytes; and our own writer's output is accepted by the reference reader.
    #[test]
    fn reference_files_parse_identically(tensors in tensors_strategy()) {
        let bytes = ref_bytes(&tensors);
        let st = SafeTensors::parse(&bytes).unwrap();
        prop_assert_eq!(st.tensor_names().len(), tensors.len());
        for (n, d, s, b) in &tensors {
            let t = st.tensor(n).unwrap();
            prop_assert_eq!(t.dtype, *d);
            prop_assert_eq!(t.shape, s.as_slice());
            prop_assert_eq!(t.data, b.as_slice());
        }
        let entries: Vec<(&str, DType, &[usize], &[u8])> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.as_str(), *d, s.as_slice(), b.as_slice()))
            .collect();
        let ours = t0_core::safetensors::serialize(&entries, None);
        let back = safetensors::SafeTensors::deserialize(&ours).unwrap();
        for (n, _, s, b) in &tensors {
            let t = back.tensor(n).unwrap();
            prop_assert_eq!(t.shape(), s.as_slice());
            prop_assert_eq!(t.data(), b.as_slice());
        }
    }

    /// Random corruptions (byte edits, truncation, extension) never panic; whatever we
    /// accept is internally consistent, and the reference reader accepts it too.
    #[test]
    fn corrupted_files_never_panic(
        tensors in tensors_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
        extra in prop::collection::vec(any::<u8>(), 0..3),
    ) {
        let mut bytes = ref_bytes(&tensors);
        for (i, v) in edits {
            let k = i.index(bytes.len());
            bytes[k] = v;
        }
        if let Some(c) = cut {
            bytes.truncate(c.index(bytes.len() + 1));
        }
        bytes.extend_from_slice(&extra);
        if let Ok(st) = SafeTensors::parse(&bytes) {
            let mut total = 0;
            for n in st.tensor_names() {
                let t = st.tensor(n).unwrap();
                prop_assert_eq!(t.data.len(), t.shape.iter().product::<usize>() * t.dtype.size());
                total += t.data.len();
            }
            prop_assert_eq!(total + st.header().data_start, bytes.len());
            prop_assert!(safetensors::SafeTensors::deserialize(&bytes).is_ok());
        }
    }

    /// Corruptions aimed at the JSON header text (the interesting part) never panic.
    #[test]
    fn corrupted_headers_never_panic(
        tensors in tensors_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), "[\\[\\]{}\",:0-9a-zA-Z_ -]"), 1..6),
    ) {
        let bytes = ref_bytes(&tensors);
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut header = bytes[8..8 + n].to_vec();
        for (i, s) in edits {
            let k = i.index(header.len());
            header[k] = s.as_bytes()[0];
        }
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&header);
        out.extend_from_slice(&bytes[8 + n..]);
        let _ = SafeTensors::parse(&out);
    }

    /// The index parser never panics on mutated indexes.
    #[test]
    fn corrupted_indexes_never_panic(
        names in prop::collection::btree_map("[a-z.0-9]{1,10}", "[a-z0-9-]{1,8}", 1..5),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let ix = ShardIndex { weight_map: names, total_size: Some(7) };
        let mut text = ix.to_json().into_bytes();
        prop_assert_eq!(ShardIndex::parse(&text).unwrap(), ix);
        for (i, v) in edits {
            let k = i.index(text.len());
            text[k] = v;
        }
        let _ = ShardIndex::parse(&text);
    }
}

/// The fuzz seeds were written by Python's `safetensors` (fuzz/make_seeds.py): all parse.
#[test]
fn python_written_seed_files_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut n = 0;
    for e in fs::read_dir(root.join("safetensors_header")).unwrap() {
        let p = e.unwrap().path();
        let f = Checkpoint::open_file(&p).unwrap();
        if p.ends_with("mixed.safetensors") {
            let q = f.tensor("q").unwrap();
            assert_eq!(
                (q.dtype, q.shape, q.data),
                (DType::I8, &[3, 2][..], &[0, 1, 2, 3, 4, 5][..])
            );
            assert_eq!(f.tensor("scalar").unwrap().to_f32_vec().unwrap(), vec![1.5]);
            assert_eq!(f.tensor("zero_size").unwrap().shape, &[0, 4]);
            assert_eq!(f.header().metadata["format"], "pt");
        }
        n += 1;
    }
    for e in fs::read_dir(root.join("safetensors_index")).unwrap() {
        ShardIndex::parse(&fs::read(e.unwrap().path()).unwrap()).unwrap();
        n += 1;
    }
    assert_eq!(n, 5);
}
