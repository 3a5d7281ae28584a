"""Hypothesis profiles for the differential tests.

Pick one with the environment variable ``HYPOTHESIS_PROFILE``:

* ``ci`` (default): ~150 examples per test, a few seconds per test file;
* ``acceptance``: 2000 examples per test (minutes);
* ``long``: 10000 examples per test (for a nightly run).

Examples are random (``derandomize`` off), and a failure prints the blob that reproduces it
(``@reproduce_failure``).
"""

import importlib.util
import os
import pathlib
import sys

from hypothesis import HealthCheck, settings

if importlib.util.find_spec("fastconv") is None:  # not installed: use the source tree
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))

_COMMON = dict(
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci", max_examples=150, **_COMMON)
settings.register_profile("acceptance", max_examples=2000, **_COMMON)
settings.register_profile("long", max_examples=10000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
