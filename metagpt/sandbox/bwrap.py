"""The isolated runner: the policy as a bubblewrap command line.

bubblewrap (`bwrap`, the sandbox Flatpak uses) starts the command in new user, PID, IPC, UTS,
cgroup and (unless the policy allows the network) network namespaces, with every capability
dropped, in a new session (no terminal injection), and dies with its parent. Only the policy's
mounts exist inside: the system and Python read-only, the work folder writable, a private
`/tmp` and a fresh `/proc` that shows only the sandbox's own processes.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from metagpt.sandbox.policy import SANDBOX_HOME, Limits, Policy, build_env, make_policy
from metagpt.sandbox.process import RunResult, Supervised, execute

PROBE_TIMEOUT = 15.0
"""Seconds the one-time check that bubblewrap works may take."""

_FLAGS = {
    "ro": "--ro-bind",
    "rw": "--bind",
    "file": "--ro-bind",
    "tmpfs": "--tmpfs",
    "proc": "--proc",
    "dev": "--dev",
    "dir": "--dir",
    "symlink": "--symlink",
    "hide": "--tmpfs",
}


def bwrap_path() -> str | None:
    """The `bwrap` executable on PATH, if any."""
    return shutil.which("bwrap")


def bwrap_argv(policy: Policy, bwrap: str = "bwrap") -> list[str]:
    """The bubblewrap command line for `policy`, up to (not including) the command itself."""
    argv = [bwrap, "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for namespace in policy.namespaces:
        argv.append("--unshare-cgroup-try" if namespace == "cgroup" else f"--unshare-{namespace}")
    if "user" in policy.namespaces:
        argv += ["--uid", str(policy.uid), "--gid", str(policy.uid)]
    if "uts" in policy.namespaces:
        argv += ["--hostname", policy.hostname]
    for mount in policy.mounts:
        flag = _FLAGS[mount.kind]
        if mount.kind in ("ro", "rw", "file", "symlink"):
            argv += [flag, mount.source, mount.dest]
        elif mount.kind == "hide":
            argv += ["--tmpfs", mount.dest, "--remount-ro", mount.dest]
        else:
            argv += [flag, mount.dest]
    argv += ["--chdir", str(policy.workdir)]
    return argv


@functools.lru_cache(maxsize=1)
def unusable_reason() -> str:
    """Why bubblewrap cannot isolate a run here ("" when it can); checked once per process.

    Installed is not enough: user namespaces may be switched off (a container, a hardened
    kernel), so a real command is run under the default policy.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        return "bwrap is not installed"
    with tempfile.TemporaryDirectory(prefix="metagpt-probe-") as folder:
        policy = make_policy(Path(folder), Limits(timeout=PROBE_TIMEOUT))
        argv = [*bwrap_argv(policy, bwrap), sys.executable, "-I", "-S", "-c", "print('ok')"]
        try:
            probe = subprocess.run(
                argv,
                env=build_env(SANDBOX_HOME, "/tmp"),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=PROBE_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap failed to start: {error}"
    if probe.returncode != 0 or probe.stdout.strip() != "ok":
        detail = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
        return f"bwrap does not work here: {detail}"
    return ""


def _missing_hidden(policy: Policy) -> list[Path]:
    """Hidden paths that do not exist yet: bubblewrap makes an empty folder for each to mount on."""
    return [Path(dest) for dest in policy.hidden() if not os.path.lexists(dest)]


def remove_mount_points(paths: list[Path]) -> None:
    """Remove the empty folders bubblewrap made as mount points (never following a link)."""
    for path in paths:
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.rmdir(path)  # only if still empty: the parent may have filled it meanwhile
        except OSError:
            pass


async def run(policy: Policy, command: list[str]) -> RunResult:
    """Run `command` isolated by bubblewrap under `policy`."""
    bwrap = bwrap_path() or "bwrap"
    env = build_env(SANDBOX_HOME, "/tmp", policy.env)
    missing = _missing_hidden(policy)
    try:
        return await execute(bwrap_argv(policy, bwrap), command, policy.workdir, env, policy.limits, "bwrap")
    finally:
        remove_mount_points(missing)


async def start(policy: Policy, command: list[str]) -> Supervised:
    """Start a long-lived `command` isolated like `run` does; end it with `stop()`."""
    process = Supervised(command, policy.limits, "bwrap")
    env = build_env(SANDBOX_HOME, "/tmp", policy.env)
    missing = _missing_hidden(policy)
    process.on_close(lambda: remove_mount_points(missing))
    await process.start(bwrap_argv(policy, bwrap_path() or "bwrap"), policy.workdir, env)
    return process
