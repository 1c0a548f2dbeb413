"""Timing and memory helpers shared by the workers (no framework imports here)."""

import json
import os
import resource
import statistics
import sys
import time

TIMED_MARK = "kcnn_bench,timed_steps_start"


def peak_rss_mib():
    """Peak resident memory of this process so far, MiB (Linux: ru_maxrss is KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mib():
    """Current resident memory of this process, MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def throughput(step, sync, *, batch, warmup, steps, rounds=1):
    """Images/s of `steps` calls of `step()` after `warmup` calls: the best of `rounds`.

    `sync(result)` blocks until the result is computed (asynchronous frameworks). The best
    round is reported (as `timeit` does) because other work on a shared machine only ever
    slows a round down; `round_images_per_s` lists every round.
    Returns a dict with `images_per_s`, `step_s` (mean seconds per step of the best round)
    and `first_step_s` (the first warm-up call: tracing and compilation included).
    """
    tic = time.perf_counter()
    sync(step())
    first = time.perf_counter() - tic
    for _ in range(warmup - 1):
        sync(step())
    if os.environ.get("KCNN_BENCH_MARK_TIMED"):
        print(TIMED_MARK, flush=True)  # benchmarks.profile counts what follows
        rounds = 1
    seconds = []
    for _ in range(rounds):
        tic = time.perf_counter()
        result = None
        for _ in range(steps):
            result = step()
        sync(result)
        seconds.append(time.perf_counter() - tic)
    best = min(seconds)
    return {"images_per_s": round(batch * steps / best, 3),
            "step_s": round(best / steps, 5), "first_step_s": round(first, 3),
            "round_images_per_s": [round(batch * steps / s, 3) for s in seconds],
            "batch": batch, "warmup_steps": warmup, "timed_steps": steps, "rounds": rounds}


def latency(calls, repeats, warmup=3):
    """Median and minimum milliseconds of one call of each of `calls`, interleaved.

    `calls` maps a name to `(call, sync)`; each round calls every one once (synchronized),
    so a change in the machine's load affects all of them alike.
    """
    for call, sync in calls.values():
        for _ in range(warmup):
            sync(call())
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, (call, sync) in calls.items():
            tic = time.perf_counter()
            sync(call())
            times[name].append(time.perf_counter() - tic)
    return {name: {"median_ms": round(statistics.median(t) * 1e3, 3),
                   "min_ms": round(min(t) * 1e3, 3), "repeats": repeats}
            for name, t in times.items()}


def write_result(path, result):
    """Writes the worker's result as JSON (the parent reads it back)."""
    with open(path, "w") as f:
        json.dump(result, f, indent=1)


def log(message):
    print(message, file=sys.stderr, flush=True)
