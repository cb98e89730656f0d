"""`python -m metagpt ...`: the `metagpt` command (how `metagpt serve` starts its runs)."""

from metagpt.cli import main

main()
