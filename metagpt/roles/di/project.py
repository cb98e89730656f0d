"""The project folder of an interpreter's or an agent's run: journaled, logged, its data copied in."""

from __future__ import annotations

from pathlib import Path

KNOWLEDGE_SUFFIXES = (".pdf", ".txt", ".md", ".docx", ".json", ".jsonl")
"""`--data` files the run can also search as documents (the first one becomes its store)."""


def open_project(context, project_name: str | None, goal: str, data: list[Path]):
    """The run's project folder, journaled and logged, with the `--data` files copied in; returns
    a document store over the first file that is a document (None without one)."""
    from metagpt.const import STATE_DB
    from metagpt.journal import Journal
    from metagpt.logs import add_run_log
    from metagpt.project_repo import ProjectRepo

    config = context.config
    project = ProjectRepo(config.resolve_workspace(), project_name or goal[:40], fixed=bool(project_name))
    context.project = project
    journal = Journal(lambda: project.path / STATE_DB)
    project.journal = journal
    context.journal = journal
    add_run_log(project.path)
    store = None
    for path in data:
        project.write_bytes(path.name, path.read_bytes())
        if store is None and path.suffix.lower() in KNOWLEDGE_SUFFIXES:
            from metagpt.document_store.faiss_store import FaissStore
            from metagpt.embeddings import create_embedding

            store = FaissStore(
                project.path / path.name, cache_dir=project.path / ".metagpt", embedding=create_embedding(config)
            )
    return store
