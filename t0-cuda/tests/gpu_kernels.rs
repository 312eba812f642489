//! Per-kernel checks on the GPU against f64 CPU references on fresh random inputs (and
//! against cuBLAS for the GEMM where libcublas loads). Outputs are poisoned with NaN bytes
//! before each run so unwritten elements fail. Skips with a printed reason without a device.
//! Tolerance: ‖out − ref‖/‖ref‖ ≤ 1e-2 for bf16 outputs, ≤ 1e-4 for f32 outputs of products
//! of bf16 operands (the reference sees the same bf16 inputs).

use std::sync::Arc;

use t0_cuda::device::DevView;
use t0_cuda::ops::{
    self, Attention, EpiVariant, Epilogue, FlashKernel, GemmKernel, NormKernel, Strides,
};
use t0_cuda::reference::{self as r, Rng};
use t0_cuda::{CudaDevice, CudaError, DevBuf};

fn device() -> Option<Arc<CudaDevice>> {
    match CudaDevice::new(0) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn up_bf16(dev: &Arc<CudaDevice>, v: &[f32]) -> DevBuf {
    let b = dev.alloc(v.len() * 2).unwrap();
    dev.upload(&b, 0, &r::to_bf16_bits(v)).unwrap();
    b
}
fn up_f32(dev: &Arc<CudaDevice>, v: &[f32]) -> DevBuf {
    let b = dev.alloc(v.len() * 4).unwrap();
    dev.upload(&b, 0, v).unwrap();
    b
}
fn up_i32(dev: &Arc<CudaDevice>, v: &[i32]) -> DevBuf {
    let b = dev.alloc(v.len() * 4).unwrap();
    dev.upload(&b, 0, v).unwrap();
    b
}
fn poisoned(dev: &Arc<CudaDevice>, bytes: usize) -> DevBuf {
    let b = dev.alloc(bytes).unwrap();
    dev.memset(&b, 0, bytes, 0xff).unwrap();
    b
}
fn down_f32(dev: &Arc<CudaDevice>, b: &DevBuf, n: usize) -> Vec<f32> {
    let mut v = vec![0f32; n];
    dev.download(b, 0, &mut v).unwrap();
    v
}
fn down_bf16(dev: &Arc<CudaDevice>, b: &DevBuf, n: usize) -> Vec<f32> {
    let mut v = vec![0u16; n];
    dev.download(b, 0, &mut v).unwrap();
    r::from_bf16_bits(&v)
}

fn check(what: &str, got: &[f32], want: &[f64], tol: f64) {
    let e = r::rel_err(got, want);
    eprintln!("{what:60} rel err {e:.3e}");
    assert!(e <= tol, "{what}: rel err {e:e} > {tol:e}");
}

#[test]
fn gemm_all_kernels_and_epilogues_match_f64() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(1);
    let shapes = [
        (1usize, 256usize, 512usize),
        (1, 1000, 4096),
        (5, 96, 64),
        (37, 200, 328),
        (64, 512, 1024),
        (130, 260, 96),
        (256, 384, 2048),
        (3, 17, 24),
    ];
    for &(m, n, k) in &shapes {
        let a = rng.bf16_vec(m * k, 1.0);
        let w = rng.bf16_vec(n * k, 1.0 / (k as f32).sqrt());
        let want = r::matmul_nt(&a, &w, m, n, k);
        let (ab, wb) = (up_bf16(&dev, &a), up_bf16(&dev, &w));
        for kern in [
            GemmKernel::Auto,
            GemmKernel::Large,
            GemmKernel::Small,
            GemmKernel::Simple,
            GemmKernel::Gemv,
            GemmKernel::Wgmma,
            GemmKernel::WgmmaPipe,
            GemmKernel::Tma,
            GemmKernel::TmaPersistent,
        ] {
            let wg = matches!(
                kern,
                GemmKernel::Wgmma
                    | GemmKernel::WgmmaPipe
                    | GemmKernel::Tma
                    | GemmKernel::TmaPersistent
            );
            if (kern == GemmKernel::Gemv && m != 1) || (wg && !dev.has_wgmma()) {
                continue;
            }
            // f32 store
            let o = poisoned(&dev, m * n * 4);
            ops::gemm(
                &dev,
                ab.view(),
                k,
                wb.view(),
                k,
                o.view(),
                n,
                (m, n, k),
                Epilogue::F32,
                kern,
            )
            .unwrap();
            check(
                &format!("gemm {kern:?} f32 {m}x{n}x{k}"),
                &down_f32(&dev, &o, m * n),
                &want,
                1e-4,
            );
            // f32 accumulate (split-K when few tiles)
            let base = rng.bf16_vec(m * n, 1.0);
            let o = up_f32(&dev, &base);
            ops::gemm(
                &dev,
                ab.view(),
                k,
                wb.view(),
                k,
                o.view(),
                n,
                (m, n, k),
                Epilogue::AddF32,
                kern,
            )
            .unwrap();
            let want_add: Vec<f64> = want.iter().zip(&base).map(|(w, b)| w + *b as f64).collect();
            check(
                &format!("gemm {kern:?} add {m}x{n}x{k}"),
                &down_f32(&dev, &o, m * n),
                &want_add,
                1e-4,
            );
            // bf16 store
            let o = poisoned(&dev, m * n * 2);
            ops::gemm(
                &dev,
                ab.view(),
                k,
                wb.view(),
                k,
                o.view(),
                n,
                (m, n, k),
                Epilogue::Bf16,
                kern,
            )
            .unwrap();
            check(
                &format!("gemm {kern:?} bf16 {m}x{n}x{k}"),
                &down_bf16(&dev, &o, m * n),
                &want,
                1e-2,
            );
            if n % 2 == 0 {
                for (epi, f) in [
                    (Epilogue::GeGlu, r::gelu_tanh as fn(f64) -> f64),
                    (Epilogue::SwiGlu, r::silu),
                ] {
                    let o = poisoned(&dev, m * n);
                    ops::gemm(
                        &dev,
                        ab.view(),
                        k,
                        wb.view(),
                        k,
                        o.view(),
                        n / 2,
                        (m, n, k),
                        epi,
                        kern,
                    )
                    .unwrap();
                    let wg: Vec<f64> = (0..m * n / 2)
                        .map(|i| {
                            let (row, c) = (i / (n / 2), i % (n / 2));
                            f(want[row * n + 2 * c]) * want[row * n + 2 * c + 1]
                        })
                        .collect();
                    check(
                        &format!("gemm {kern:?} {epi:?} {m}x{n}x{k}"),
                        &down_bf16(&dev, &o, m * n / 2),
                        &wg,
                        1e-2,
                    );
                }
                let o = poisoned(&dev, m * n * 2);
                ops::gemm(
                    &dev,
                    ab.view(),
                    k,
                    wb.view(),
                    k,
                    o.view(),
                    n,
                    (m, n, k),
                    Epilogue::Relu,
                    kern,
                )
                .unwrap();
                let wr: Vec<f64> = want.iter().map(|&x| x.max(0.0)).collect();
                check(
                    &format!("gemm {kern:?} relu {m}x{n}x{k}"),
                    &down_bf16(&dev, &o, m * n),
                    &wr,
                    1e-2,
                );
            }
        }
    }
    dev.synchronize().unwrap();
}

#[test]
fn wgmma_gemm_matches_f64() {
    let Some(dev) = device() else { return };
    if !dev.has_wgmma() {
        eprintln!("skipped: not a compute capability 9.0 device (or T0_CUDA_WGMMA=0)");
        return;
    }
    eprintln!("wgmma self-check at open: {:?}", dev.wgmma_checked());
    let mut rng = Rng::new(9);
    for &(m, n, k) in &[
        (128usize, 256usize, 64usize),
        (300, 520, 200),
        (512, 1024, 1024),
        (1100, 4400, 136),
    ] {
        let a = rng.bf16_vec(m * k, 1.0);
        let w = rng.bf16_vec(n * k, 1.0 / (k as f32).sqrt());
        let want = r::matmul_nt(&a, &w, m, n, k);
        let (ab, wb) = (up_bf16(&dev, &a), up_bf16(&dev, &w));
        for kern in [
            GemmKernel::Wgmma,
            GemmKernel::WgmmaPipe,
            GemmKernel::Tma,
            GemmKernel::TmaPersistent,
        ] {
            let o = poisoned(&dev, m * n * 4);
            ops::gemm(
                &dev,
                ab.view(),
                k,
                wb.view(),
                k,
                o.view(),
                n,
                (m, n, k),
                Epilogue::F32,
                kern,
            )
            .unwrap();
            check(
                &format!("gemm {kern:?} f32 {m}x{n}x{k}"),
                &down_f32(&dev, &o, m * n),
                &want,
                1e-4,
            );
        }
    }
    assert_eq!(
        dev.wgmma_checked(),
        Some((
            true,
            true,
            true,
            !std::env::var("T0_CUDA_GEMM_PERSISTENT").is_ok_and(|v| v == "0")
        )),
        "self-check disagreed with the f64 checks"
    );
}

