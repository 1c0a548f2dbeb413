"""Acceptance check for every torchvision fixture (run by hand; minutes, full-size VGGs):

    PYTHONPATH=. python tests/weights/check_all_torchvision.py [CASE ...]

For each case of tests/weights/fixtures/torchvision/, draws the seeded weights, loads them
into the kcnn model (strictly; the body-only case with include_top=False), and prints the
worst difference per output, max|kcnn - torchvision| / max(1, max|torchvision|), against
the acceptance bound 1e-4. Exits 1 if any case exceeds it.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weights import torch_cases  # noqa: E402

from kcnn.weights.convert_torchvision import load_torchvision  # noqa: E402

BOUND = 1e-4


def main(names):
    failed = []
    for case in names or torch_cases.cases():
        start = time.perf_counter()
        rec = torch_cases.record(case)
        model = torch_cases.kcnn_model(rec)
        state = torch_cases.state(rec)
        if rec["outputs"] == ["features"]:
            state = {k: v for k, v in state.items() if k.startswith("features.")}
        load_torchvision(model, state)
        worst = torch_cases.worst_differences(model, rec)
        ok = max(worst.values()) <= BOUND
        failed += [] if ok else [case]
        print(f"{case:24s} {rec['builder']:10s} input {rec['input_shape'][0]:3d}  "
              + "  ".join(f"{k} {v:.2e}" for k, v in worst.items())
              + f"  {'ok' if ok else 'FAIL'}  ({time.perf_counter() - start:.1f} s)",
              flush=True)
        del model, state
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
