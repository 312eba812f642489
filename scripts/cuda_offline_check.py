#!/usr/bin/env python3
"""Compile every t0-cuda kernel module without a GPU: NVRTC (CUDA C -> PTX) then ptxas
(PTX -> SASS), printing each kernel's registers, spills and shared memory.

Catches what NVRTC alone does not: bad inline PTX (wgmma, TMA, griddepcontrol, ...),
register spills, too much shared memory. Needs only the pip wheels (no driver, no GPU):

    pip download --no-deps nvidia-cuda-nvrtc==13.0.* nvidia-cuda-nvcc==13.0.*
    (unzip them; pass --nvrtc DIR/nvidia/cu13/lib/libnvrtc.so.13 --ptxas DIR/nvidia/cu13/bin/ptxas)

Usage: scripts/cuda_offline_check.py [--module gemm_sm90] [--arch compute_90a] [--nvrtc P] [--ptxas P]
Exit status 1 when a module fails to compile or assemble, or a kernel spills.
"""
import argparse
import ctypes
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t0-cuda", "src", "kernels")
MODULES = {"gemm": "gemm.cu", "attention": "attention.cu", "elementwise": "elementwise.cu",
           "gemm_sm90": "gemm_sm90.cu"}


def nvrtc_compile(lib, src, arch, name):
    prog = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), name.encode(), 0, None, None)
    assert rc == 0, rc
    opts = [b"--std=c++17", ("--gpu-architecture=" + arch).encode()]
    arr = (ctypes.c_char_p * len(opts))(*opts)
    rc = lib.nvrtcCompileProgram(prog, len(opts), arr)
    n = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
    log = ctypes.create_string_buffer(n.value)
    lib.nvrtcGetProgramLog(prog, log)
    if rc != 0:
        return None, log.value.decode(errors="replace")
    lib.nvrtcGetPTXSize(prog, ctypes.byref(n))
    ptx = ctypes.create_string_buffer(n.value)
    lib.nvrtcGetPTX(prog, ptx)
    return ptx.value.decode(), log.value.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", action="append")
    ap.add_argument("--arch", action="append")
    ap.add_argument("--nvrtc", default=os.environ.get("T0_NVRTC", "/tmp/nvrtc/nvidia/cu13/lib/libnvrtc.so.13"))
    ap.add_argument("--ptxas", default=os.environ.get("T0_PTXAS", "/tmp/cuda13/nvidia/cu13/bin/ptxas"))
    ap.add_argument("-v", action="store_true", help="print ptxas's whole report")
    a = ap.parse_args()
    lib = ctypes.CDLL(a.nvrtc)
    common = open(os.path.join(ROOT, "common.cuh")).read()
    bad = False
    for m in a.module or list(MODULES):
        archs = a.arch or (["compute_90a"] if m == "gemm_sm90" else ["compute_80", "compute_90"])
        for arch in archs:
            src = common + "\n" + open(os.path.join(ROOT, MODULES[m])).read()
            ptx, log = nvrtc_compile(lib, src, arch, "t0_%s.cu" % m)
            if ptx is None:
                print("FAIL nvrtc %s %s\n%s" % (m, arch, log))
                bad = True
                continue
            sm = arch.replace("compute", "sm")
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "k.ptx")
                open(p, "w").write(ptx)
                r = subprocess.run([a.ptxas, "-arch=" + sm, "-v", p, "-o", os.path.join(d, "k.cubin")],
                                   capture_output=True, text=True)
            out = r.stdout + r.stderr
            if r.returncode != 0:
                print("FAIL ptxas %s %s\n%s" % (m, arch, out[-6000:]))
                bad = True
                continue
            kern = None
            for line in out.splitlines():
                k = re.search(r"Compiling entry function '(\w+)'", line)
                if k:
                    kern = k.group(1)
                s = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
                if s and (int(s.group(1)) or int(s.group(2))):
                    print("SPILL %s %s %s: %s" % (m, arch, kern, line.strip()))
                    bad = True
                u = re.search(r"Used (\d+) registers.*", line)
                if u:
                    print("%-12s %-12s %-28s %s" % (m, arch, kern, u.group(0)))
            if a.v:
                print(out)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
