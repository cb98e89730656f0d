"""What a sandboxed run may see and use, as plain data a test can read.

A `Policy` lists the mounts (read-only system and Python folders, one writable work folder, a
private `/tmp`, a fresh `/proc`), the namespaces to unshare, whether the network is allowed,
the environment and the resource `Limits`. The runners turn it into a process: `bwrap.py`
into a bubblewrap command line, `plain.py` into a bare subprocess that only honours the limits
and the environment. Nothing here starts a process or touches a file.
"""

from __future__ import annotations

import math
import os
import site
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from metagpt.configs.settings import SandboxMode

__all__ = ["Limits", "Mount", "Policy", "SandboxMode", "build_env", "make_policy"]

MountKind = Literal["ro", "rw", "tmpfs", "proc", "dev", "dir", "symlink", "file", "hide"]

SANDBOX_UID = 65534
"""The user id code runs as inside bubblewrap when MetaGPT runs as root (`nobody`)."""
SANDBOX_HOME = "/tmp/home"
"""HOME inside bubblewrap: in the private `/tmp`, gone when the run ends."""
NAMESPACES = ("user", "pid", "ipc", "uts", "cgroup")
"""Namespaces every isolated run gets; `net` is added unless the run needs the network."""

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Mounted read-only (or recreated as the same symbolic link, on merged-/usr systems)."""
ETC_FILES = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
)
"""The parts of `/etc` programs need to start; the rest (passwords, keys, hosts) is not shown."""
NETWORK_ETC_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf")
"""Added only for a run that may use the network."""
CONTROL_DIRS = (".metagpt", ".git", "logs")
"""The project's own state under a work folder (journal, lock, history, logs): hidden inside the
sandbox by an empty read-only folder mounted over each, so code can neither read nor plant it."""


@dataclass(frozen=True)
class Limits:
    """What a run may use. A value of 0 turns that resource limit off."""

    timeout: float = 60.0
    """Wall-clock seconds for the whole run; then every process of the run is killed."""
    cpu_seconds: int = 60
    """CPU seconds (`RLIMIT_CPU`); the process gets SIGXCPU, then SIGKILL a second later."""
    memory_bytes: int = 1 << 30
    """Address space (`RLIMIT_AS`); allocations beyond it fail (Python raises MemoryError)."""
    file_size_bytes: int = 50 << 20
    """Largest file the program may write (`RLIMIT_FSIZE`)."""
    processes: int = 256
    """Most processes the run may have at once; past it the supervisor kills the whole run."""
    output_bytes: int = 20_000
    """Kept of stdout and of stderr each: the head and the tail, the cut marked in between."""

    @classmethod
    def wall_clock(cls, timeout: float) -> Limits:
        """Limits for a run bounded by `timeout` seconds of wall clock.

        The CPU limit is a backstop set above what two busy threads can burn in that time, so a
        busy loop is stopped, and reported, by the wall clock rather than racing SIGXCPU.
        """
        return cls(timeout=timeout, cpu_seconds=math.ceil(2 * timeout) + 1)


@dataclass(frozen=True)
class Mount:
    """One entry of the sandbox's file system, in the order bubblewrap applies them."""

    kind: MountKind
    """`ro`/`rw` bind `source` at `dest`; `tmpfs`, `proc`, `dev`, `dir` create; `symlink` makes
    `dest` a link to `source`; `file` binds a file of ours read-only (e.g. `/etc/passwd`); `hide`
    covers `dest` with an empty read-only folder."""
    dest: str
    source: str = ""


@dataclass(frozen=True)
class Policy:
    """Everything a runner needs to start one sandboxed command."""

    workdir: Path
    """The one writable folder; the command starts in it. Seen at the same path inside."""
    mounts: tuple[Mount, ...]
    namespaces: tuple[str, ...]
    network: bool
    env: dict[str, str] = field(default_factory=dict)
    """Extra variables (e.g. PYTHONPATH) on top of the scratch environment `build_env` makes."""
    limits: Limits = Limits()
    uid: int = SANDBOX_UID
    hostname: str = "sandbox"

    def writable(self) -> list[str]:
        """Destinations the command may write (a test asserts this is the work folder and /tmp)."""
        return [m.dest for m in self.mounts if m.kind in ("rw", "tmpfs", "dir")]

    def hidden(self) -> list[str]:
        """Paths under the work folder the command cannot see (the project's control state)."""
        return [m.dest for m in self.mounts if m.kind == "hide"]


def python_dirs() -> list[str]:
    """Folders the running Python needs: its prefixes, its executable's folder, site-packages."""
    executable = Path(sys.executable)
    candidates = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(executable.parent),
        str(executable.resolve().parent.parent),
    ]
    candidates += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    dirs: list[str] = []
    for candidate in sorted({os.path.normpath(c) for c in candidates if c}, key=len):
        if not os.path.isdir(candidate) or any(_inside(candidate, d) for d in dirs):
            continue
        if any(_inside(candidate, s) for s in SYSTEM_DIRS):
            continue
        if candidate == "/" or _inside(os.path.expanduser("~"), candidate):
            continue  # never show a whole home folder, whatever the Python layout
        dirs.append(candidate)
    return dirs


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def system_mounts(network: bool = False) -> list[Mount]:
    """Read-only system folders (as links where the host has links), and the needed `/etc` files."""
    mounts: list[Mount] = []
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            mounts.append(Mount("symlink", folder, os.readlink(folder)))
        elif os.path.isdir(folder):
            mounts.append(Mount("ro", folder, folder))
    for name in ETC_FILES + (NETWORK_ETC_FILES if network else ()):
        if os.path.exists(name):
            mounts.append(Mount("ro", name, name))
    return mounts


def make_policy(
    workdir: Path,
    limits: Limits = Limits(),
    env: dict[str, str] | None = None,
    network: bool = False,
    read_only: tuple[str, ...] = (),
    hidden: tuple[str, ...] = CONTROL_DIRS,
) -> Policy:
    """The default policy: the system and Python read-only, `workdir` writable, nothing else.

    Args:
        workdir: the folder the command runs in and may write; nothing else outside `/tmp`.
        limits: time, CPU, memory, file-size and output limits.
        env: extra environment variables for the command.
        network: allow the network (off by default: a run that needs it must say so).
        read_only: more folders to show read-only at the same path.
        hidden: folders under `workdir` covered by an empty read-only folder (by default the
            project's journal, git history and logs).
    """
    workdir = Path(workdir).resolve()
    mounts = system_mounts(network)
    mounts += [Mount("proc", "/proc"), Mount("dev", "/dev"), Mount("tmpfs", "/tmp"), Mount("dir", SANDBOX_HOME)]
    # After the private /tmp, so a Python or a folder that lives under /tmp stays visible.
    mounts += [Mount("ro", d, d) for d in python_dirs()]
    mounts += [Mount("ro", d, d) for d in read_only]
    mounts.append(Mount("rw", str(workdir), str(workdir)))
    mounts += [Mount("hide", str(workdir / name)) for name in hidden]
    namespaces = NAMESPACES if network else (*NAMESPACES, "net")
    uid = os.getuid() or SANDBOX_UID
    return Policy(workdir, tuple(mounts), namespaces, network, dict(env or {}), limits, uid)


def build_env(home: str, tmp: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The command's environment, from scratch: none of the parent's variables are passed on.

    PATH starts with the folder of the running interpreter, so `python` and `pytest` are the
    ones MetaGPT runs with.
    """
    path = [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": os.pathsep.join(dict.fromkeys(path)),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TMPDIR": tmp,
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        "NO_COLOR": "1",
    }
    env.update(extra or {})
    return env
