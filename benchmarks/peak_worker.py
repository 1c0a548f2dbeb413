"""Matrix-multiply peak of this device, fp32 and bf16, in one framework (own process).

    python -m benchmarks.peak_worker --framework tensorflow --mode full --out result.json

The peak is the best of `REPEATS` timed n×n×n products (2·n³ FLOPs each) after a
warm-up; the benchmark's utilization divides achieved training FLOP/s by it.
"""

import argparse
import time

import numpy as np

from benchmarks import settings
from benchmarks._timing import log, write_result

REPEATS = 5


def _best(call, sync, n):
    sync(call())
    best = float("inf")
    for _ in range(REPEATS):
        tic = time.perf_counter()
        sync(call())
        best = min(best, time.perf_counter() - tic)
    return round(2 * n**3 / best / 1e9, 2)


def measure(framework, n):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype("float32")
    b = rng.standard_normal((n, n)).astype("float32")
    result = {}
    for name in ("fp32", "bf16"):
        if framework == "tensorflow":
            import tensorflow as tf
            dtype = tf.float32 if name == "fp32" else tf.bfloat16
            x, y = tf.cast(tf.constant(a), dtype), tf.cast(tf.constant(b), dtype)
            matmul = tf.function(tf.matmul)
            result[name] = _best(lambda: matmul(x, y), lambda t: t.numpy(), n)
        elif framework == "jax":
            import jax
            import jax.numpy as jnp
            dtype = jnp.float32 if name == "fp32" else jnp.bfloat16
            x, y = jnp.asarray(a, dtype), jnp.asarray(b, dtype)
            matmul = jax.jit(jnp.matmul)
            result[name] = _best(lambda: matmul(x, y), lambda t: t.block_until_ready(), n)
        else:
            import torch
            dtype = torch.float32 if name == "fp32" else torch.bfloat16
            x, y = torch.from_numpy(a).to(dtype), torch.from_numpy(b).to(dtype)
            result[name] = _best(lambda: torch.matmul(x, y), lambda t: t.sum().item(), n)
        log(f"{framework} {name} matmul {n}: {result[name]} GFLOP/s")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", choices=("tensorflow", "jax", "torch"), required=True)
    parser.add_argument("--mode", choices=("full", "smoke"), required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    n = settings.MATMUL_SIZES[args.mode]
    write_result(args.out, {"n": n, "gflops": measure(args.framework, n)})


if __name__ == "__main__":
    main()
