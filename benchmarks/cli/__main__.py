"""`python -m benchmarks.cli`: the same as the `archbench` command."""

import sys

from benchmarks.cli import main

sys.exit(main())
