"""Changing existing projects: the fixture project is data, never collected as tests."""

from __future__ import annotations

import shutil

import pytest

collect_ignore_glob = ["fixtures/*"]

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
