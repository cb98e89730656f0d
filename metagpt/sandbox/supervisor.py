"""The supervisor: a tiny Python program that runs beside the untrusted command and outlives it.

Both runners start it (inside bubblewrap, or as a plain subprocess). It

* sets the resource limits in the forked child just before `exec` (no threads there, so this is
  safe, unlike `preexec_fn` in the threaded parent);
* becomes a child subreaper, so every process the command leaves behind, even one that called
  `setsid()`, is re-parented to it and cannot slip away;
* enforces the wall-clock timeout itself, and the process limit: it counts the command's
  processes several times a second and past the limit kills them all (in bubblewrap's pid
  namespace with one `kill(-1)`, which a fork bomb cannot outrun; `RLIMIT_NPROC` does not bind
  root, and counts every process of the user, not of the run);
* when the command ends (or on SIGTERM from the parent), kills every remaining descendant,
  naming each one;
* writes one JSON line on its status pipe: the command's exit status (negative for a signal,
  exact even under bubblewrap), whether it timed out, and the stray processes it killed.

It marks itself non-dumpable, so code running as the same user cannot open its status pipe
through `/proc`.
"""

SUPERVISOR = r"""
import json, os, resource, select, signal, sys, time
cfg = json.loads(sys.argv[1])
argv = sys.argv[2:]
status = cfg["status_fd"]
os.set_inheritable(status, False)
try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except Exception:
    pass
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
os.set_blocking(wake_r, False)
signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
stop = []
def on_stop(signum, frame):
    stop.append(signum)
for name in ("SIGTERM", "SIGINT", "SIGHUP"):
    signal.signal(getattr(signal, name), on_stop)
signal.signal(signal.SIGCHLD, lambda *a: None)

def limit(kind, soft, hard):
    _, current = resource.getrlimit(kind)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(kind, (soft, hard))

pid = os.fork()
if pid == 0:
    try:
        os.setpgid(0, 0)
        for name in ("SIGPIPE", "SIGXFSZ", "SIGXCPU", "SIGTERM", "SIGINT", "SIGHUP", "SIGCHLD"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        os.close(wake_r); os.close(wake_w)
        limit(resource.RLIMIT_CORE, 0, 0)
        if cfg["cpu"] > 0:
            limit(resource.RLIMIT_CPU, cfg["cpu"], cfg["cpu"] + 1)
        if cfg["memory"] > 0:
            limit(resource.RLIMIT_AS, cfg["memory"], cfg["memory"])
        if cfg["fsize"] > 0:
            limit(resource.RLIMIT_FSIZE, cfg["fsize"], cfg["fsize"])
        os.execvp(argv[0], argv)
    except OSError as error:
        sys.stderr.write(f"cannot run {argv[0]!r}: {error.strerror}\n")
        os._exit(127 if isinstance(error, FileNotFoundError) else 126)
    os._exit(126)

def report(**fields):
    data = (json.dumps(fields) + "\n").encode()
    try:
        os.write(status, data)
    except OSError:
        pass

def processes():
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), fields[0], name)
    return table

def descendants(table, root):
    children = {}
    for child, (ppid, state, name) in table.items():
        children.setdefault(ppid, []).append(child)
    found, frontier, seen = [], [root], {root}
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                frontier.append(child)
    return found

def sweep():
    # In our own pid namespace (bubblewrap), one kill(-1) reaches every process but bubblewrap's
    # init and ourselves at once, so even a fork bomb cannot outrun it. Never outside one.
    if cfg["pidns"] and os.getpid() <= 3:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass

me = os.getpid()
report(pid=pid)
deadline = time.monotonic() + cfg["timeout"] if cfg["timeout"] > 0 else None
code, timed_out, crowded = None, False, False
most = cfg["processes"]
tick = (0.1 if cfg["pidns"] else 0.25) if most else 0.5
while code is None:
    done, raw = os.waitpid(pid, os.WNOHANG)
    if done:
        code = -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
        break
    if stop:
        break
    remaining = None if deadline is None else deadline - time.monotonic()
    if remaining is not None and remaining <= 0:
        timed_out = True
        break
    if most and len(descendants(processes(), me)) > most:
        crowded = True
        break
    readable, _, _ = select.select([wake_r], [], [], tick if remaining is None else min(remaining, tick))
    if readable:
        try:
            os.read(wake_r, 512)
        except OSError:
            pass

strays = []
if code is None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
for _ in range(200):
    if crowded:
        sweep()
    table = processes()
    others = [p for p in descendants(table, me) if p != pid]
    live = [p for p in others if table[p][1] not in "ZX"]
    for p in live:
        label = f"{table[p][2]} (pid {p})"
        if len(strays) < 50 and label not in strays:
            strays.append(label)
    for p in [pid, *others] if code is None else others:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    while True:
        try:
            reaped, raw = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            reaped = -1
            break
        if reaped == 0:
            break
        if reaped == pid and code is None:
            code = -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
    if reaped == -1:
        break
    time.sleep(0.01)
report(
    returncode=None if (timed_out or stop or crowded) else code, timed_out=timed_out, stopped=bool(stop),
    crowded=most if crowded else 0, strays=strays[:50],
)
"""
"""Runs as `python -I -S -c SUPERVISOR <json config> <command...>`; see the module docstring."""
SUPERVISOR_MARK = b"PR_SET_CHILD_SUBREAPER"
"""Found in the supervisor's command line (its own source), to find it among bubblewrap's processes."""
