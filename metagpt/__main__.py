"""`python -m metagpt ...`: the `metagpt` command (how `metagpt serve` starts its runs)."""

import sys

from metagpt.cli import main

sys.argv[0] = "metagpt"  # its help and errors name the command, not this file
main()
