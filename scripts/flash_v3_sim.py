#!/usr/bin/env python3
"""Host-side simulation of flash_attn_d64_v3 / _v3p / _v3p64's tiling, buffer schedule, masking, tile
skipping and bias paths (t0-cuda/src/kernels/attention.cu), against an f64 reference.

Models, per block: the shared buffers (which tile each holds, and loads in flight between
barriers: a read of a buffer with a load in flight, or of the wrong tile, is an error), each
warp's tile prefix `nw`, the warp-uniform bias paths (in-table pairs from the two shared
copies, one clamped value, per-element clamp) and the masks, with the online softmax in f64.
numpy only (any recent version). Usage: scripts/flash_v3_sim.py [cases]
"""
import sys

import numpy as np

CAPW = 512
PAD = 80


def ref(q, k, v, klen, bias, R, W, qpos, causal, qoff):
    Lq, Lk = q.shape[0], k.shape[0]
    out = np.zeros((Lq, 64))
    for i in range(Lq):
        p = qoff + i
        s = q[i] @ k.T
        if bias is not None:
            qr = p if qpos else i
            s = s + bias[np.clip(np.arange(Lk) - qr + R, 0, W - 1)]
        ok = np.arange(Lk) < klen
        if causal:
            ok &= np.arange(Lk) <= p
        if not ok.any():
            continue
        s = np.where(ok, s, -np.inf)
        e = np.exp(s - s.max())
        out[i] = (e / e.sum()) @ v
    return out


def block(q, k, v, Lq, Lk, klen_in, bias, R, W, qpos, causal, qoff, q0, pipe, NW, stats):
    """Output rows [q0, q0 + 16 NW) of one block (NW warps; rows past Lq left zero)."""
    klen = Lk if klen_in is None else min(Lk, klen_in)
    kmax = klen
    if causal:
        kmax = min(kmax, qoff + q0 + 16 * NW)
    ntiles = (kmax + 63) >> 6 if kmax > 0 else 0
    kahead = 2 if pipe else 1
    # Buffers: name -> tile held; inflight: names being written until the next barrier.
    buf = {}
    inflight = set()

    def load(name, tile):
        buf[name] = tile
        inflight.add(name)

    def read(name, tile):
        assert name not in inflight, ("read while loading", name, tile)
        assert buf.get(name) == tile, ("wrong tile", name, buf.get(name), tile)

    def barrier():
        inflight.clear()

    # Prologue (see fa3_body).
    load("V0", "Q")
    load("V1", "Q")
    if ntiles > 0:
        load("K0", 0)
    if pipe and ntiles > 1:
        load("K1", 1)
    barrier()  # wait<1> (Q) + sync: modelled as all landed (stricter: K may still fly)
    read("V0", "Q")
    read("V1", "Q")
    barrier()
    if ntiles > 0:
        load("V0", 0)
    sb = None
    if bias is not None:
        sb = np.zeros(2 * CAPW)
        for i in range(CAPW):
            sb[i] = bias[min(max(i - PAD, 0), W - 1)]
            sb[CAPW + i] = bias[min(max(i + 1 - PAD, 0), W - 1)]
    out = np.zeros((16 * NW, 64))
    warps = []
    for w in range(NW):
        rw = q0 + w * 16
        wfirst = qoff + rw
        wlast = wfirst + 15
        nw = ntiles if rw < Lq else 0
        if causal:
            nw = 0 if wlast < 0 else min(nw, (wlast >> 6) + 1)
        # v2's per-tile condition must select exactly the prefix [0, nw)
        for it in range(ntiles):
            v2act = rw < Lq and (not causal or it * 64 <= wlast)
            assert v2act == (it < nw), (it, nw)
        warps.append(dict(rw=rw, wfirst=wfirst, nw=nw, m=np.full(16, -np.inf), l=np.zeros(16),
                          o=np.zeros((16, 64)), s=None))
    if pipe:
        barrier()  # wait<1> + sync: K tiles 0, 1 landed
        for wd in warps:
            if wd["nw"] > 0:
                read("K0", 0)
                wd["s"] = 0
    for it in range(ntiles):
        barrier()
        if not pipe:
            if it + 1 < ntiles:
                load("K%d" % ((it + 1) & 1), it + 1)
                load("V%d" % ((it + 1) & 1), it + 1)
        else:
            if it + kahead < ntiles:
                load("K%d" % ((it + kahead) & 1), it + kahead)
            if it + 1 < ntiles:
                load("V%d" % ((it + 1) & 1), it + 1)
        for wd in warps:
            if it >= wd["nw"]:
                continue
            if pipe:
                assert wd["s"] == it
            else:
                read("K%d" % (it & 1), it)
            read("V%d" % (it & 1), it)
            if pipe and it + 1 < wd["nw"]:
                read("K%d" % ((it + 1) & 1), it + 1)
                wd["s"] = it + 1
            tile(wd, q, k, v, Lq, Lk, klen, bias, R, W, qpos, causal, qoff, sb, it * 64, stats)
    for w, wd in enumerate(warps):
        if wd["rw"] >= Lq:
            continue
        l = wd["l"]
        inv = np.where(l > 0, 1.0 / np.where(l > 0, l, 1.0), 0.0)
        out[w * 16:(w + 1) * 16] = wd["o"] * inv[:, None]
    return out


