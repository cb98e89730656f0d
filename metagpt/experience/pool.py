"""`ExperiencePool`: the records of one workspace, `workspace/.experience/experiences.jsonl`.

Portable JSON lines, one record a line: a new record is appended in one write
(`utils.atomic.append_line`); a change to existing records (a reuse counted, a duplicate merged,
an eviction) rewrites the file atomically (`utils.atomic.write_atomic`). Both happen under a lock
file, so companies of a batch can share the pool. The index is BM25 over each record's task text,
built when searched (the pool is capped, so that stays cheap). A line that does not parse (the end
of a write cut by a crash) is skipped.

Every record is written with its MAC (`trust.Signer`) and read only when the MAC holds: a record
changed in the file, copied from another user's pool or written before records were signed is
skipped, counted in `skipped`, and dropped when the pool is next written.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from loguru import logger
from pydantic import ValidationError

from metagpt.experience.records import MAX_TEXT, Experience
from metagpt.experience.trust import Signer
from metagpt.tools.registry import bm25_scores, tokenize
from metagpt.utils.atomic import append_line, write_atomic

POOL_DIR = ".experience"
POOL_FILE = "experiences.jsonl"
DEFAULT_MAX_ENTRIES = 500


class ExperiencePool:
    """The confirmed experiences and lessons of a workspace.

    Args:
        folder: the pool's folder (`workspace/.experience`), created on the first write.
        max_entries: most records kept; beyond it the least used, then least valuable, go.
        signer: signs what is written and checks what is read; default this user's key.
    """

    def __init__(self, folder: Path, max_entries: int = DEFAULT_MAX_ENTRIES, signer: Signer | None = None):
        self.folder = Path(folder)
        self.max_entries = max_entries
        self.signer = signer or Signer()
        self.skipped = 0
        """Records the last `records()` left out because their MAC did not hold."""
        self.unsigned = 0
        """Of those, the records that carry no MAC at all (written before records were signed)."""

    @classmethod
    def of_workspace(
        cls, workspace: Path, max_entries: int = DEFAULT_MAX_ENTRIES, signer: Signer | None = None
    ) -> ExperiencePool:
        return cls(Path(workspace) / POOL_DIR, max_entries, signer)

    @property
    def path(self) -> Path:
        return self.folder / POOL_FILE

    # -- reading --------------------------------------------------------------------------------

    def records(self) -> list[Experience]:
        """Every record whose MAC holds, oldest first; a line that does not parse is skipped."""
        self.skipped = self.unsigned = 0
        if not self.path.is_file():
            return []
        records: dict[str, Experience] = {}
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = Experience.model_validate_json(line)
                except (ValidationError, ValueError):
                    logger.debug(f"{self.path}:{number}: not a record, skipped")
                    continue
                if not self.signer.verify(record):
                    self.skipped += 1
                    self.unsigned += not record.mac
                    logger.debug(f"{self.path}:{number}: its MAC does not hold, skipped")
                    continue
                records[record.key] = record  # a rewrite keeps one line a key; the last line wins
        return list(records.values())

    def get(self, key: str) -> Experience | None:
        return next((r for r in self.records() if r.key == key or r.key.startswith(key)), None)

    def search(self, query: str, k: int = 2, records: list[Experience] | None = None) -> list[Experience]:
        """The `k` records (of `records`, default all) whose task text best matches `query` (BM25),
        best first; none that share no word with it."""
        records = self.records() if records is None else records
        words = tokenize(query)
        if not records or not words:
            return []
        corpus = [tokenize(r.task) for r in records]
        scores = bm25_scores(corpus, words)
        wanted = set(words)
        ranked = sorted(range(len(records)), key=lambda i: (-scores[i], -records[i].created))
        return [records[i] for i in ranked if wanted.intersection(corpus[i])][:k]

    # -- writing --------------------------------------------------------------------------------

    def add(self, record: Experience) -> Experience:
        """Store `record` (redacted); a record with the same key is merged into it. Returns what is stored."""
        record = record.redacted()
        with self._locked():
            existing = {r.key: r for r in self.records()}
            if record.key in existing:
                merged = _merge(existing[record.key], record)
                existing[record.key] = merged
                self._rewrite(list(existing.values()))
                return merged
            if len(existing) + 1 > self.max_entries or self.skipped or not self._ends_whole():
                self._rewrite([*existing.values(), record])
            else:
                record = self.signer.sign(record)
                append_line(self.path, record.model_dump_json())
        return record

    def touch(self, keys: dict[str, int]) -> None:
        """Count `keys[key]` more uses of each record (a reuse or an example shown)."""
        if not keys:
            return
        now = time.time()
        with self._locked():
            records = self.records()
            for record in records:
                if record.key in keys:
                    record.uses += keys[record.key]
                    record.last_used = now
            self._rewrite(records)

    def remove(self, keys: set[str] | None = None) -> int:
        """Remove the records with `keys` (all when None); returns how many went."""
        with self._locked():
            records = self.records()
            kept = [] if keys is None else [r for r in records if r.key not in keys]
            self._rewrite(kept)
        return len(records) - len(kept)

    def replace_all(self, records: list[Experience]) -> list[Experience]:
        """The pool becomes `records` (redacted, merged by key, capped): `rebuild`'s last step."""
        merged: dict[str, Experience] = {}
        for record in (r.redacted() for r in records):
            merged[record.key] = _merge(merged[record.key], record) if record.key in merged else record
        with self._locked():
            return self._rewrite(list(merged.values()))

    def _ends_whole(self) -> bool:
        """The file is missing or ends with a whole line (a crash can leave a last line cut short)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() == 0:
                    return True
                handle.seek(-1, os.SEEK_END)
                return handle.read(1) == b"\n"
        except FileNotFoundError:
            return True

    def _rewrite(self, records: list[Experience]) -> list[Experience]:
        kept = [self.signer.sign(r) for r in evict(records, self.max_entries)]
        if len(kept) < len(records):
            logger.info(f"experience pool: {len(records) - len(kept)} record(s) evicted (cap {self.max_entries})")
        data = "".join(r.model_dump_json() + "\n" for r in kept).encode("utf-8")
        write_atomic(self.path, data)
        return kept

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def evict(records: list[Experience], cap: int) -> list[Experience]:
    """At most `cap` records: the least used go first, then the least valuable, then the oldest."""
    if len(records) <= cap:
        return records
    ranked = sorted(records, key=lambda r: (r.uses, r.value, r.last_used or r.created), reverse=True)
    keep = {id(r) for r in ranked[:cap]}
    return [r for r in records if id(r) in keep]


def _merge(old: Experience, new: Experience) -> Experience:
    """One record for a key seen twice: the newer result, the counts added up."""
    return new.model_copy(
        update={
            "cost": new.cost if new.cost.calls else old.cost,
            "created": min(old.created, new.created),
            "uses": old.uses + new.uses,
            "last_used": max(old.last_used, new.last_used),
            "confirmations": old.confirmations + new.confirmations,
        }
    )


def too_large(text: str) -> bool:
    return len(text) > MAX_TEXT


def dump(records: list[Experience]) -> str:
    return json.dumps([r.model_dump(mode="json") for r in records], indent=2, ensure_ascii=False)