/// The gated (GELU / SiLU) epilogues of the TMA kernels: whole tiles take a branch-free path
/// with paired 4-byte stores, ragged tiles and odd output strides the general one; with the
/// TMA-store variant every tile goes through shared memory and the copy engine where the
/// output stride and width are multiples of 16 bytes (ldc 2304, 128, and 272 with 264 columns:
/// ragged rows and columns clipped by the copy engine, padding beyond them), else another
/// path: 260 columns (520 bytes) with ldc 264 must not take it, since the copy engine clips
/// columns at 16-byte granularity and wrote the padding (device run 21).
/// Shapes with more tiles than multiprocessors (the persistent kernel walks several tiles per
/// block), whole tiles beside ragged ones, and an output row stride wider than n / 2 (even: the
/// fast path; odd: the general path). Outputs poisoned, padding columns checked untouched.
#[test]
fn wgmma_gated_epilogues_match_f64() {
    let Some(dev) = device() else { return };
    if !dev.has_wgmma() {
        eprintln!("skipped: not a compute capability 9.0 device (or T0_CUDA_WGMMA=0)");
        return;
    }
    let mut rng = Rng::new(31);
    for &(m, n, k, pad) in &[
        (1100usize, 4608usize, 136usize, 0usize),
        (1100, 4608, 136, 2),
        (256, 768, 64, 1),
        (300, 520, 200, 0),
        (300, 520, 200, 4),
        (300, 528, 200, 8),
        (128, 256, 4096, 0),
    ] {
        let a = rng.bf16_vec(m * k, 1.0);
        let w = rng.bf16_vec(n * k, 1.0 / (k as f32).sqrt());
        let want = r::matmul_nt(&a, &w, m, n, k);
        let (ab, wb) = (up_bf16(&dev, &a), up_bf16(&dev, &w));
        let (h, ldc) = (n / 2, n / 2 + pad);
        let mut runs = vec![
            (GemmKernel::Auto, EpiVariant::Auto),
            (GemmKernel::Tma, EpiVariant::Auto),
            (GemmKernel::TmaPersistent, EpiVariant::Auto),
        ];
        if !ops::fast_epilogues_disabled() && ops::tma_store_allowed() {
            runs.push((GemmKernel::Tma, EpiVariant::Store));
            runs.push((GemmKernel::TmaPersistent, EpiVariant::Store));
        }
        for (kern, var) in runs {
            for (epi, f) in [
                (Epilogue::GeGlu, r::gelu_tanh as fn(f64) -> f64),
                (Epilogue::SwiGlu, r::silu),
            ] {
                let o = poisoned(&dev, m * ldc * 2);
                ops::gemm_with(
                    &dev,
                    ab.view(),
                    k,
                    wb.view(),
                    k,
                    o.view(),
                    ldc,
                    (m, n, k),
                    epi,
                    kern,
                    var,
                )
                .unwrap();
                let mut raw = vec![0u16; m * ldc];
                dev.download(&o, 0, &mut raw).unwrap();
                let all = r::from_bf16_bits(&raw);
                let got: Vec<f32> = (0..m * h).map(|i| all[(i / h) * ldc + i % h]).collect();
                let wg: Vec<f64> = (0..m * h)
                    .map(|i| {
                        let (row, c) = (i / h, i % h);
                        f(want[row * n + 2 * c]) * want[row * n + 2 * c + 1]
                    })
                    .collect();
                check(
                    &format!("gemm {kern:?} {var:?} {epi:?} {m}x{n}x{k} ldc {ldc}"),
                    &got,
                    &wg,
                    1e-2,
                );
                // Element-wise too: each output within 2e-2 of the largest reference value.
                let big = wg.iter().fold(0f64, |x, y| x.max(y.abs()));
                for (i, (g, w)) in got.iter().zip(&wg).enumerate() {
                    assert!(
                        ((*g as f64) - w).abs() <= 2e-2 * big,
                        "{kern:?} {var:?} {epi:?} {m}x{n}x{k}: element {i} = {g}, want {w}"
                    );
                }
                for row in 0..m {
                    for c in h..ldc {
                        assert_eq!(
                            raw[row * ldc + c],
                            0xffff,
                            "{kern:?} {var:?} {epi:?} {m}x{n}x{k} ldc {ldc}: padding written at ({row}, {c})"
                        );
                    }
                }
            }
        }
    }
}

/// The whole-tile fast epilogues of the TMA kernels (f32, f32-add, bf16, ReLU; every
/// variant, plus `Auto` = the self-check's choice and `General` = the plain kernels) vs f64:
/// whole tiles beside ragged ones (1100x4608: 9 x 18 tiles, the last row tile ragged; more
/// tiles than multiprocessors, so the persistent kernel walks several per block), ragged N and
/// K, a one-tile product split over K (f32-add: atomic, the general path), and output row
/// strides ldc = n and ldc > n (n + 4: every variant's fast path with a row stride; n + 2:
/// `Swap` falls back to the general path; n + 1: only `Scalar` stays fast). `Store` (the TMA
/// store through shared memory; f32-add as the copy engine's reduce-add) wherever the row
/// stride is a multiple of 16 bytes (ldc = n, n + 8, and n + 4 for f32), ragged tiles
/// included (300x520; 300x516 with ldc 520: f32 rows of 2064 bytes are stored with the width
/// clipped inside a box, bf16 rows of 1032 bytes must take another path), else another path.
/// Outputs poisoned
/// (f32-add: a random base, padding poisoned), padding checked untouched bit for bit.
#[test]
fn wgmma_fast_epilogues_match_f64() {
    let Some(dev) = device() else { return };
    if !dev.has_wgmma() {
        eprintln!("skipped: not a compute capability 9.0 device (or T0_CUDA_WGMMA=0)");
        return;
    }
    eprintln!(
        "self-check {:?}; fast epilogue choice [plain, persistent, cluster][epilogue code] = {:?}",
        dev.wgmma_checked(),
        dev.fast_epilogue_choice()
    );
    tma_epilogues_vs_f64(&dev, &[GemmKernel::Tma, GemmKernel::TmaPersistent]);
}

/// The cluster TMA GEMM (2 blocks sharing W by multicast): opt-in, runs only with
/// `T0_CUDA_GEMM_CLUSTER=1` (a wrong barrier protocol would trap and take the process's
/// context with it, so it is not run with the other tests by default). The same shapes and
/// checks as `wgmma_fast_epilogues_match_f64` (odd row-tile counts: the pair's second block
/// lies below M; ragged N: the second W half lies past N), plus the gated epilogues.
#[test]
fn wgmma_cluster_gemm_matches_f64() {
    let Some(dev) = device() else { return };
    if !dev.has_wgmma() || !ops::cluster_gemm_enabled() {
        eprintln!("skipped: needs compute capability 9.0 and T0_CUDA_GEMM_CLUSTER=1");
        return;
    }
    eprintln!(
        "self-check {:?}; cluster faster for epilogues {:?}",
        dev.wgmma_checked(),
        dev.cluster_faster_mask()
    );
    tma_epilogues_vs_f64(&dev, &[GemmKernel::TmaCluster]);
    let mut rng = Rng::new(53);
    for &(m, n, k) in &[(300usize, 520usize, 200usize), (1100, 4608, 136)] {
        let a = rng.bf16_vec(m * k, 1.0);
        let w = rng.bf16_vec(n * k, 1.0 / (k as f32).sqrt());
        let want = r::matmul_nt(&a, &w, m, n, k);
        let (ab, wb) = (up_bf16(&dev, &a), up_bf16(&dev, &w));
        let h = n / 2;
        for (epi, f) in [
            (Epilogue::GeGlu, r::gelu_tanh as fn(f64) -> f64),
            (Epilogue::SwiGlu, r::silu),
        ] {
            let o = poisoned(&dev, m * h * 2);
            ops::gemm(
                &dev,
                ab.view(),
                k,
                wb.view(),
                k,
                o.view(),
                h,
                (m, n, k),
                epi,
                GemmKernel::TmaCluster,
            )
            .unwrap();
            let got = down_bf16(&dev, &o, m * h);
            let wg: Vec<f64> = (0..m * h)
                .map(|i| {
                    let (row, c) = (i / h, i % h);
                    f(want[row * n + 2 * c]) * want[row * n + 2 * c + 1]
                })
                .collect();
            check(
                &format!("gemm TmaCluster {epi:?} {m}x{n}x{k}"),
                &got,
                &wg,
                1e-2,
            );
        }
    }
}

