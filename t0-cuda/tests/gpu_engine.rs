//! The fused device engine ([`CudaT5`], used by the benchmarks) against the CPU backend
//! running t0-core's generic model, on every fixture model. Skips without a device.
//! Tolerances as in `gpu_parity.rs` (bf16 weights/operands): encoder states 3e-2 relative,
//! scores 3e-2·max(1, |cpu|); greedy sequences identical except near-ties (CPU top-2 margin
//! < 0.25 at the first divergence). Also: graph replay and plain launches give identical
//! tokens.

use t0_core::backend::Backend;
use t0_core::generate::GenerateOptions;
use t0_core::score::ScoreOptions;
use t0_cuda::CudaT5;
use t0_cuda::engine::DecodeState;
use t0_cuda::reference::from_bf16_bits;

mod common;
use common::{TOL, check_greedy, fixture_models, rel_err};

#[test]
fn engine_matches_cpu_backend_on_fixture_models() {
    let Some(dev) = common::device() else { return };
    let Some(fixtures) = fixture_models() else {
        return;
    };
    let (mut seqs, mut same, mut accepted) = (0usize, 0usize, 0usize);
    for fx in &fixtures {
        let (name, cfg, reference) = (&fx.name, &fx.cfg, &fx.reference);
        let st = fx.tensors();
        let cpu = fx.cpu_model();
        let eng = CudaT5::load(&dev, &st, cfg).unwrap();
        let inputs = fx.ids("inputs");
        // Encoder states.
        let ec = cpu.encode(&inputs).unwrap();
        let hc = cpu.backend().to_host(ec.hidden()).unwrap();
        let eg = eng.encode(&inputs, true).unwrap();
        let mut bits = vec![0u16; hc.len()];
        dev.download(eg.hidden(), 0, &mut bits).unwrap();
        let hg = from_bf16_bits(&bits);
        let dm = cfg.d_model;
        let mut we = 0f64;
        for (i, ids) in inputs.iter().enumerate() {
            let s = i * ec.len() * dm;
            let e = rel_err(&hg[s..s + ids.len() * dm], &hc[s..s + ids.len() * dm]);
            assert!(e <= TOL, "{name}: encoder input {i}: {e:e}");
            we = we.max(e);
        }
        // Scores (all inputs in one call; same number of choices each).
        let choices: Vec<Vec<Vec<u32>>> = (0..inputs.len())
            .map(|i| common::ids_of(&reference["choices"][i]))
            .collect();
        let sg = eng.score(&inputs, &choices).unwrap();
        let mut ws = 0f64;
        for (i, ids) in inputs.iter().enumerate() {
            let sc = cpu
                .score(ids, &choices[i], &ScoreOptions::default())
                .unwrap();
            for (c, (&g, &w)) in sg[i].iter().zip(&sc).enumerate() {
                let e = ((g - w) as f64).abs() / (w as f64).abs().max(1.0);
                assert!(e <= TOL, "{name}: input {i} choice {c}: engine {g} cpu {w}");
                ws = ws.max(e);
            }
        }
        // Greedy: graph vs plain launches, and vs the CPU.
        let max_new = reference["max_new_tokens"].as_u64().unwrap() as usize;
        let with_graph = eng.generate(&eg, max_new, true, true).unwrap();
        let plain = eng.generate(&eg, max_new, true, false).unwrap();
        assert_eq!(
            with_graph, plain,
            "{name}: graph replay differs from plain launches"
        );
        let fixed = eng.generate(&eg, max_new, false, true).unwrap();
        assert!(
            fixed.iter().all(|s| s.len() == max_new),
            "{name}: EOS-ignoring run length"
        );
        let gc = cpu
            .generate_greedy(
                &inputs,
                &GenerateOptions {
                    max_new_tokens: max_new,
                    min_new_tokens: 0,
                    ..Default::default()
                },
            )
            .unwrap();
        for (i, (a, b)) in with_graph.iter().zip(&gc).enumerate() {
            seqs += 1;
            if check_greedy(&cpu, &format!("{name}: engine input {i}"), &inputs[i], a, b) {
                accepted += 1;
            } else {
                same += 1;
            }
        }
        eprintln!("engine {name:24} encoder {we:.2e} scores {ws:.2e}");
    }
    eprintln!("engine greedy: {same}/{seqs} identical, {accepted} near-tie divergences accepted");
}

