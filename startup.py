#!/usr/bin/env python
"""Run a software company on one idea: `python startup.py "a command-line snake game"`."""

from metagpt.cli import main

if __name__ == "__main__":
    main()
