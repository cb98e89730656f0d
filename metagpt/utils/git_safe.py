"""Running git on a repository we do not trust, without changing how the user's git sees it.

Generated code may have run in the project folder, and `--inc` opens the user's own repository:
either may hold configuration that git obeys by running a command (a `[filter "x"] clean = ...`
selected by a `.gitattributes` line, an fsmonitor, a hook, a `diff.x.textconv`, a merge driver,
an `include.path` bringing more of them, a nested repository with drivers of its own). Every
command of ours runs them off, and nothing of ours is written into the repository's config or
attributes, so the user's own git (remotes, branches, identity, text diffs, normal merges) works
exactly as before.

Each git call

* gets an environment built from scratch (PATH, `LC_ALL=C`, and `/dev/null` as HOME and
  XDG_CONFIG_HOME: a home that holds no file, so git finds no per-user config, attributes or
  ignore file there, and no folder is made that a killed process could leave behind): no API
  key or other secret of ours can reach anything git starts; the user's and the system's
  configuration is ignored (`GIT_CONFIG_GLOBAL=/dev/null`, `GIT_CONFIG_NOSYSTEM=1`);
* carries our settings in the environment (`GIT_CONFIG_COUNT`, `GIT_CONFIG_KEY_n`,
  `GIT_CONFIG_VALUE_n`): git reads them after the repository's config (and after whatever that
  includes), so for every single-valued key ours wins, and the nested gits git starts inherit
  them. Passing keys and values apart, unlike `-c key=value`, keeps a subsection name holding a
  `=` intact. `SAFE_SETTINGS` turns hooks, fsmonitor, signing, pagers, editors, every transport
  (`protocol.allow=never`: no lazy fetch from a planted promisor remote), automatic gc and
  submodule recursion off;
* neutralises the drivers the repository's configuration defines. A `.gitattributes` line only
  names a driver; the command is in the config. So just before the call the config is listed
  as git would read it (`git config --list --name-only`, includes followed, with these same
  settings; listing runs nothing) and, for every `filter.<name>`, `diff.<name>` and
  `merge.<name>` found, the settings of `neutralised` give it no command at all (an empty
  `clean`/`smudge`/`process` is no filter; an empty `textconv`/`command`/`driver` fails instead
  of running anything, and our diffs pass `--no-ext-diff --no-textconv` anyway). This beats any
  attribute file whatever its precedence, and writes none: the tree's and the user's
  attributes keep applying to the user's git, and to ours except for running commands;
* runs in its own process group with a time limit: a git that hangs (a config that is a pipe)
  is killed with all it started.

A nested repository (a submodule, or one generated code made) has drivers in its own config,
which this listing does not see, and git runs `git status` inside it to tell whether its work
tree is dirty. `diff.ignoreSubmodules=dirty` stops that (a new commit in it still counts) in
every command but `git add`, which ignores the setting: the history keeps gitlinks out of its
`git add`. Like any look before a run, the listing leaves a moment in which code running at
the same time could add a driver; isolated code cannot see `.git` at all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

GIT_TIMEOUT = 60.0
"""Seconds any one git command may take before it counts as failed."""

Setting = tuple[str, str]

SAFE_SETTINGS: tuple[Setting, ...] = (
    ("core.hooksPath", os.devnull),
    ("core.fsmonitor", "false"),
    ("core.untrackedCache", "false"),
    ("core.attributesFile", os.devnull),
    ("core.sshCommand", "false"),
    ("core.pager", "cat"),
    ("core.editor", ":"),
    ("sequence.editor", ":"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("diff.external", ""),
    ("credential.helper", ""),
    ("protocol.allow", "never"),
    ("submodule.recurse", "false"),
    ("diff.ignoreSubmodules", "dirty"),
    ("status.submoduleSummary", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("init.defaultBranch", "main"),
)
"""Settings every call of ours carries: what a repository's config could make git run, off."""

DRIVER_KEYS: dict[str, tuple[Setting, ...]] = {
    "filter": (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")),
    "diff": (("command", ""), ("textconv", "")),
    "merge": (("driver", ""),),
}
"""The keys of a driver section that name a command, and what ours set them to."""


def neutralised(names: Iterable[str]) -> list[Setting]:
    """Settings leaving every filter, diff and merge driver among config key `names` no command.

    Args:
        names: config keys as `git config --list --name-only` prints them
            (`section.subsection.key`, the section in lower case).
    """
    settings: list[Setting] = []
    seen: set[tuple[str, str]] = set()
    for name in names:
        section, _, rest = name.partition(".")
        driver, dot, _ = rest.rpartition(".")
        section = section.lower()
        if not dot or section not in DRIVER_KEYS or (section, driver) in seen:
            continue
        seen.add((section, driver))
        settings += [(f"{section}.{driver}.{key}", value) for key, value in DRIVER_KEYS[section]]
    return settings


def git_env(settings: Sequence[Setting] = ()) -> dict[str, str]:
    """Git's environment, from scratch: PATH, an empty home and locale, git's safety switches,
    and `settings` as command-line configuration.

    Nothing else of the parent's reaches git or anything it starts: no API key, no GIT_DIR.
    """
    env = {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": os.devnull,  # git reads `~/...` and `$XDG_CONFIG_HOME/git/...`: "not a directory", no file
        "XDG_CONFIG_HOME": os.devnull,
        "LC_ALL": "C",
        "LANG": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_EDITOR": ":",
        "GIT_CONFIG_COUNT": str(len(settings)),
    }
    for index, (key, value) in enumerate(settings):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


class GitFailed(Exception):
    """A git command failed or was killed; the message names the command."""


class GitTimedOut(GitFailed):
    """A git command took longer than `GIT_TIMEOUT` and was killed with its process group."""


def run_git(git: str, args: Sequence[str], cwd: Path, settings: Sequence[Setting]) -> subprocess.CompletedProcess[str]:
    """Run `git args` in `cwd` with `git_env(settings)`, in its own process group.

    Raises:
        GitTimedOut: it ran longer than `GIT_TIMEOUT`; it and all it started were killed.
    """
    process = subprocess.Popen(
        [git, "--no-pager", *args],
        cwd=cwd,
        env=git_env(settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        command = next((arg for arg in args if not arg.startswith("-")), "")
        raise GitTimedOut(f"git {command} took longer than {GIT_TIMEOUT:g}s and was killed") from None
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def git_running_in(folder: Path) -> bool:
    """True when a process named git (or git-*) has its working folder inside `folder`."""
    root = os.path.realpath(folder)
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", encoding="utf-8", errors="replace") as file:
                comm = file.read().strip()
            if comm != "git" and not comm.startswith("git-"):
                continue
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            return True
    return False
