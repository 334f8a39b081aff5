"""How much the hypothesis fuzz tests try (tests/test_*_fuzz.py).

CI and `make test` run the "ci" profile (tests/conftest.py): derandomized, so every run tries
the same examples and a red run means a regression, not an unlucky draw. `make fuzz` runs the
"fuzz" profile: new random examples on every run, ``FUZZ_FACTOR`` (default 10) times as many,
with hypothesis's example database in ``.hypothesis/`` replaying earlier failures first. A
failure prints the example and a ``@reproduce_failure`` blob: add the example to the test
with ``@example(...)`` so that CI keeps trying it.
"""

import os

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FACTOR = int(os.environ.get("FUZZ_FACTOR", "10")) if PROFILE == "fuzz" else 1


def examples(count):
    """``count`` examples in CI, ``FACTOR`` times as many under `make fuzz`."""
    return count * FACTOR
