"""Writes tests/models/output_references.npz: every sweep case's outputs on seeded weights.

    python tests/models/make_output_references.py          # every case (rewrites the file)
    python tests/models/make_output_references.py --add    # only cases not stored yet
    python tests/models/make_output_references.py --case ID  # rewrite one case (repeatable)

`test_sweep.py` checks every registered model (and variant) against this file, so that a
change meant to leave outputs alone (a faster layer, a refactor) is seen to do so.

When to regenerate:
- `--add` when a model or sweep variant is added: it writes the new cases and leaves every
  stored one as it is.
- `--case ID` (or a full rewrite) only for a change that is *meant* to change a model's function (a bug
  fix in a builder), made on the code after that change, with the reason in the commit
  message. Never to make the sweep pass after a change that should not change outputs:
  that failure is the one the file exists to catch.
- A change to the weight draw or the input in `tests/output_references.py` changes every
  case: rewrite the file on the code *before* any model change, in a commit of its own.
"""

import argparse
import os
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.dirname(TESTS))

import numpy as np  # noqa: E402

import kcnn  # noqa: E402
from model_cases import sweep_cases  # noqa: E402
from output_references import (FIXTURE, load_references, model_outputs,  # noqa: E402
                               output_summary, seed_weights)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--add", action="store_true",
                        help="only write the cases the file does not hold yet")
    parser.add_argument("--case", action="append", default=[], metavar="ID",
                        help="rewrite only this sweep case (repeatable), keeping the others")
    args = parser.parse_args(argv)
    import keras

    keep = (args.add or args.case) and os.path.exists(FIXTURE)
    stored = load_references() if keep else {}
    cases = sweep_cases(kcnn.models.list_models())
    unknown = sorted(set(args.case) - {c[0] for c in cases})
    if unknown:
        parser.error(f"--case: no sweep case {unknown}")
    stored = {k: v for k, v in stored.items() if k.split("/")[0] not in args.case}
    done = {k.split("/")[0] for k in stored}
    references = dict(stored)
    for case_id, name, kwargs, _ in cases:
        if case_id in done or (args.case and case_id not in args.case):
            continue
        keras.backend.clear_session(free_memory=False)
        model = kcnn.models.get_model(name, **kwargs)
        seed_weights(model)
        summary = output_summary(case_id, model_outputs(model))
        references.update(summary)
        print(case_id, {k: (v.shape, float(np.max(np.abs(v)))) for k, v in summary.items()})
    tmp = FIXTURE + ".tmp.npz"
    np.savez_compressed(tmp, **references)
    os.replace(tmp, FIXTURE)
    print(f"wrote {len(references)} outputs to {FIXTURE}")


if __name__ == "__main__":
    main()