/// Every epilogue variant x {f32, f32-add, bf16, ReLU} of the TMA kernels `kerns` vs f64 (see
/// `wgmma_fast_epilogues_match_f64`).
fn tma_epilogues_vs_f64(dev: &Arc<CudaDevice>, kerns: &[GemmKernel]) {
    let dev = dev.clone();
    let mut rng = Rng::new(47);
    for &(m, n, k, pads) in &[
        (1100usize, 4608usize, 136usize, &[0usize, 2, 8][..]),
        (256, 768, 64, &[4, 1][..]),
        (300, 520, 200, &[0][..]),
        (300, 516, 200, &[4][..]),
        (128, 256, 4096, &[0, 4][..]),
    ] {
        let a = rng.bf16_vec(m * k, 1.0);
        let w = rng.bf16_vec(n * k, 1.0 / (k as f32).sqrt());
        let want = r::matmul_nt(&a, &w, m, n, k);
        let (ab, wb) = (up_bf16(&dev, &a), up_bf16(&dev, &w));
        for &pad in pads {
            let ldc = n + pad;
            let base: Vec<f32> = (0..m * ldc)
                .map(|i| {
                    if i % ldc < n {
                        rng.uniform()
                    } else {
                        f32::from_bits(u32::MAX)
                    }
                })
                .collect();
            for &kern in kerns {
                // T0_CUDA_FAST_EPI=0 (gpu-check.sh's fallback after a failed probe) keeps the
                // fast variants off here too.
                let mut vars = vec![EpiVariant::Auto, EpiVariant::General];
                if !ops::fast_epilogues_disabled() {
                    vars.extend([EpiVariant::Pairs, EpiVariant::Swap, EpiVariant::Scalar]);
                    // The TMA store (not for the cluster kernel, which takes the general path).
                    if ops::tma_store_allowed() && kern != GemmKernel::TmaCluster {
                        vars.push(EpiVariant::Store);
                    }
                }
                for &var in &vars {
                    for epi in [
                        Epilogue::F32,
                        Epilogue::AddF32,
                        Epilogue::Bf16,
                        Epilogue::Relu,
                    ] {
                        let what = format!("gemm {kern:?} {var:?} {epi:?} {m}x{n}x{k} ldc {ldc}");
                        let f32_out = epi.out_size() == 4;
                        let o = if epi == Epilogue::AddF32 {
                            up_f32(&dev, &base)
                        } else {
                            poisoned(&dev, m * ldc * epi.out_size())
                        };
                        ops::gemm_with(
                            &dev,
                            ab.view(),
                            k,
                            wb.view(),
                            k,
                            o.view(),
                            ldc,
                            (m, n, k),
                            epi,
                            kern,
                            var,
                        )
                        .unwrap();
                        let (all, bits): (Vec<f32>, Vec<u32>) = if f32_out {
                            let v = down_f32(&dev, &o, m * ldc);
                            let b = v.iter().map(|x| x.to_bits()).collect();
                            (v, b)
                        } else {
                            let mut raw = vec![0u16; m * ldc];
                            dev.download(&o, 0, &mut raw).unwrap();
                            (
                                r::from_bf16_bits(&raw),
                                raw.iter().map(|&x| x as u32).collect(),
                            )
                        };
                        let got: Vec<f32> =
                            (0..m * n).map(|i| all[(i / n) * ldc + i % n]).collect();
                        let wv: Vec<f64> = (0..m * n)
                            .map(|i| match epi {
                                Epilogue::AddF32 => want[i] + base[(i / n) * ldc + i % n] as f64,
                                Epilogue::Relu => want[i].max(0.0),
                                _ => want[i],
                            })
                            .collect();
                        check(&what, &got, &wv, if f32_out { 1e-4 } else { 1e-2 });
                        let big = wv.iter().fold(0f64, |x, y| x.max(y.abs()));
                        let el = if f32_out { 1e-3 } else { 2e-2 };
                        for (i, (g, w)) in got.iter().zip(&wv).enumerate() {
                            assert!(
                                ((*g as f64) - w).abs() <= el * big,
                                "{what}: element ({}, {}) = {g}, want {w}",
                                i / n,
                                i % n
                            );
                        }
                        let poison = if f32_out { u32::MAX } else { 0xffff };
                        for row in 0..m {
                            for c in n..ldc {
                                assert_eq!(
                                    bits[row * ldc + c],
                                    poison,
                                    "{what}: padding written at ({row}, {c})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn gemm_strided_operands() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(2);
    let (m, n, k, lda, ldw, ldc) = (70, 136, 256, 264, 272, 150);
    let a = rng.bf16_vec(m * lda, 1.0);
    let w = rng.bf16_vec(n * ldw, 0.1);
    let ad: Vec<f32> = (0..m * k).map(|i| a[(i / k) * lda + i % k]).collect();
    let wd: Vec<f32> = (0..n * k).map(|i| w[(i / k) * ldw + i % k]).collect();
    let want = r::matmul_nt(&ad, &wd, m, n, k);
    let (ab, wb) = (up_bf16(&dev, &a), up_bf16(&dev, &w));
    for kern in [
        GemmKernel::Auto,
        GemmKernel::Large,
        GemmKernel::Wgmma,
        GemmKernel::WgmmaPipe,
        GemmKernel::Tma,
        GemmKernel::TmaPersistent,
    ] {
        let wg = matches!(
            kern,
            GemmKernel::Wgmma | GemmKernel::WgmmaPipe | GemmKernel::Tma | GemmKernel::TmaPersistent
        );
        if wg && !dev.has_wgmma() {
            continue;
        }
        let o = poisoned(&dev, m * ldc * 4);
        ops::gemm(
            &dev,
            ab.view(),
            lda,
            wb.view(),
            ldw,
            o.view(),
            ldc,
            (m, n, k),
            Epilogue::F32,
            kern,
        )
        .unwrap();
        let got = down_f32(&dev, &o, m * ldc);
        let g: Vec<f32> = (0..m * n).map(|i| got[(i / n) * ldc + i % n]).collect();
        check(&format!("gemm strided {kern:?}"), &g, &want, 1e-4);
    }
}

#[test]
fn gemm_matches_cublas() {
    let Some(dev) = device() else { return };
    // SAFETY: only tries to dlopen libcublas.
    if !unsafe { cudarc::cublas::sys::is_culib_present() } {
        eprintln!("skipped: libcublas not found");
        return;
    }
    let blas = cudarc::cublas::CudaBlas::new(dev.stream().clone()).unwrap();
    let mut rng = Rng::new(3);
    for &(m, n, k) in &[
        (128usize, 256usize, 512usize),
        (512, 1024, 4096),
        (33, 4096, 4096),
    ] {
        let a = rng.bf16_vec(m * k, 1.0);
        let w = rng.bf16_vec(n * k, 1.0 / (k as f32).sqrt());
        let (ab, wb) = (up_bf16(&dev, &a), up_bf16(&dev, &w));
        let ours = poisoned(&dev, m * n * 4);
        ops::gemm(
            &dev,
            ab.view(),
            k,
            wb.view(),
            k,
            ours.view(),
            n,
            (m, n, k),
            Epilogue::F32,
            GemmKernel::Auto,
        )
        .unwrap();
        let theirs = poisoned(&dev, m * n * 4);
        t0_cuda_test_cublas(&blas, &dev, &ab, &wb, &theirs, m, n, k);
        let o = down_f32(&dev, &ours, m * n);
        let t: Vec<f64> = down_f32(&dev, &theirs, m * n)
            .iter()
            .map(|&x| x as f64)
            .collect();
        check(&format!("gemm vs cuBLAS {m}x{n}x{k}"), &o, &t, 1e-4);
    }
}

/// Row-major `C[m,n] = A[m,k] W[n,k]^T` through cublasGemmEx (column-major `C^T = W A^T`).
#[allow(clippy::too_many_arguments)]
fn t0_cuda_test_cublas(
    blas: &cudarc::cublas::CudaBlas,
    dev: &CudaDevice,
    a: &DevBuf,
    w: &DevBuf,
    c: &DevBuf,
    m: usize,
    n: usize,
    k: usize,
) {
    use cudarc::cublas::sys::{
        cublasComputeType_t, cublasGemmAlgo_t, cublasOperation_t, cudaDataType_t,
    };
    let (alpha, beta) = (1.0f32, 0.0f32);
    // SAFETY: all three buffers are live device allocations of the sizes the call reads and
    // writes (checked by construction above); alpha/beta outlive the synchronous call.
    unsafe {
        cudarc::cublas::result::gemm_ex(
            *blas.handle(),
            cublasOperation_t::CUBLAS_OP_T,
            cublasOperation_t::CUBLAS_OP_N,
            n as i32,
            m as i32,
            k as i32,
            (&alpha) as *const f32 as *const _,
            w.ptr() as *const _,
            cudaDataType_t::CUDA_R_16BF,
            k as i32,
            a.ptr() as *const _,
            cudaDataType_t::CUDA_R_16BF,
            k as i32,
            (&beta) as *const f32 as *const _,
            c.ptr() as *mut _,
            cudaDataType_t::CUDA_R_32F,
            n as i32,
            cublasComputeType_t::CUBLAS_COMPUTE_32F,
            cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
        )
        .unwrap();
    }
    dev.synchronize().unwrap();
}

#[allow(clippy::too_many_arguments)]
fn run_attention(
    dev: &Arc<CudaDevice>,
    rng: &mut Rng,
    (batch, heads, dh, lq, lk): (usize, usize, usize, usize, usize),
    with_len: bool,
    with_bias: bool,
    causal: bool,
    q_offset: usize,
    kv_div: usize,
    force_rows: bool,
) {
    let inner = heads * dh;
    let kvb = batch / kv_div;
    let q = rng.bf16_vec(batch * lq * inner, 1.0);
    let k = rng.bf16_vec(kvb * lk * inner, 1.0);
    let v = rng.bf16_vec(kvb * lk * inner, 1.0);
    let lens: Vec<i32> = (0..kvb)
        .map(|b| {
            if b == 0 {
                lk as i32
            } else {
                rng.below(lk as u64 + 1) as i32
            }
        })
        .collect();
    let br = 20usize;
    let bw = 2 * br + 1;
    let tab: Vec<f32> = (0..heads * bw).map(|_| rng.uniform() * 2.0).collect();
    let want = r::attention(
        &q,
        &k,
        &v,
        (batch, heads, dh, lq, lk),
        with_len.then_some(&lens[..]),
        with_bias.then_some((&tab[..], br, bw, true)),
        causal,
        q_offset,
        kv_div,
    );
    let (qb, kb, vb) = (up_bf16(dev, &q), up_bf16(dev, &k), up_bf16(dev, &v));
    let lb = up_i32(dev, &lens);
    let tb = up_f32(dev, &tab);
    let ob = poisoned(dev, batch * lq * inner * 2);
    let at = Attention {
        batch,
        heads,
        dh,
        lq,
        lk,
        q: qb.view(),
        q_st: Strides {
            batch: lq * inner,
            row: inner,
        },
        k: kb.view(),
        v: vb.view(),
        kv_st: Strides {
            batch: lk * inner,
            row: inner,
        },
        o: ob.view(),
        o_st: Strides {
            batch: lq * inner,
            row: inner,
        },
        key_len: if with_len { lb.view() } else { DevView::NULL },
        bias: if with_bias { tb.view() } else { DevView::NULL },
        bias_r: br,
        bias_w: bw,
        bias_qpos: true,
        causal,
        q_offset,
        kv_div,
        pos: DevView::NULL,
        new_kv: None,
        force_rows,
    };
    ops::attention(dev, &at).unwrap();
    let got = down_bf16(dev, &ob, batch * lq * inner);
    check(
        &format!(
            "attention b{batch} h{heads} d{dh} lq{lq} lk{lk} len{with_len} bias{with_bias} causal{causal} off{q_offset} div{kv_div} rows{force_rows}"
        ),
        &got,
        &want,
        1e-2,
    );
}

#[test]
fn attention_flash_and_rows_match_f64() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(4);
    // Flash; row-wise with the head-size-64 decode kernel; row-wise with the general kernel.
    for (force_rows, d64) in [(false, true), (true, true), (true, false)] {
        ops::set_rows_d64(d64);
        run_attention(
            &dev,
            &mut rng,
            (2, 3, 64, 100, 100),
            true,
            true,
            false,
            0,
            1,
            force_rows,
        );
        run_attention(
            &dev,
            &mut rng,
            (1, 2, 64, 64, 64),
            false,
            false,
            false,
            0,
            1,
            force_rows,
        );
        run_attention(
            &dev,
            &mut rng,
            (2, 2, 64, 70, 70),
            false,
            true,
            true,
            0,
            1,
            force_rows,
        );
        run_attention(
            &dev,
            &mut rng,
            (4, 2, 64, 5, 130),
            true,
            false,
            false,
            0,
            2,
            force_rows,
        );
        run_attention(
            &dev,
            &mut rng,
            (2, 2, 64, 7, 20),
            false,
            true,
            true,
            13,
            1,
            force_rows,
        );
        run_attention(
            &dev,
            &mut rng,
            (1, 4, 64, 200, 300),
            true,
            true,
            false,
            0,
            1,
            force_rows,
        );
    }
    // Other head sizes go to the row-wise kernel.
    run_attention(
        &dev,
        &mut rng,
        (2, 3, 16, 9, 33),
        true,
        true,
        true,
        0,
        1,
        false,
    );
    run_attention(
        &dev,
        &mut rng,
        (3, 2, 128, 4, 50),
        true,
        false,
        false,
        0,
        3,
        false,
    );
    ops::set_rows_d64(true);
}

/// One flash-attention case (head size 64) for the old-vs-new kernel comparison.
struct FlashCase {
    batch: usize,
    heads: usize,
    lq: usize,
    lk: usize,
    /// Valid keys per key batch.
    lens: Option<Vec<i32>>,
    /// Bias table, indexed by query position (`Some(true)`) or row (`Some(false)`).
    bias: Option<bool>,
    causal: bool,
    q_offset: usize,
    kv_div: usize,
    /// q, k, v interleaved in one `[batch][len][3][heads * 64]` buffer as the engine's fused
    /// QKV projection writes them (row stride 3 * inner); needs lq == lk and kv_div 1.
    fused: bool,
    /// Bias table (R, W): (40, 81) by default; T5's (128, 257) puts whole key tiles inside
    /// the table (v3's shared-memory path); W > 512 is not cached by v3.
    bias_rw: (usize, usize),
}

/// Max |got - want| over max |want|: catches a few wrong elements the norm bound would hide.
fn max_elem_err(got: &[f32], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, w| m.max(w.abs())).max(1e-30);
    got.iter()
        .zip(want)
        .map(|(&g, &w)| {
            if g.is_finite() {
                (g as f64 - w).abs()
            } else {
                f64::INFINITY
            }
        })
        .fold(0.0f64, f64::max)
        / scale
}

/// Runs the case through `flash_attn_d64`, `_v2`, `_v3`, `_v3p`, `_v3p64` (outputs poisoned first):
/// each vs the f64 reference (norm bound 1e-2, element bound 3e-2 of max |ref|), rows whose
/// keys are all masked exactly zero, and each newer kernel vs the old one.
fn run_flash_case(dev: &Arc<CudaDevice>, rng: &mut Rng, c: &FlashCase) {
    let dh = 64usize;
    let inner = c.heads * dh;
    let kvb = c.batch / c.kv_div;
    assert!(kvb * c.kv_div == c.batch && (!c.fused || (c.lq == c.lk && c.kv_div == 1)));
    let q = rng.bf16_vec(c.batch * c.lq * inner, 1.0);
    let k = rng.bf16_vec(kvb * c.lk * inner, 1.0);
    let v = rng.bf16_vec(kvb * c.lk * inner, 1.0);
    let (br, bw) = c.bias_rw;
    let tab: Vec<f32> = (0..c.heads * bw).map(|_| rng.uniform() * 2.0).collect();
    let want = r::attention(
        &q,
        &k,
        &v,
        (c.batch, c.heads, dh, c.lq, c.lk),
        c.lens.as_deref(),
        c.bias.map(|qpos| (&tab[..], br, bw, qpos)),
        c.causal,
        c.q_offset,
        c.kv_div,
    );
    let label = format!(
        "flash b{} h{} lq{} lk{} lens{:?} bias{:?} R,W{:?} causal{} off{} div{} fused{}",
        c.batch,
        c.heads,
        c.lq,
        c.lk,
        c.lens,
        c.bias,
        c.bias_rw,
        c.causal,
        c.q_offset,
        c.kv_div,
        c.fused
    );
    // Device operands: dense, or one fused buffer.
    let (bufs, q_st, kv_st) = if c.fused {
        let mut qkv = vec![0f32; c.batch * c.lq * 3 * inner];
        for row in 0..c.batch * c.lq {
            let o = row * 3 * inner;
            qkv[o..o + inner].copy_from_slice(&q[row * inner..(row + 1) * inner]);
            qkv[o + inner..o + 2 * inner].copy_from_slice(&k[row * inner..(row + 1) * inner]);
            qkv[o + 2 * inner..o + 3 * inner].copy_from_slice(&v[row * inner..(row + 1) * inner]);
        }
        let st = Strides {
            batch: c.lq * 3 * inner,
            row: 3 * inner,
        };
        (vec![up_bf16(dev, &qkv)], st, st)
    } else {
        (
            vec![up_bf16(dev, &q), up_bf16(dev, &k), up_bf16(dev, &v)],
            Strides {
                batch: c.lq * inner,
                row: inner,
            },
            Strides {
                batch: c.lk * inner,
                row: inner,
            },
        )
    };
    let (qv, kv, vv) = if c.fused {
        let b = bufs[0].view();
        (b, b.from(inner * 2).unwrap(), b.from(inner * 4).unwrap())
    } else {
        (bufs[0].view(), bufs[1].view(), bufs[2].view())
    };
    let lb = up_i32(dev, c.lens.as_deref().unwrap_or(&[0]));
    let tb = up_f32(dev, &tab);
    let n = c.batch * c.lq * inner;
    let mut outs = Vec::new();
    let kernels = [
        FlashKernel::Old,
        FlashKernel::V2,
        FlashKernel::V3,
        FlashKernel::V3Pipe,
        FlashKernel::V3Pipe64,
    ];
    for kern in kernels {
        let ob = poisoned(dev, n * 2);
        let at = Attention {
            batch: c.batch,
            heads: c.heads,
            dh,
            lq: c.lq,
            lk: c.lk,
            q: qv,
            q_st,
            k: kv,
            v: vv,
            kv_st,
            o: ob.view(),
            o_st: Strides {
                batch: c.lq * inner,
                row: inner,
            },
            key_len: if c.lens.is_some() {
                lb.view()
            } else {
                DevView::NULL
            },
            bias: if c.bias.is_some() {
                tb.view()
            } else {
                DevView::NULL
            },
            bias_r: br,
            bias_w: bw,
            bias_qpos: c.bias.unwrap_or(false),
            causal: c.causal,
            q_offset: c.q_offset,
            kv_div: c.kv_div,
            pos: DevView::NULL,
            new_kv: None,
            force_rows: false,
        };
        ops::attention_with(dev, &at, kern).unwrap();
        let got = down_bf16(dev, &ob, n);
        check(&format!("{label} {kern:?}"), &got, &want, 1e-2);
        let e = max_elem_err(&got, &want);
        assert!(
            e <= 3e-2,
            "{label} {kern:?}: max element error {e:e} of max |ref|"
        );
        // Key batches with no valid key: every output of their query batches is exactly 0.
        if let Some(lens) = &c.lens {
            for b in 0..c.batch {
                if lens[b / c.kv_div] <= 0 {
                    let rows = &got[b * c.lq * inner..(b + 1) * c.lq * inner];
                    assert!(
                        rows.iter().all(|&x| x == 0.0),
                        "{label} {kern:?}: fully masked batch {b} not zero"
                    );
                }
            }
        }
        outs.push(got);
    }
    let old: Vec<f64> = outs[0].iter().map(|&x| x as f64).collect();
    for (got, kern) in outs.iter().zip(kernels).skip(1) {
        check(&format!("{label} {kern:?} vs old"), got, &old, 1e-2);
    }
}

#[test]
fn flash_v2_matches_f64_and_old_kernel() {
    let Some(dev) = device() else { return };
    // The run-time self-check that gates automatic use of the new kernels.
    let checked = dev.fast_kernels_checked();
    eprintln!("self-check (flash_attn_d64_v2, rmsnorm_vec, flash_attn_d64_v3) = {checked:?}");
    assert_eq!(checked, (true, true, true));
    let mut rng = Rng::new(41);
    let case =
        |batch, heads, lq, lk, lens: Option<Vec<i32>>, bias, causal, q_offset, kv_div| FlashCase {
            batch,
            heads,
            lq,
            lk,
            lens,
            bias,
            causal,
            q_offset,
            kv_div,
            fused: false,
            bias_rw: (40, 81),
        };
    let mut cases = vec![
        // The G3 encoder shape (512 x 512) in the engine's fused QKV layout.
        FlashCase {
            fused: true,
            ..case(
                2,
                2,
                512,
                512,
                Some(vec![512, 300]),
                Some(true),
                false,
                0,
                1,
            )
        },
        // A key batch with no valid key (rows of zeros), one with a single key.
        case(
            4,
            1,
            512,
            512,
            Some(vec![1, 511, 0, 257]),
            Some(false),
            false,
            0,
            1,
        ),
        case(3, 2, 512, 512, None, None, false, 0, 1),
        // Causal with offsets, key lengths, bias.
        case(
            2,
            2,
            70,
            200,
            Some(vec![200, 150]),
            Some(true),
            true,
            100,
            1,
        ),
        case(2, 2, 150, 150, None, Some(true), true, 0, 1),
        case(2, 2, 7, 20, None, Some(true), true, 13, 1),
        case(
            2,
            1,
            130,
            300,
            Some(vec![290, 0]),
            Some(false),
            true,
            170,
            1,
        ),
        case(1, 2, 200, 200, None, None, true, 0, 1),
        // Query batches sharing one K/V.
        case(4, 2, 5, 130, Some(vec![130, 77]), None, false, 0, 2),
        case(8, 1, 33, 256, Some(vec![0, 100]), Some(true), false, 0, 4),
        case(6, 2, 140, 70, None, Some(true), false, 0, 3),
    ];
    // Ragged lengths 1..200 around the tile sizes (64 keys, 64 / 128 queries).
    for (i, &(lq, lk)) in [
        (2usize, 1usize),
        (3, 200),
        (17, 5),
        (64, 64),
        (65, 129),
        (127, 64),
        (128, 128),
        (129, 191),
        (130, 7),
        (199, 63),
        (200, 200),
    ]
    .iter()
    .enumerate()
    {
        let l1 = rng.below(lk as u64 + 1) as i32;
        cases.push(case(
            2,
            2,
            lq,
            lk,
            (i % 2 == 0).then(|| vec![lk as i32, l1]),
            [Some(true), Some(false), None][i % 3],
            false,
            0,
            1,
        ));
    }
    // T5's bias table (R 128, W 257: whole tiles inside the table, tiles past +-R constant,
    // tiles across the ends clamped), by position and by row, the G3 shape fused, causal
    // from an offset, kv_div; and a table too wide for v3's shared-memory copy (W 601).
    let t5 = |c: FlashCase| FlashCase {
        bias_rw: (128, 257),
        ..c
    };
    cases.push(FlashCase {
        fused: true,
        ..t5(case(
            2,
            2,
            512,
            512,
            Some(vec![512, 301]),
            Some(true),
            false,
            0,
            1,
        ))
    });
    cases.push(t5(case(
        2,
        2,
        300,
        420,
        Some(vec![420, 77]),
        Some(false),
        false,
        0,
        1,
    )));
    cases.push(t5(case(2, 1, 200, 500, None, Some(true), true, 250, 1)));
    cases.push(t5(case(
        4,
        2,
        129,
        333,
        Some(vec![333, 5]),
        Some(true),
        false,
        3,
        2,
    )));
    cases.push(FlashCase {
        bias_rw: (300, 601),
        ..case(2, 2, 256, 640, None, Some(true), false, 0, 1)
    });
    for c in &cases {
        run_flash_case(&dev, &mut rng, c);
    }
}

#[test]
fn rmsnorm_vec_matches_f64_and_old_kernel() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(42);
    for &d in &[4096usize, 2048, 768, 1001, 6, 8192, 4100, 8196] {
        for &rows in &[1usize, 7, 37] {
            let x: Vec<f32> = (0..rows * d).map(|_| rng.uniform() * 3.0).collect();
            let w: Vec<f32> = (0..d).map(|_| rng.uniform()).collect();
            let (xb, wb) = (up_f32(&dev, &x), up_f32(&dev, &w));
            let want = r::rmsnorm(&x, &w, d, 1e-6);
            let vec_ok = d % 4 == 0 && d <= ops::RMSNORM_VEC_MAX_D;
            for bf in [true, false] {
                let size = if bf { 2 } else { 4 };
                let mut outs = Vec::new();
                for kern in [NormKernel::Old, NormKernel::Vec, NormKernel::Auto] {
                    let yb = poisoned(&dev, rows * d * size);
                    let r = ops::rmsnorm_with(
                        &dev,
                        xb.view(),
                        wb.view(),
                        yb.view(),
                        (rows, d),
                        1e-6,
                        bf,
                        kern,
                    );
                    if kern == NormKernel::Vec && !vec_ok {
                        assert!(matches!(r, Err(CudaError::Shape(_))), "d {d}: {r:?}");
                        continue;
                    }
                    r.unwrap();
                    let got = if bf {
                        down_bf16(&dev, &yb, rows * d)
                    } else {
                        down_f32(&dev, &yb, rows * d)
                    };
                    let what = format!("rmsnorm {kern:?} {rows}x{d} bf16 {bf}");
                    check(&what, &got, &want, if bf { 1e-2 } else { 1e-5 });
                    let e = max_elem_err(&got, &want);
                    assert!(
                        e <= if bf { 1e-2 } else { 1e-5 },
                        "{what}: max elem err {e:e}"
                    );
                    outs.push(got);
                }
                let old: Vec<f64> = outs[0].iter().map(|&v| v as f64).collect();
                for o in &outs[1..] {
                    check(
                        &format!("rmsnorm new vs old {rows}x{d} bf16 {bf}"),
                        o,
                        &old,
                        if bf { 1e-2 } else { 1e-5 },
                    );
                }
            }
        }
    }
    // Views that are not 16-byte aligned: Vec refuses, Auto falls back to the old kernel.
    let (rows, d) = (5usize, 768usize);
    let x: Vec<f32> = (0..rows * d + 1).map(|_| rng.uniform()).collect();
    let w: Vec<f32> = (0..d).map(|_| rng.uniform()).collect();
    let (xb, wb) = (up_f32(&dev, &x), up_f32(&dev, &w));
    let xv = xb.view().from(4).unwrap();
    let want = r::rmsnorm(&x[1..], &w, d, 1e-6);
    let yb = poisoned(&dev, rows * d * 2);
    let r = ops::rmsnorm_with(
        &dev,
        xv,
        wb.view(),
        yb.view(),
        (rows, d),
        1e-6,
        true,
        NormKernel::Vec,
    );
    assert!(matches!(r, Err(CudaError::Shape(_))), "{r:?}");
    ops::rmsnorm(&dev, xv, wb.view(), yb.view(), (rows, d), 1e-6, true).unwrap();
    check(
        "rmsnorm Auto, misaligned x",
        &down_bf16(&dev, &yb, rows * d),
        &want,
        1e-2,
    );
}

#[test]
fn decode_attention_appends_to_cache_at_pos() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(5);
    let (batch, heads, dh, cap, pos) = (3usize, 4usize, 64usize, 40usize, 17usize);
    let inner = heads * dh;
    // qkv rows of the current token: [batch][3 * inner]
    let qkv = rng.bf16_vec(batch * 3 * inner, 1.0);
    let mut kc = rng.bf16_vec(batch * cap * inner, 1.0);
    let mut vc = rng.bf16_vec(batch * cap * inner, 1.0);
    let (kcb, vcb) = (up_bf16(&dev, &kc), up_bf16(&dev, &vc));
    let qkvb = up_bf16(&dev, &qkv);
    let posb = up_i32(&dev, &[pos as i32]);
    let br = 16usize;
    let bw = 2 * br + 1;
    let tab: Vec<f32> = (0..heads * bw).map(|_| rng.uniform()).collect();
    let tb = up_f32(&dev, &tab);
    let ob = poisoned(&dev, batch * inner * 2);
    let at = Attention {
        batch,
        heads,
        dh,
        lq: 1,
        lk: cap,
        q: qkvb.view(),
        q_st: Strides {
            batch: 3 * inner,
            row: 3 * inner,
        },
        k: kcb.view(),
        v: vcb.view(),
        kv_st: Strides {
            batch: cap * inner,
            row: inner,
        },
        o: ob.view(),
        o_st: Strides {
            batch: inner,
            row: inner,
        },
        key_len: DevView::NULL,
        bias: tb.view(),
        bias_r: br,
        bias_w: bw,
        bias_qpos: true,
        causal: true,
        q_offset: 0,
        kv_div: 1,
        pos: posb.view(),
        new_kv: Some((
            qkvb.slice(inner * 2, qkvb.bytes() - inner * 2).unwrap(),
            qkvb.slice(inner * 4, qkvb.bytes() - inner * 4).unwrap(),
            3 * inner,
        )),
        force_rows: false,
    };
    // Both row-wise kernels, each from the original caches.
    let (kc0, vc0) = (kc.clone(), vc.clone());
    let mut runs = Vec::new();
    for d64 in [true, false] {
        ops::set_rows_d64(d64);
        dev.upload(&kcb, 0, &r::to_bf16_bits(&kc0)).unwrap();
        dev.upload(&vcb, 0, &r::to_bf16_bits(&vc0)).unwrap();
        dev.memset(&ob, 0, batch * inner * 2, 0xff).unwrap();
        ops::attention(&dev, &at).unwrap();
        runs.push((
            d64,
            down_bf16(&dev, &ob, batch * inner),
            down_bf16(&dev, &kcb, batch * cap * inner),
            down_bf16(&dev, &vcb, batch * cap * inner),
        ));
    }
    ops::set_rows_d64(true);
    // Reference: write the new k/v into the host cache, attend over 0..=pos.
    let mut q = vec![0f32; batch * inner];
    for b in 0..batch {
        for c in 0..inner {
            q[b * inner + c] = qkv[b * 3 * inner + c];
            kc[(b * cap + pos) * inner + c] = qkv[b * 3 * inner + inner + c];
            vc[(b * cap + pos) * inner + c] = qkv[b * 3 * inner + 2 * inner + c];
        }
    }
    let want = r::attention(
        &q,
        &kc,
        &vc,
        (batch, heads, dh, 1, cap),
        None,
        Some((&tab, br, bw, true)),
        true,
        pos,
        1,
    );
    for (d64, got, kc_dev, vc_dev) in &runs {
        check(
            &format!("decode attention (cache append at pos), d64 kernel {d64}"),
            got,
            &want,
            1e-2,
        );
        assert_eq!(kc_dev, &kc, "k cache rows after append (d64 {d64})");
        assert_eq!(vc_dev, &vc, "v cache rows after append (d64 {d64})");
    }
}

/// The fused batch-1 GEMV + per-head attention (self-attention with cache append, and
/// cross-attention with a key count) against the two-kernel path (gemv_rms, then the
/// row-wise attention), twice in a row (the completion counters must come back to zero).
#[test]
fn gemv_rms_attn_matches_the_two_kernel_path() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(62);
    for (heads, k, cap, pos, enc_len, key_len) in [
        (4usize, 256usize, 16usize, 5usize, 9usize, 7usize),
        (32, 2048, 64, 0, 128, 128),
        (6, 768, 40, 39, 33, 1),
        (8, 512, 300, 200, 260, 259),
    ] {
        let inner = heads * 64;
        let x: Vec<f32> = (0..k).map(|_| (rng.uniform() - 0.5) * 4.0).collect();
        let g: Vec<f32> = (0..k).map(|_| 0.5 + rng.uniform()).collect();
        let wq = rng.bf16_vec(3 * inner * k, 1.0 / (k as f32).sqrt());
        let (xb, gb, wb) = (up_f32(&dev, &x), up_f32(&dev, &g), up_bf16(&dev, &wq));
        let kc0 = rng.bf16_vec(cap * inner, 1.0);
        let vc0 = rng.bf16_vec(cap * inner, 1.0);
        let enc_kv = rng.bf16_vec(enc_len * 2 * inner, 1.0);
        let ekv = up_bf16(&dev, &enc_kv);
        let br = 12usize;
        let bw = 2 * br + 1;
        let tab: Vec<f32> = (0..heads * bw).map(|_| rng.uniform()).collect();
        let tb = up_f32(&dev, &tab);
        let posb = up_i32(&dev, &[pos as i32]);
        let klb = up_i32(&dev, &[key_len as i32]);
        for self_attn in [true, false] {
            let parts = if self_attn { 3 } else { 1 };
            let n = parts * inner;
            let wv = wb.slice(0, n * k * 2).unwrap();
            // Two-kernel path.
            let (kr, vr) = (up_bf16(&dev, &kc0), up_bf16(&dev, &vc0));
            let out_r = poisoned(&dev, n * 2);
            ops::gemv_rms(
                &dev,
                xb.view(),
                gb.view(),
                wv,
                k,
                out_r.view(),
                (n, k),
                1e-6,
                Epilogue::Bf16,
            )
            .unwrap();
            let att_r = poisoned(&dev, inner * 2);
            let at = if self_attn {
                Attention {
                    batch: 1,
                    heads,
                    dh: 64,
                    lq: 1,
                    lk: cap,
                    q: out_r.view(),
                    q_st: Strides {
                        batch: 3 * inner,
                        row: 3 * inner,
                    },
                    k: kr.view(),
                    v: vr.view(),
                    kv_st: Strides {
                        batch: cap * inner,
                        row: inner,
                    },
                    o: att_r.view(),
                    o_st: Strides {
                        batch: inner,
                        row: inner,
                    },
                    key_len: DevView::NULL,
                    bias: tb.view(),
                    bias_r: br,
                    bias_w: bw,
                    bias_qpos: true,
                    causal: true,
                    q_offset: 0,
                    kv_div: 1,
                    pos: posb.view(),
                    new_kv: Some((
                        out_r.slice(inner * 2, n * 2 - inner * 2).unwrap(),
                        out_r.slice(inner * 4, n * 2 - inner * 4).unwrap(),
                        3 * inner,
                    )),
                    force_rows: false,
                }
            } else {
                Attention {
                    batch: 1,
                    heads,
                    dh: 64,
                    lq: 1,
                    lk: enc_len,
                    q: out_r.view(),
                    q_st: Strides {
                        batch: inner,
                        row: inner,
                    },
                    k: ekv.view(),
                    v: ekv.view().from(inner * 2).unwrap(),
                    kv_st: Strides {
                        batch: enc_len * 2 * inner,
                        row: 2 * inner,
                    },
                    o: att_r.view(),
                    o_st: Strides {
                        batch: inner,
                        row: inner,
                    },
                    key_len: klb.view(),
                    bias: DevView::NULL,
                    bias_r: 0,
                    bias_w: 1,
                    bias_qpos: false,
                    causal: false,
                    q_offset: 0,
                    kv_div: 1,
                    pos: DevView::NULL,
                    new_kv: None,
                    force_rows: false,
                }
            };
            ops::attention(&dev, &at).unwrap();
            let want_out = down_bf16(&dev, &out_r, n);
            let want_att: Vec<f64> = down_bf16(&dev, &att_r, inner)
                .iter()
                .map(|&v| v as f64)
                .collect();
            let want_kc = down_bf16(&dev, &kr, cap * inner);
            let want_vc = down_bf16(&dev, &vr, cap * inner);
            // Fused, twice from the same start.
            let ctr = dev.alloc(heads * 4).unwrap();
            dev.memset(&ctr, 0, heads * 4, 0).unwrap();
            for rep in 0..2 {
                let (kf, vf) = (up_bf16(&dev, &kc0), up_bf16(&dev, &vc0));
                let out_f = poisoned(&dev, n * 2);
                let att_f = poisoned(&dev, inner * 2);
                let ha = ops::HeadAttention {
                    self_attn,
                    k: if self_attn { kf.view() } else { ekv.view() },
                    v: if self_attn {
                        vf.view()
                    } else {
                        ekv.view().from(inner * 2).unwrap()
                    },
                    kv_row: if self_attn { inner } else { 2 * inner },
                    lk: if self_attn { cap } else { enc_len },
                    pos: posb.view(),
                    key_len: klb.view(),
                    bias: if self_attn { tb.view() } else { DevView::NULL },
                    bias_r: br,
                    bias_w: bw,
                    counters: ctr.view(),
                    att: att_f.view(),
                };
                ops::gemv_rms_attn(
                    &dev,
                    xb.view(),
                    gb.view(),
                    wv,
                    out_f.view(),
                    (heads, k),
                    1e-6,
                    &ha,
                )
                .unwrap();
                let what = format!("gemv_rms_attn self {self_attn} heads {heads} k {k} rep {rep}");
                // Same GEMV code as gemv_rms: equal up to the compiler's FMA contraction.
                let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
                check(
                    &format!("{what}: q/k/v rows"),
                    &down_bf16(&dev, &out_f, n),
                    &f64s(&want_out),
                    1e-3,
                );
                check(&what, &down_bf16(&dev, &att_f, inner), &want_att, 1e-2);
                if self_attn {
                    check(
                        &format!("{what}: k cache"),
                        &down_bf16(&dev, &kf, cap * inner),
                        &f64s(&want_kc),
                        1e-3,
                    );
                    check(
                        &format!("{what}: v cache"),
                        &down_bf16(&dev, &vf, cap * inner),
                        &f64s(&want_vc),
                        1e-3,
                    );
                }
                let mut c = vec![1i32; heads];
                dev.download(&ctr, 0, &mut c).unwrap();
                assert!(c.iter().all(|&v| v == 0), "{what}: counters {c:?}");
            }
        }
    }
    // Key rows whose stride is not a multiple of 8 elements (16 bytes) and a misaligned
    // output are shape errors, not launches.
    let (heads, k, cap) = (2usize, 256usize, 8usize);
    let inner = heads * 64;
    let x = up_f32(&dev, &vec![1.0; k]);
    let g = up_f32(&dev, &vec![1.0; k]);
    let w = up_bf16(&dev, &vec![0.01; 3 * inner * k]);
    let kv = up_bf16(&dev, &vec![0.0; cap * (inner + 8)]);
    let out = poisoned(&dev, 3 * inner * 2 + 16);
    let att = poisoned(&dev, inner * 2 + 16);
    let ctr = dev.alloc(heads * 4).unwrap();
    dev.memset(&ctr, 0, heads * 4, 0).unwrap();
    let posb = up_i32(&dev, &[0]);
    for (kv_row, att_off) in [(inner + 2, 0usize), (inner, 8)] {
        let ha = ops::HeadAttention {
            self_attn: true,
            k: kv.view(),
            v: kv.view(),
            kv_row,
            lk: cap,
            pos: posb.view(),
            key_len: DevView::NULL,
            bias: DevView::NULL,
            bias_r: 0,
            bias_w: 1,
            counters: ctr.view(),
            att: att.view().from(att_off).unwrap(),
        };
        let r = ops::gemv_rms_attn(
            &dev,
            x.view(),
            g.view(),
            w.view(),
            out.view(),
            (heads, k),
            1e-6,
            &ha,
        );
        assert!(
            matches!(r, Err(CudaError::Shape(_))),
            "kv_row {kv_row}, att offset {att_off}: {r:?}"
        );
    }
}

#[test]
fn gemv_with_folded_rmsnorm_matches_f64_and_the_two_kernel_path() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(61);
    // (n, k): one and two chunks per thread, k not a multiple of 256 chunks, odd n, k = 8.
    let shapes = [
        (1usize, 8usize),
        (3, 768),
        (5, 2048),
        (2048, 2048),
        (4099, 4096),
        (2, 4088),
        (1000, 1024),
        (6, 2056),
    ];
    for &(n, k) in &shapes {
        let x: Vec<f32> = (0..k).map(|_| (rng.uniform() - 0.5) * 6.0).collect();
        let g: Vec<f32> = (0..k).map(|_| 0.5 + rng.uniform()).collect();
        let w = rng.bf16_vec(n * k, 1.0 / (k as f32).sqrt());
        // The normed row as the device rounds it: f32 products with an f32 inverse RMS, then
        // bf16 (the f64 sum of squares differs from the device's only in the last bits).
        let ss: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
        let inv = (1.0 / (ss / k as f64 + 1e-6).sqrt()) as f32;
        let h: Vec<f32> = x
            .iter()
            .zip(&g)
            .map(|(&xv, &gv)| r::round_bf16(gv * (xv * inv)))
            .collect();
        let want = r::matmul_nt(&h, &w, 1, n, k);
        let (xb, gb, wb) = (up_f32(&dev, &x), up_f32(&dev, &g), up_bf16(&dev, &w));
        // f32 out, against f64 and against rmsnorm + gemv; with an L2 prefetch hint (of the
        // weights themselves; a hint changes nothing).
        let o = poisoned(&dev, n * 4);
        dev.set_next_prefetch(wb.ptr(), wb.bytes());
        ops::gemv_rms(
            &dev,
            xb.view(),
            gb.view(),
            wb.view(),
            k,
            o.view(),
            (n, k),
            1e-6,
            Epilogue::F32,
        )
        .unwrap();
        let fused = down_f32(&dev, &o, n);
        check(&format!("gemv_rms f32 {n}x{k}"), &fused, &want, 1e-4);
        let hb = poisoned(&dev, k * 2);
        ops::rmsnorm(&dev, xb.view(), gb.view(), hb.view(), (1, k), 1e-6, true).unwrap();
        let o2 = poisoned(&dev, n * 4);
        ops::gemm(
            &dev,
            hb.view(),
            k,
            wb.view(),
            k,
            o2.view(),
            n,
            (1, n, k),
            Epilogue::F32,
            GemmKernel::Gemv,
        )
        .unwrap();
        let two: Vec<f64> = down_f32(&dev, &o2, n).iter().map(|&v| v as f64).collect();
        check(
            &format!("gemv_rms vs rmsnorm+gemv {n}x{k}"),
            &fused,
            &two,
            1e-5,
        );
        // f32 accumulate.
        let base = rng.bf16_vec(n, 1.0);
        let o = up_f32(&dev, &base);
        ops::gemv_rms(
            &dev,
            xb.view(),
            gb.view(),
            wb.view(),
            k,
            o.view(),
            (n, k),
            1e-6,
            Epilogue::AddF32,
        )
        .unwrap();
        let want_add: Vec<f64> = want.iter().zip(&base).map(|(a, b)| a + *b as f64).collect();
        check(
            &format!("gemv_rms add {n}x{k}"),
            &down_f32(&dev, &o, n),
            &want_add,
            1e-4,
        );
        // bf16 out.
        let o = poisoned(&dev, n * 2);
        ops::gemv_rms(
            &dev,
            xb.view(),
            gb.view(),
            wb.view(),
            k,
            o.view(),
            (n, k),
            1e-6,
            Epilogue::Bf16,
        )
        .unwrap();
        check(
            &format!("gemv_rms bf16 {n}x{k}"),
            &down_bf16(&dev, &o, n),
            &want,
            1e-2,
        );
        // gated GELU over (gate, up) column pairs.
        if n % 2 == 0 {
            let o = poisoned(&dev, n);
            ops::gemv_rms(
                &dev,
                xb.view(),
                gb.view(),
                wb.view(),
                k,
                o.view(),
                (n, k),
                1e-6,
                Epilogue::GeGlu,
            )
            .unwrap();
            let want_g: Vec<f64> = want.chunks(2).map(|p| r::gelu_tanh(p[0]) * p[1]).collect();
            check(
                &format!("gemv_rms geglu {n}x{k}"),
                &down_bf16(&dev, &o, n / 2),
                &want_g,
                1e-2,
            );
        }
    }
    // Shapes it does not take are errors, not launches.
    let (xb, gb) = (up_f32(&dev, &[1.0; 4104]), up_f32(&dev, &[1.0; 4104]));
    let wb = up_bf16(&dev, &[0.5; 4104 * 2]);
    let o = poisoned(&dev, 16);
    for k in [4104usize, 12, 0] {
        let r = ops::gemv_rms(
            &dev,
            xb.view(),
            gb.view(),
            wb.view(),
            k,
            o.view(),
            (2, k),
            1e-6,
            Epilogue::F32,
        );
        assert!(matches!(r, Err(CudaError::Shape(_))), "k {k}: {r:?}");
    }
    let r = ops::gemv_rms(
        &dev,
        xb.view(),
        gb.view(),
        wb.view(),
        8,
        o.view(),
        (3, 8),
        1e-6,
        Epilogue::GeGlu,
    );
    assert!(matches!(r, Err(CudaError::Shape(_))), "odd n gated: {r:?}");
}

#[test]
fn norms_gathers_softmax_argmax() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(6);
    let (rows, d) = (7usize, 1000usize);
    let x: Vec<f32> = (0..rows * d).map(|_| rng.uniform() * 3.0).collect();
    let w: Vec<f32> = (0..d).map(|_| rng.uniform()).collect();
    let (xb, wb) = (up_f32(&dev, &x), up_f32(&dev, &w));
    let want = r::rmsnorm(&x, &w, d, 1e-6);
    for bf in [false, true] {
        let yb = poisoned(&dev, rows * d * 4);
        ops::rmsnorm(&dev, xb.view(), wb.view(), yb.view(), (rows, d), 1e-6, bf).unwrap();
        let got = if bf {
            down_bf16(&dev, &yb, rows * d)
        } else {
            down_f32(&dev, &yb, rows * d)
        };
        check(
            &format!("rmsnorm bf16 out {bf}"),
            &got,
            &want,
            if bf { 1e-2 } else { 1e-5 },
        );
    }
    // embedding
    let (vocab, dim) = (50usize, 96usize);
    let table = rng.bf16_vec(vocab * dim, 1.0);
    let tb = up_bf16(&dev, &table);
    let ids: Vec<i32> = (0..9).map(|_| rng.below(vocab as u64) as i32).collect();
    let ib = up_i32(&dev, &ids);
    let ob = poisoned(&dev, ids.len() * dim * 4);
    ops::embed(
        &dev,
        ib.view(),
        tb.view(),
        ob.view(),
        (ids.len(), dim, vocab),
    )
    .unwrap();
    let got = down_f32(&dev, &ob, ids.len() * dim);
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(
            &got[i * dim..(i + 1) * dim],
            &table[id as usize * dim..(id as usize + 1) * dim]
        );
    }
    // log-softmax gather and argmax
    let (rows, v) = (6usize, 32128usize);
    let logits: Vec<f32> = (0..rows * v).map(|_| rng.uniform() * 10.0).collect();
    let lb = up_f32(&dev, &logits);
    let targets: Vec<i32> = vec![0, 5, 32127, -1, 100, 31999];
    let tg = up_i32(&dev, &targets);
    let out = poisoned(&dev, rows * 4);
    ops::log_softmax_gather(&dev, lb.view(), tg.view(), out.view(), (rows, v)).unwrap();
    check(
        "log_softmax_gather",
        &down_f32(&dev, &out, rows),
        &r::log_softmax_gather(&logits, v, &targets),
        1e-5,
    );
    let next = poisoned(&dev, rows * 4);
    let hist = poisoned(&dev, rows * 3 * 4);
    let pos = up_i32(&dev, &[2]);
    let done = up_i32(&dev, &[0, 1, 0, 0, 0, 0]);
    ops::argmax_step(
        &dev,
        lb.view(),
        (rows, v),
        next.view(),
        Some((hist.view(), 3, pos.view())),
        done.view(),
        7,
        0,
        None,
    )
    .unwrap();
    let mut nx = vec![0i32; rows];
    dev.download(&next, 0, &mut nx).unwrap();
    let mut hs = vec![0i32; rows * 3];
    dev.download(&hist, 0, &mut hs).unwrap();
    for row in 0..rows {
        let want = if row == 1 {
            0
        } else {
            r::argmax(&logits[row * v..(row + 1) * v]) as i32
        };
        assert_eq!(nx[row], want, "argmax row {row}");
        assert_eq!(hs[row * 3 + 2], want, "history row {row}");
    }
    // suppress: the argmax column excluded gives the second best
    let n2 = poisoned(&dev, rows * 4);
    let best0 = r::argmax(&logits[..v]) as u32;
    ops::argmax_step(
        &dev,
        lb.view(),
        (rows, v),
        n2.view(),
        None,
        DevView::NULL,
        7,
        0,
        Some(best0),
    )
    .unwrap();
    let mut n2h = vec![0i32; rows];
    dev.download(&n2, 0, &mut n2h).unwrap();
    let mut row0 = logits[..v].to_vec();
    row0[best0 as usize] = f32::NEG_INFINITY;
    assert_eq!(n2h[0] as usize, r::argmax(&row0));
    // Ties go to the lowest index; vocabularies below, at and past the block's stride.
    for v in [5usize, 1000, 4097, 32128] {
        let mut lg: Vec<f32> = (0..2 * v).map(|_| rng.uniform()).collect();
        let ties = [v - 1, v / 2, v / 3];
        for &j in &ties {
            lg[j] = 2.0;
        }
        lg[2 * v - 1] = 3.0;
        let lb = up_f32(&dev, &lg);
        let nb = poisoned(&dev, 8);
        ops::argmax_step(
            &dev,
            lb.view(),
            (2, v),
            nb.view(),
            None,
            DevView::NULL,
            7,
            0,
            None,
        )
        .unwrap();
        let mut got = [0i32; 2];
        dev.download(&nb, 0, &mut got).unwrap();
        assert_eq!(
            got,
            [(v / 3) as i32, (v - 1) as i32],
            "argmax ties, vocab {v}"
        );
    }
    // advance
    ops::advance_pos(&dev, pos.view()).unwrap();
    let mut p = [0i32];
    dev.download(&pos, 0, &mut p).unwrap();
    assert_eq!(p[0], 3);
}

