"""Cost-model throughput. Prints measured figures; no asserts (targets are in benchmarks/README.md).

    python benchmarks/bench_cost_model.py [--layers 1000000] [--threads N]

Measures: layer mappings per second of ``estimate_batch`` over >= 1e6 random layers; (network x hardware)
pairs per second for 20-layer networks; one ``estimate`` of a 50-layer network after warm-up; the first
call's time in a fresh process, cold and with Numba's cache warm; the speed-up over the pure-Python
reference (tests/reference_cost.py) in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from nas_edge.cost import PackedWorkloads, estimate, estimate_batch, pack_profiles  # noqa: E402
from nas_edge.hardware import builtin_names, load_profile, profile_from_dict, profile_to_dict  # noqa: E402
from nas_edge.workload import Workload  # noqa: E402


def random_workload(rng: np.random.Generator, n: int) -> Workload:
    """n random valid rows (convs, grouped/depthwise convs, linears, dynamic matmuls, element-wise ops)."""
    kind = rng.choice([0, 0, 0, 1, 2, 3, 4], size=n)
    groups = np.where((kind == 0) & (rng.random(n) < 0.3), rng.choice([2, 4, 32], size=n), 1)
    groups = np.where(kind == 2, rng.integers(1, 9, size=n), groups)
    kernel = np.where(kind == 0, rng.choice([1, 9, 25], size=n), 1)
    cin_g = rng.integers(1, 257, size=n)
    k = np.where(kind == 0, cin_g * kernel, rng.integers(1, 2049, size=n))
    n_out = groups * rng.integers(1, 257, size=n)
    m = rng.integers(1, 4097, size=n)
    static = kind <= 2
    k, n_out = np.where(static, k, 1), np.where(static, n_out, 1)
    kernel, groups, m = np.where(static, kernel, 1), np.where(static, groups, 1), np.where(static, m, 1)
    macs = np.where(static, m * k * n_out, rng.integers(1, 100_000, size=n)).astype(float)
    return Workload(kind=kind, k=k, n=n_out, m=m, groups=groups, kernel=kernel, macs=macs,
                    params=np.where(kind <= 1, k * n_out, 0).astype(float),
                    in_elems=(m * k).astype(float), out_elems=(m * n_out).astype(float))


def random_profiles(rng: np.random.Generator, count: int) -> list:
    out = []
    names = [n for n in builtin_names()]
    for i in range(count):
        d = profile_to_dict(load_profile(names[i % len(names)]))
        if d["kind"] == "imc":
            rows = int(rng.choice([64, 128, 256, 512]))
            d["array"].update(rows=rows, cols=int(rng.choice([64, 128, 256, 512])),
                              rows_parallel=int(rng.choice([r for r in (8, 16, 32, 64, 128) if r <= rows])))
            d["array"]["cols_per_adc"] = min(d["array"]["cols_per_adc"], d["array"]["cols"])
        out.append(profile_from_dict(d))
    return out


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def first_call(cache_dir: str) -> float:
    code = ("import time; t0 = time.perf_counter(); from nas_edge.cost import estimate; "
            "from nas_edge.workload.zoo import vgg8; estimate(vgg8(), 'neurosim-rram-22nm'); "
            "print(time.perf_counter() - t0)")
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(r.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    import numba

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, numba threads {numba.get_num_threads()}, "
          f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")

    # 1. layer mappings per second: 1e6 random layers as 50 000 networks of 20 layers, one profile
    nets = [random_workload(rng, 20) for _ in range(args.layers // 20)]
    packed = PackedWorkloads(nets)
    pmat = pack_profiles(["neurosim-rram-22nm"])
    estimate_batch(packed, pmat)  # compile / load from cache
    t = best_of(lambda: estimate_batch(packed, pmat), 3)
    print(f"estimate_batch, {len(nets) * 20:,} random layers x 1 profile: {t * 1e3:.1f} ms "
          f"-> {len(nets) * 20 / t:,.0f} layer mappings/s (target >= 2e7)")

    # 2. (network x hardware) pairs per second, 20-layer networks x 50 random profiles
    nets_p = nets[:20_000]
    packed_p = PackedWorkloads(nets_p)
    profs = pack_profiles(random_profiles(rng, 50))
    t = best_of(lambda: estimate_batch(packed_p, profs), 3)
    pairs = len(nets_p) * len(profs)
    print(f"estimate_batch, {len(nets_p):,} networks x {len(profs)} profiles = {pairs:,} pairs: {t * 1e3:.1f} ms "
          f"-> {pairs / t:,.0f} pairs/s (target >= 1e6)")
    t_pack = best_of(lambda: PackedWorkloads(nets_p), 3)
    print(f"  (packing {len(nets_p):,} Workloads once in Python: {t_pack * 1e3:.1f} ms)")

    # 3. one estimate() of a 50-layer network after warm-up
    w50 = random_workload(rng, 50)
    prof = load_profile("neurosim-rram-22nm")
    for _ in range(100):
        estimate(w50, prof)
    samples = []
    for _ in range(2000):
        t0 = time.perf_counter()
        estimate(w50, prof)
        samples.append(time.perf_counter() - t0)
    single = statistics.median(samples)
    print(f"estimate(), 50 layers, warm: median {single * 1e6:.1f} us (target <= 50 us)")
    by_name = []
    for _ in range(2000):  # the same with the profile given by name (the loader's lookup each call)
        t0 = time.perf_counter()
        estimate(w50, "neurosim-rram-22nm")
        by_name.append(time.perf_counter() - t0)
    named = statistics.median(by_name)
    print(f"estimate(w, 'neurosim-rram-22nm'), same network: median {named * 1e6:.1f} us "
          f"({named / single:.2f}x the profile object)")

    # 4. the pure-Python reference on the same network, same run
    from reference_cost import reference

    t_ref = best_of(lambda: reference(w50, prof), 5)
    print(f"pure-Python reference, same 50 layers: {t_ref * 1e6:.0f} us -> kernel path {t_ref / single:.0f}x faster; "
          f"batch path {t_ref / 50 * (len(nets) * 20) / best_of(lambda: estimate_batch(packed, pmat), 1):.0f}x "
          "per layer")

    # 5. first call in a fresh process: cold (empty Numba cache) and with the cache warm
    with tempfile.TemporaryDirectory() as cache:
        cold = first_call(cache)
        warm = first_call(cache)
    print(f"first estimate() in a fresh process (import + VGG-8): cold cache {cold:.2f} s, warm cache {warm:.2f} s")


if __name__ == "__main__":
    main()
