"""Who vouches for a record: an HMAC-SHA256 under a key only this user's MetaGPT holds.

A pool record says "a check MetaGPT itself ran passed on this". Files in a project folder cannot
say that: the code that ran there could have written them (a `docs/qa_report.md` saying passed,
journal rows), or the folder was copied from another machine. So a record counts only when it
carries a MAC, made by the parent process when its own check passed, under a key kept in the
user's data folder (`$XDG_DATA_HOME/metagpt/experience.key`, by default
`~/.local/share/metagpt/experience.key`): outside every project, and never mounted into the
sandbox. A record that was changed after it was signed, or signed under another user's key, or
written before records were signed, fails the check and is skipped (and counted).

The MAC covers every field of the record but the MAC itself, as canonical JSON (sorted keys, no
spaces), after a version tag: the key (which inputs it answers), kind, step, model family, task,
result (the code that passed), error and fix, outcome (the check), cost, source, and the counts.
With `SANDBOX: none` the checked code runs as the user and could read the key: the records are
then only as trustworthy as that code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from metagpt.exceptions import UserError
from metagpt.utils.atomic import write_atomic
from metagpt.utils.safe_read import UnsafeFile, read_bytes

if TYPE_CHECKING:
    from metagpt.experience.records import Experience

KEY_FILE = "experience.key"
KEY_BYTES = 32
_TAG = b"metagpt experience record v1\n"
"""Prefixed to what is signed, so the MAC of a record means nothing for any other kind of data."""


def data_dir() -> Path:
    """MetaGPT's folder of user data: `$XDG_DATA_HOME/metagpt`, else `~/.local/share/metagpt`."""
    base = os.environ.get("XDG_DATA_HOME", "")
    if os.path.isabs(base):
        return Path(base) / "metagpt"
    try:
        return Path.home() / ".local" / "share" / "metagpt"
    except RuntimeError:
        raise UserError(
            "The experience pool's key lives in the user's data folder, and neither XDG_DATA_HOME nor HOME is set; "
            "set one of them."
        ) from None


def canonical(record: Experience) -> bytes:
    """What the MAC covers: every field but `mac`, as JSON with sorted keys, after the version tag."""
    fields = record.model_dump(mode="json", exclude={"mac"})
    return _TAG + json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Signer:
    """Signs and checks records with this user's key (read, or made, when first needed).

    Args:
        path: the key file; default `data_dir() / KEY_FILE`.
    """

    def __init__(self, path: Path | None = None):
        self._path = path
        self._key: bytes | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = data_dir() / KEY_FILE
        return self._path

    def sign(self, record: Experience) -> Experience:
        """`record` with its MAC (making the key on first use)."""
        key = self._load(create=True)
        assert key is not None
        return record.model_copy(update={"mac": _mac(key, record)})

    def verify(self, record: Experience) -> bool:
        """True when `record` carries a MAC under this user's key for exactly its fields."""
        if not record.mac:
            return False
        key = self._load(create=False)
        return key is not None and hmac.compare_digest(record.mac, _mac(key, record))

    def _load(self, create: bool) -> bytes | None:
        """The key; None when there is none yet and `create` is off (nothing was signed here)."""
        if self._key is not None:
            return self._key
        path = self.path
        if not os.path.lexists(path):
            if not create:
                return None
            with _locked(path):
                if not os.path.lexists(path):
                    write_atomic(path, secrets.token_bytes(KEY_BYTES), mode=0o600)
        try:
            key = read_bytes(path.parent, path.name, limit=KEY_BYTES)
        except (UnsafeFile, OSError) as error:
            raise UserError(f"The experience pool's key cannot be read: {error}; remove {path} to make a new one "
                            "(records signed with the old one are then skipped).") from None  # fmt: skip
        if len(key) != KEY_BYTES:
            raise UserError(
                f"{path} is not an experience pool key ({len(key)} bytes, not {KEY_BYTES}); remove it to make a new "
                "one (records signed with the old one are then skipped)."
            )
        self._key = key
        return key


def _mac(key: bytes, record: Experience) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold a lock beside the key, so two processes making it at once end with one key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def skipped_line(skipped: int, unsigned: int, where: str) -> str:
    """The one line that says how many records were not trusted, and what to do."""
    forged = skipped - unsigned
    parts = ([f"{forged} whose MAC does not match this user's key (changed, or copied from elsewhere)"] if forged
             else []) + ([f"{unsigned} unsigned (from before records were signed)"] if unsigned else [])  # fmt: skip
    return (f"{skipped} record(s) of {where} skipped, not used: {' and '.join(parts)}; "
            "run those ideas again with --run-tests --experience to confirm them.")  # fmt: skip
