"""The command line: `app.py` builds the one `metagpt` app, one module per command.

`metagpt "an idea"` runs a company (`run.py`); `resume`, `logs`, `batch`, `interpret`, `agent`,
`experience` and `serve` (the browser UI) are its other commands. What the commands share lives in the layers below.
"""

from metagpt.cli.app import SUBCOMMANDS, app, main

__all__ = ["SUBCOMMANDS", "app", "main"]
