"""Names and paths that several modules share. Importing this module touches no file.

MetaGPT's root names are computed when read:

- `METAGPT_ROOT` (and 0.5's `PROJECT_ROOT`): the folder holding `examples/`, `config/` and
  `workspace/`, as MetaGPT defines it: `$METAGPT_ROOT` (or MetaGPT's `$METAGPT_PROJECT_ROOT`),
  else the source checkout the package runs from, else the current directory (an installed
  package). So `METAGPT_ROOT / "examples/build_customized_agent.py"` is found from any folder.
- `WORKSPACE_ROOT`, `DEFAULT_WORKSPACE_ROOT`: where runs write, from the same environment
  `Config.default()` starts from: `$WORKSPACE_PATH`, else `workspace/` under `$METAGPT_ROOT` or the
  current directory. A `WORKSPACE_PATH` set only in a YAML file is seen by
  `Config.default().resolve_workspace()`, not here (reading files here would make constants depend
  on the configuration module, which depends on them).
"""

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
"""The installed `metagpt` package."""
SOURCE_ROOT = PACKAGE_ROOT.parent
"""The checkout holding the package (when run from source)."""
DATA_PATH = SOURCE_ROOT / "data"
"""Sample documents for examples such as the `Sales` role."""

CONFIG_DIR = "config"
CONFIG_FILES = ("config.yaml", "key.yaml")
"""Read in this order under `<root>/config/`; later files win."""
WORKSPACE_DIR = "workspace"

DOCS_DIR = "docs"
RESOURCES_DIR = "resources"
LOGS_DIR = "logs"
LOG_FILE = f"{LOGS_DIR}/metagpt.log"
REQUIREMENTS_FILE = "requirements.txt"
STATE_DIR = ".metagpt"
"""The project's own state: the journal `state.db` and the run lock (git-ignored)."""
STATE_DB = f"{STATE_DIR}/state.db"
REPORT_FILE = "index.html"
"""The project report (`metagpt.report`), rebuilt at every run's end; never committed."""
BUNDLE_FILE = "mermaid.min.js"
"""The report's copy of the mermaid bundle, beside it; never committed."""
RESERVED_NAMES = (DOCS_DIR, RESOURCES_DIR, LOGS_DIR, REQUIREMENTS_FILE, STATE_DIR)
SKELETON_NOTE = "Written from the design, not by the model: the model's code for this file did not parse."
"""The first line of a file the Engineer wrote from the design (`actions/code_design.skeleton`)."""
"""Top-level entries of a project folder that hold the project's own files, never generated code."""

MESSAGE_ROUTE_TO_ALL = "<all>"
"""`Message.send_to` value meaning every role of the environment."""

USER_REQUIREMENT_ROUTE = "metagpt.actions.add_requirement.UserRequirement"
"""Routing key (`cause_by`) of the user's requirement, the default cause of a `Message`.

A constant, so `schema` needs no import of the action classes above it; a test checks that it
equals `any_to_str(UserRequirement)`."""


CHECKOUT_MARKERS = (".git", "pyproject.toml")
"""Files that make `SOURCE_ROOT` a source checkout (an installed package sits in site-packages)."""


def _config_root() -> Path:
    """The folder `Config.default()` reads: `$METAGPT_ROOT`, else the current directory."""
    return Path(os.environ.get("METAGPT_ROOT") or Path.cwd())


def _metagpt_root() -> Path:
    configured = os.environ.get("METAGPT_ROOT") or os.environ.get("METAGPT_PROJECT_ROOT")
    if configured:
        return Path(configured)
    if (SOURCE_ROOT / "examples").is_dir() and any((SOURCE_ROOT / m).exists() for m in CHECKOUT_MARKERS):
        return SOURCE_ROOT
    return Path.cwd()


def __getattr__(name: str) -> Path:
    if name in ("METAGPT_ROOT", "PROJECT_ROOT"):
        return _metagpt_root()
    if name == "DEFAULT_WORKSPACE_ROOT":
        return _config_root() / WORKSPACE_DIR
    if name == "WORKSPACE_ROOT":
        configured = os.environ.get("WORKSPACE_PATH")
        return Path(configured) if configured else _config_root() / WORKSPACE_DIR
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
