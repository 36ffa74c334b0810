"""`python -m grader.cli`: the `grader` command."""

import sys

from grader.cli import app

sys.exit(app())