/// Batch-1 decode with combinations of programmatic dependent launch, the RMS norm folded
/// into the GEMV, the attention inside the GEMV and the L2 prefetch hints, with and without a
/// graph: PDL, prefetch and graph replay change no bit; the folded norm and the fused
/// attention give the same first-step logits as the separate kernels within bf16 rounding,
/// and the same greedy tokens as the CPU except at near-ties (top-2 margin, as above).
#[test]
fn decode_options_pdl_and_folded_norm_agree() {
    let Some(dev) = common::device() else { return };
    let Some(fixtures) = fixture_models() else {
        return;
    };
    eprintln!("PDL supported here: {}", dev.pdl_supported());
    let (mut runs, mut diverged) = (0usize, 0usize);
    for fx in &fixtures {
        let (name, cfg, reference) = (&fx.name, &fx.cfg, &fx.reference);
        let st = fx.tensors();
        let cpu = fx.cpu_model();
        let eng = CudaT5::load(&dev, &st, cfg).unwrap();
        let max_new = reference["max_new_tokens"].as_u64().unwrap() as usize;
        for (i, ids) in fx.ids("inputs").into_iter().enumerate() {
            let inp = vec![ids.clone()];
            let enc = eng.encode(&inp, true).unwrap();
            let mut toks = Vec::new();
            let mut first = Vec::new();
            // (PDL, folded norm, attention inside the GEMV, L2 prefetch of the next weights)
            for (pdl, fused, fattn, pf) in [
                (false, false, false, true),
                (true, false, false, true),
                (false, true, false, true),
                (true, true, false, true),
                (false, true, true, true),
                (true, true, true, true),
                (true, true, true, false),
            ] {
                for graph in [true, false] {
                    let mut s = DecodeState::new(&eng, &enc, max_new, true).unwrap();
                    s.set_pdl(&dev, pdl);
                    s.set_fused_norm(fused);
                    s.set_fused_attn(fattn);
                    s.set_prefetch(pf);
                    assert_eq!(s.options(), (pdl && dev.pdl_supported(), fused));
                    assert_eq!(s.fused_attn(), fattn);
                    s.run(&eng, &enc, 1, graph).unwrap();
                    let lg = s.logits(&eng).unwrap();
                    assert!(
                        lg.iter().all(|v| v.is_finite()),
                        "{name}: logits not finite"
                    );
                    first.push(((pdl, fused, fattn, graph), lg));
                    s.reset(&eng).unwrap();
                    s.run(&eng, &enc, max_new, graph).unwrap();
                    toks.push(((pdl, fused, fattn, graph), s.tokens(&eng, true).unwrap()));
                    runs += 1;
                }
            }
            // PDL and graph replay change no bit, for each kernel path.
            for path in [(false, false), (true, false), (true, true)] {
                let same: Vec<_> = first.iter().filter(|(o, _)| (o.1, o.2) == path).collect();
                for (o, lg) in &same[1..] {
                    assert_eq!(
                        lg, &same[0].1,
                        "{name} input {i}: logits {o:?} vs {:?}",
                        same[0].0
                    );
                }
                let same: Vec<_> = toks.iter().filter(|(o, _)| (o.1, o.2) == path).collect();
                for (o, t) in &same[1..] {
                    assert_eq!(
                        t, &same[0].1,
                        "{name} input {i}: tokens {o:?} vs {:?}",
                        same[0].0
                    );
                }
            }
            // Attention inside the GEMV vs the separate attention kernel: first-step logits.
            let sep = &first.iter().find(|(o, _)| o.1 && !o.2).unwrap().1;
            let inl = &first.iter().find(|(o, _)| o.1 && o.2).unwrap().1;
            let ea = rel_err(inl, sep);
            assert!(
                ea <= 1e-2,
                "{name} input {i}: attention-in-GEMV logits rel err {ea:e}"
            );
            eprintln!("{name:24} input {i}: attention-in-GEMV logits rel err {ea:.2e}");
            // Folded norm vs norm kernel: first-step logits.
            let plain = &first.iter().find(|(o, _)| !o.1).unwrap().1;
            let folded = &first.iter().find(|(o, _)| o.1 && !o.2).unwrap().1;
            let e = rel_err(folded, plain);
            assert!(
                e <= 1e-2,
                "{name} input {i}: folded-norm logits rel err {e:e}"
            );
            // Fully fused tokens vs the CPU's greedy: equal, or a near-tie divergence.
            let got = &toks.iter().find(|(o, _)| o.1 && o.2).unwrap().1[0];
            let want = cpu
                .generate_greedy(
                    &inp,
                    &GenerateOptions {
                        max_new_tokens: max_new,
                        min_new_tokens: 0,
                        ..Default::default()
                    },
                )
                .unwrap();
            if check_greedy(
                &cpu,
                &format!("{name} input {i} (fused)"),
                &ids,
                got,
                &want[0],
            ) {
                diverged += 1;
            }
            eprintln!("{name:24} input {i}: folded-norm logits rel err {e:.2e}");
        }
    }
    eprintln!("decode options: {runs} runs, {diverged} near-tie divergences from the CPU");
}
