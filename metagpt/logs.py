"""Logging set-up for the CLI. Importing `metagpt` configures nothing.

Levels used in the package: INFO for progress (role steps, cost), DEBUG for details, TRACE
for full prompts and answers, which only the run's log file receives by default.

Every record passes `scrub` on its way to any sink: secrets are masked and terminal escape
sequences removed, so neither the console nor the log file can leak a key or replay a model's
control codes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from loguru import logger

from metagpt.const import LOG_FILE
from metagpt.utils.paths import clean_text

CONSOLE_FORMAT = "<green>{time:HH:mm:ss}</green> | {message}"
VERBOSE_FORMAT = "<green>{time:HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | {name}:{line} | {message}"

MASK = "***"
_SECRET_PATTERNS = re.compile(
    r"(?<![\w-])sk-[A-Za-z0-9_\-]{8,}"  # OpenAI-style keys (sk-, sk-proj-, sk-ant-)
    r"|(?<=Bearer )[A-Za-z0-9._~+/=\-]{8,}"  # bearer tokens
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"  # user:password@ in URLs
    r"|(?<![\w-])(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub tokens
    r"|(?<![\w-])xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|(?<![\w-])hf_[A-Za-z0-9]{20,}"  # Hugging Face tokens
    r"|(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"  # AWS access key ids
    r"|(?<![\w-])AIza[0-9A-Za-z_\-]{35}"  # Google API keys
)
_SECRET_MARKERS = re.compile(r"sk-|Bearer |://|gh[pousr]_|github_pat_|xox[abprs]-|hf_|AKIA|ASIA|AIza")
"""A literal every match of `_SECRET_PATTERNS` contains: text without one is let through unscanned
(the full pattern costs about 0.2 ms per KB, and every prompt passes through the run log)."""
_secrets: set[str] = set()
PUBLIC_KEYS = frozenset(
    {
        "API_TYPE", "OPENAI_API_MODEL", "OPENAI_API_VERSION", "EMBEDDING_API_TYPE", "EMBEDDING_MODEL",
        "SEARCH_ENGINE", "MERMAID_ENGINE", "SANDBOX", "WORKSPACE_PATH", "LOCAL_MODEL_PATH", "MMDC", "CHROMIUM_PATH",
    }
)  # fmt: skip
"""Keys of `config/key.yaml` whose values are not secret (names, choices, paths); every other
string value there is masked like a key."""


def register_secret(value: str | None) -> None:
    """Mask `value` wherever it appears in later messages and logs (for keys of any shape)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def register_config_secrets(config: object, root: Path | None = None) -> None:
    """Mask every configured secret: the API keys of the model, embeddings and search engines,
    and every other string value of `root/config/key.yaml` (except `PUBLIC_KEYS`)."""
    from metagpt.configs.settings import SECRET_FIELDS, _read_yaml
    from metagpt.const import CONFIG_DIR
    from metagpt.exceptions import ConfigError

    for name in SECRET_FIELDS:
        value = getattr(config, name, None)
        register_secret(value if isinstance(value, str) else None)
    if root is None:
        return
    try:
        values = _read_yaml(Path(root) / CONFIG_DIR / "key.yaml")
    except ConfigError:  # a broken key.yaml is reported by Config.load, not here
        return
    for key, value in values.items():
        if isinstance(value, str) and str(key) not in PUBLIC_KEYS and len(value) >= 8:
            register_secret(value)


def redact(text: str) -> str:
    """`text` with registered secrets and anything shaped like a key or URL password masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    if _SECRET_MARKERS.search(text) is None:
        return text
    return _SECRET_PATTERNS.sub(MASK, text)


def scrub(text: str) -> str:
    """What may be shown or stored: secrets masked, escape sequences and control characters removed."""
    return redact(clean_text(text))


def echo(text: str, err: bool = False, nl: bool = True) -> None:
    """Print `text` to stdout (or stderr): the CLI's one way out to the terminal for any text that
    may carry model, cell, file or journal content. Secrets are masked; C0 controls but newline
    and tab, every ESC sequence (CSI, OSC, DCS, APC, PM, SOS), C1 controls and bidirectional
    overrides are removed, so no byte of it can drive the terminal."""
    import typer

    typer.echo(scrub(text), err=err, nl=nl)


def echo_json(value: Any) -> None:
    """`value` as JSON on stdout, for scripts: exact, with every control and non-ASCII character
    escaped (`\\u001b`), so it is safe on a terminal too."""
    import json

    import typer

    typer.echo(json.dumps(value, indent=2, ensure_ascii=True))


def _patch(record) -> None:
    record["message"] = scrub(record["message"])


def setup_console(verbose: bool = False, quiet: bool = False) -> None:
    """Progress on stderr: INFO and up, or everything from DEBUG with `verbose`, or only
    warnings and errors when `quiet` (a caller that shows its own progress)."""
    logger.remove()
    logger.configure(patcher=_patch)
    logger.add(
        sys.stderr,
        level="DEBUG" if verbose else "WARNING" if quiet else "INFO",
        format=VERBOSE_FORMAT if verbose else CONSOLE_FORMAT,
        colorize=None,
        backtrace=verbose,
        diagnose=False,
    )


def add_run_log(folder: Path) -> int:
    """Write the full log of this run, prompts included, to `folder/logs/metagpt.log`."""
    path = folder / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    logger.configure(patcher=_patch)
    return logger.add(path, level="TRACE", encoding="utf-8", enqueue=False, diagnose=False)