#[test]
fn conversions_and_random_init() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(7);
    let n = 100_003usize;
    let mut x: Vec<f32> = (0..n).map(|_| rng.uniform() * 100.0).collect();
    x[0] = f32::INFINITY;
    x[1] = -0.0;
    x[2] = 1.0 + f32::EPSILON; // rounds to 1.0
    let xb = up_f32(&dev, &x);
    let ob = poisoned(&dev, n * 2);
    ops::f32_to_bf16(&dev, xb.view(), ob.view(), n).unwrap();
    let mut bits = vec![0u16; n];
    dev.download(&ob, 0, &mut bits).unwrap();
    assert_eq!(
        bits,
        r::to_bf16_bits(&x),
        "f32 -> bf16 must round like half::bf16"
    );
    // strided row conversion (weight upload path)
    let (rows, cols, ld) = (5usize, 30usize, 64usize);
    let src = up_f32(&dev, &x[..rows * cols]);
    let dst = poisoned(&dev, rows * ld * 2);
    ops::convert_rows(&dev, src.view(), false, dst.view(), (rows, cols, ld)).unwrap();
    let mut d = vec![0u16; rows * ld];
    dev.download(&dst, 0, &mut d).unwrap();
    for rr in 0..rows {
        assert_eq!(
            &d[rr * ld..rr * ld + cols],
            &r::to_bf16_bits(&x[rr * cols..(rr + 1) * cols])[..]
        );
    }
    let rb = poisoned(&dev, n * 2);
    ops::init_uniform_bf16(&dev, rb.view(), n, 42, 0.5).unwrap();
    let vals = down_bf16(&dev, &rb, n);
    assert!(vals.iter().all(|v| v.is_finite() && v.abs() <= 0.5));
    let mean = vals.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let var = vals.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    assert!(
        mean.abs() < 0.01 && (var - 0.25 / 3.0).abs() < 0.01,
        "mean {mean} var {var}"
    );
}