def tile(wd, q, k, v, Lq, Lk, klen, bias, R, W, qpos, causal, qoff, sb, j0, stats):
    rw, wfirst = wd["rw"], wd["wfirst"]
    rows = rw + np.arange(16)
    qrows = np.array([q[r] if r < Lq else np.zeros(64) for r in rows])
    keys = j0 + np.arange(64)
    kt = np.array([k[j] if j < Lk else np.zeros(64) for j in keys])
    vt = np.array([v[j] if j < Lk else np.zeros(64) for j in keys])
    s = qrows @ kt.T
    if bias is not None:
        # Per lane: g (rows g, g + 8), t (columns 2t, 2t+1 of each 8-column n-tile).
        bidx = np.zeros((16, 64), dtype=np.int64)
        lo_hi = []
        for g in range(8):
            r0 = rw + g
            p0 = qoff + r0
            br0 = R - (p0 if qpos else r0)
            for t in range(4):
                bb0 = j0 + 2 * t + br0
                lo_hi.append((bb0 - 8, bb0 + 57, br0, g, t))
        if all(hi <= 0 or lo >= W - 1 for lo, hi, _, _, _ in lo_hi):
            stats["const"] += 1
            for lo, hi, br0, g, t in lo_hi:
                bv = bias[0 if hi <= 0 else W - 1]
                for nt in range(8):
                    c = nt * 8 + 2 * t
                    s[[g, g, g + 8, g + 8], [c, c + 1, c, c + 1]] += bv
        elif all(lo >= -PAD and hi < CAPW - PAD for lo, hi, _, _, _ in lo_hi):
            stats["table"] += 1
            for lo, hi, br0, g, t in lo_hi:
                bb0 = lo + 8
                base = (CAPW - 1) if (br0 & 1) else 0
                x = base + bb0 + PAD
                assert (x & 1) == 0  # 8-byte aligned pair

                def pair(kk):
                    i0 = x + 8 * kk
                    assert 0 <= i0 and i0 + 1 < 2 * CAPW
                    assert (br0 & 1) or i0 + 1 < CAPW  # even: the unshifted copy only
                    return sb[i0], sb[i0 + 1]
                for nt in range(8):
                    c = nt * 8 + 2 * t
                    a = pair(nt)
                    b_ = pair(nt - 1)
                    s[g, c] += a[0]
                    s[g, c + 1] += a[1]
                    s[g + 8, c] += b_[0]
                    s[g + 8, c + 1] += b_[1]
        else:
            stats["clamp"] += 1
            assert W > 2 * 128 + 1, "T5-sized tables never take the clamp path"
            for lo, hi, br0, g, t in lo_hi:
                for nt in range(8):
                    for e in range(4):
                        j = j0 + nt * 8 + 2 * t + (e & 1)
                        bi = j + br0 - (0 if e < 2 else 8)
                        bi = min(max(bi, 0), W - 1)
                        s[g + (8 if e >= 2 else 0), nt * 8 + 2 * t + (e & 1)] += bias[bi]
    if j0 + 64 > klen or (causal and j0 + 63 > wfirst):
        stats["masked"] += 1
        p = (qoff + rows)[:, None]
        ok = (keys[None, :] < klen) & ((not causal) | (keys[None, :] <= p))
        s = np.where(ok, s, -np.inf)
    mx = s.max(axis=1)
    mn = np.maximum(wd["m"], mx)
    refv = np.where(mn == -np.inf, 0.0, mn)
    sc = np.exp(wd["m"] - refv)
    e = np.exp(s - refv[:, None])
    wd["m"] = mn
    wd["l"] = wd["l"] * sc + e.sum(axis=1)
    wd["o"] = wd["o"] * sc[:, None] + e @ vt


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    rng = np.random.default_rng(7)
    stats = dict(table=0, const=0, clamp=0, masked=0)
    worst = 0.0
    for case in range(n):
        Lq = int(rng.choice([2, 17, 64, 127, 128, 129, 200, 300, 512]))
        Lk = int(rng.choice([1, 2, 63, 64, 65, 130, 200, 300, 512]))
        klen = [None, 0, 1, int(rng.integers(0, Lk + 1)), -3][int(rng.integers(0, 5))]
        causal = bool(rng.integers(0, 2))
        qoff = int(rng.choice([0, 0, 13, 100, 170]))
        R, W = [(128, 257), (8, 17), (300, 601), (2, 3), (40, 600), (40, 81), (64, 129),
                (200, 401)][int(rng.integers(0, 8))]
        bias = rng.normal(size=W) * 2 if rng.integers(0, 4) else None
        qpos = bool(rng.integers(0, 2))
        q = rng.normal(size=(Lq, 64)) * 0.3
        k = rng.normal(size=(Lk, 64)) * 0.3
        v = rng.normal(size=(Lk, 64))
        want = ref(q, k, v, Lk if klen is None else min(Lk, klen), bias, R, W, qpos, causal, qoff)
        for pipe, NW in ((False, 8), (True, 8), (True, 4)):
            got = np.zeros((Lq, 64))
            for q0 in range(0, Lq, 16 * NW):
                ob = block(q, k, v, Lq, Lk, klen, bias, R, W, qpos, causal, qoff, q0, pipe, NW,
                           stats)
                m = min(16 * NW, Lq - q0)
                got[q0:q0 + m] = ob[:m]
            err = np.abs(got - want).max()
            worst = max(worst, err)
            assert err < 1e-9, (case, pipe, NW, Lq, Lk, klen, causal, qoff, R, W, err)
    print("ok: %d cases x {v3, v3p, v3p64}, max abs err %.2e, tiles by bias path %s" % (n, worst, stats))


if __name__ == "__main__":
    main()
