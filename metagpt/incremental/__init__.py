"""Changing an existing project (`metagpt "a change" --inc --project-path DIR`).

`project` reads the project from disk with no model call, `change` holds the change request and
the change plan, `sections` edits documents section by section, `edits` applies search/replace
blocks all or nothing, and `company` runs the stages and commits each one. Nothing here is
imported by this package's `__init__`, so the modules below it may use `edits` freely.
"""