#[test]
fn allocation_beyond_free_memory_is_out_of_memory() {
    let Some(dev) = device() else { return };
    let (free, _total) = dev.mem_info().unwrap();
    match dev.alloc(free + (1 << 30)) {
        Err(CudaError::OutOfMemory { requested, .. }) => assert_eq!(requested, free + (1 << 30)),
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
    // The device still works afterwards.
    let b = dev.alloc(1024).unwrap();
    dev.memset(&b, 0, 1024, 0).unwrap();
    dev.synchronize().unwrap();
}

#[test]
fn shape_errors_are_errors() {
    let Some(dev) = device() else { return };
    let a = dev.alloc(64).unwrap();
    let r = ops::gemm(
        &dev,
        a.view(),
        8,
        a.view(),
        8,
        a.view(),
        8,
        (4, 4, 8),
        Epilogue::F32,
        GemmKernel::Auto,
    );
    assert!(matches!(r, Err(CudaError::Shape(_))), "{r:?}");
}

/// The batch-1 GEMV against f64 on edge shapes: one to four chunks per thread and far
/// beyond (k up to 33792), a row stride above k, odd n, every epilogue.
#[test]
fn gemv_matches_f64_on_edge_shapes() {
    let Some(dev) = device() else { return };
    let mut rng = Rng::new(63);
    // (n, k, ldw)
    let shapes = [
        (1usize, 8usize, 8usize),
        (3, 768, 776),
        (5, 2056, 2056),
        (4099, 4096, 4096),
        (2048, 10240, 10240),
        (6, 33792, 33792),
    ];
    for &(n, k, ldw) in &shapes {
        let x = rng.bf16_vec(k, 1.0);
        let w = rng.bf16_vec(n * ldw, 1.0 / (k as f32).sqrt());
        // The product over the first k columns of each row of stride ldw.
        let wk: Vec<f32> = (0..n)
            .flat_map(|i| w[i * ldw..i * ldw + k].to_vec())
            .collect();
        let want = r::matmul_nt(&x, &wk, 1, n, k);
        let base = rng.bf16_vec(n, 1.0);
        let (xb, wb) = (up_bf16(&dev, &x), up_bf16(&dev, &w));
        let run = |epi: Epilogue, init: Option<&[f32]>| {
            let o = match init {
                Some(v) => up_f32(&dev, v),
                None => poisoned(&dev, epi.out_cols(n) * epi.out_size()),
            };
            ops::gemm(
                &dev,
                xb.view(),
                k,
                wb.view(),
                ldw,
                o.view(),
                n,
                (1, n, k),
                epi,
                GemmKernel::Gemv,
            )
            .unwrap();
            match epi {
                Epilogue::F32 | Epilogue::AddF32 => down_f32(&dev, &o, n),
                _ => down_bf16(&dev, &o, epi.out_cols(n)),
            }
        };
        let what = format!("gemv {n}x{k} ldw {ldw}");
        check(
            &format!("{what} f32"),
            &run(Epilogue::F32, None),
            &want,
            1e-4,
        );
        let want_add: Vec<f64> = want.iter().zip(&base).map(|(a, b)| a + *b as f64).collect();
        check(
            &format!("{what} add"),
            &run(Epilogue::AddF32, Some(&base)),
            &want_add,
            1e-4,
        );
        check(
            &format!("{what} bf16"),
            &run(Epilogue::Bf16, None),
            &want,
            1e-2,
        );
        if n % 2 == 0 {
            let want_g: Vec<f64> = want.chunks(2).map(|p| r::gelu_tanh(p[0]) * p[1]).collect();
            check(
                &format!("{what} geglu"),
                &run(Epilogue::GeGlu, None),
                &want_g,
                1e-2,
            );
        }
    }
}
