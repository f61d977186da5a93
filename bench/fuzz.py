"""Long fuzzing session: the hypothesis properties of
``tests/reliability/test_bad_input.py`` with many more examples (the CI run
uses 120 each). Prints examples run and failures per property.

    python -m bench.fuzz --examples 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> None:
    """Run the bad-input properties with ``--examples`` examples each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=5000)
    args = parser.parse_args()
    # read by the test module when it is imported
    os.environ["DENGAR_FUZZ_EXAMPLES"] = str(args.examples)
    import pytest

    started = time.monotonic()
    code = pytest.main(
        [
            "-q",
            "-p",
            "no:cacheprovider",
            "--durations=0",
            "tests/reliability/test_bad_input.py",
        ]
    )
    print(
        f"\n{args.examples} examples per property, "
        f"{time.monotonic() - started:.0f} s, exit {int(code)}"
    )
    sys.exit(int(code))


if __name__ == "__main__":
    main()
