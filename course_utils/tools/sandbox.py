"""Run one grading in a throw-away Linux sandbox, without Docker (issue 16).

:func:`wrap` turns a command into one that runs

* in its own **PID namespace** (the sandbox's first process is its init: when grading ends or is
  killed, the kernel kills every process left in it, ``setsid`` and double forks included),
* in its own **network namespace** (only a loopback device: no internet, no host services;
  the Jupyter kernel talks to nbval over that loopback), IPC and UTS namespaces,
* in its own **mount namespace** that holds only what grading needs: the system's ``/usr`` (with
  ``/bin``, ``/lib``), a few files of ``/etc``, the Python installation and its environment, all
  read-only; the grader's copy of ``course_utils``, the data and the reference checks
  (read-only, at ``/grade/lib``); a writable working folder (``/grade/work``); an empty ``/tmp``
  and home.  Never the repository, the solutions, other submissions, the gradebook's folder or
  the instructor's home,
* as an unprivileged user (a uid of its own per worker, no capabilities, ``no_new_privs``: the
  setuid programs of ``/usr`` give nothing),
* under resource limits (:class:`Limits`: data memory, address space, processes, file size, open
  files, CPU time; no core files) and with a minimal environment (the caller's ``env``).

Two back-ends: `bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``; Debian/Ubuntu:
``apt-get install bubblewrap``, Fedora: ``dnf install bubblewrap``) run as root, or, when it is
absent, util-linux's ``unshare`` (present on every Linux) with the same namespaces and mounts made
by :mod:`course_utils.tools.sandbox_init`.  Both need root (or ``sudo``) to mount and to switch users.
Where neither works (macOS, Windows, a container without privileges), :func:`detect` says why, and
grading runs without a sandbox only where the caller allows it.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Where the sandbox sees the grader's read-only copy and the writable working folder.
LIB_MOUNT = "/grade/lib"
WORK_MOUNT = "/grade/work"
#: The first uid of the sandboxed users (worker slot N runs as FIRST_UID + N).
FIRST_UID = 61000
#: Files of /etc that Python, NumPy, TensorFlow and Jupyter read (the rest stays outside).
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "hosts", "mime.types",
             "fonts", "ssl/openssl.cnf", "alternatives")
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install "
                "bubblewrap) and grade as root (sudo), or pass --unsandboxed to grade without isolation")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed grading (every process in it inherits them)."""

    memory_bytes: int = 4 << 30       # data (heap, anonymous maps) per process: a kernel that trained a
                                      # small CNN uses 1.5 GiB (its address space, 6 GiB, is mostly libraries)
    address_space_bytes: int = 32 << 30  # a backstop on the whole address space
    processes: int = 512               # processes and threads of the sandbox's user
    file_bytes: int = 256 << 20        # largest file it may write
    open_files: int = 1024
    cpu_seconds: int = 1800            # CPU time per process (the wall-clock timeout is the caller's)

    def apply(self) -> None:
        """Set the limits on the calling process (run in the child before exec)."""
        for what, value in ((resource.RLIMIT_DATA, self.memory_bytes), (resource.RLIMIT_AS, self.address_space_bytes),
                            (resource.RLIMIT_NPROC, self.processes),
                            (resource.RLIMIT_FSIZE, self.file_bytes), (resource.RLIMIT_NOFILE, self.open_files),
                            (resource.RLIMIT_CPU, self.cpu_seconds), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(what, (value, value))


#: Where cgroup v2 is mounted (a unified hierarchy: ``cgroup.controllers`` at its root).
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_CONTROLLERS = ("cpu", "memory", "pids")


@dataclass(frozen=True)
class Cgroup:
    """One grading run's cgroup v2 (issue 29): its processes together get ``memory.max`` (no swap), ``pids.max``
    and, in bulk grading, ``cpu.max`` (their worker's share of the machine); removed, with anything left in it,
    when the run ends.  :meth:`create` returns None where cgroup v2 with those controllers cannot be used (cgroup
    v1, a container without delegation, not root): then the grader's own watchdog and CPU pinning stand in."""

    path: Path

    @classmethod
    def create(cls, memory_bytes: int, processes: int, cpus: float | None = None,
               root: Path = CGROUP_ROOT) -> "Cgroup | None":
        import uuid

        try:
            if not set(CGROUP_CONTROLLERS) <= set((root / "cgroup.controllers").read_text().split()):
                return None
            enabled = set((root / "cgroup.subtree_control").read_text().split())
            missing = [c for c in CGROUP_CONTROLLERS if c not in enabled]
            if missing:
                (root / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
            path = root / f"course-grade-{uuid.uuid4().hex[:12]}"
            path.mkdir()
        except OSError:
            return None
        group = cls(path)
        try:
            (path / "memory.max").write_text(str(memory_bytes))
            if (path / "memory.swap.max").exists():
                (path / "memory.swap.max").write_text("0")
            (path / "pids.max").write_text(str(processes))
            if cpus:
                (path / "cpu.max").write_text(f"{int(cpus * 100_000)} 100000")
        except OSError:
            group.remove()
            return None
        return group

    def enter(self) -> None:
        """Move the calling process into the cgroup (run in the child before exec: all it starts stays in it)."""
        (self.path / "cgroup.procs").write_text("0")

    def remove(self) -> None:
        """Kill what is left in the cgroup and remove it."""
        import time

        kill = self.path / "cgroup.kill"
        for _ in range(50):
            try:
                if kill.exists():
                    kill.write_text("1")
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def cgroups_usable(root: Path = CGROUP_ROOT) -> bool:
    """Whether grading runs can each get a cgroup v2 here (tried for real: made and removed)."""
    group = Cgroup.create(1 << 30, 16, root=root)
    if group is None:
        return False
    group.remove()
    return True


@dataclass(frozen=True)
class Sandbox:
    """A way to isolate a grading run: ``kind`` is ``"bwrap"``, ``"unshare"`` or ``"none"``."""

    kind: str
    why: str = ""  # for "none": why no sandbox could be used

    @property
    def isolated(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        if self.kind == "bwrap":
            return "sandboxed with bubblewrap (own PID, network, mount namespaces; unprivileged user; limits)"
        if self.kind == "unshare":
            return "sandboxed with unshare (own PID, network, mount namespaces; unprivileged user; limits)"
        return f"NOT sandboxed: the notebook ran as you, with your files and network ({self.why})"


def _python_roots() -> list[str]:
    """Folders the sandbox needs to run this Python: its installation and its environment."""
    # a venv's bin/python links into the base installation: both are bound, each where it is
    roots = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    roots |= {sys.prefix, str(Path(os.path.realpath(sys.executable)).parent.parent)}
    return sorted(r for r in roots if not r.startswith(("/usr/", "/bin", "/lib")) and r != "/usr")


def _etc_binds(flag: str = "--ro-bind") -> list[str]:
    out = []
    for name in ETC_FILES:
        p = Path("/etc") / name
        if p.exists():
            out += [flag, str(p), str(p)]
    return out


def _bwrap_args(lib: Path, work: Path, uid: int) -> list[str]:
    args = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "grader",
            "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/home",
            "--perms", "1777", "--tmpfs", "/dev/shm", "--dir", "/etc"]
    for link in ("bin", "lib", "lib64", "sbin", "lib32"):
        target = Path("/") / link
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            args += ["--ro-bind", str(target), f"/{link}"]
    args += _etc_binds()
    made = set()
    for root in _python_roots():
        for parent in reversed(Path(root).parents[:-1]):  # bwrap would make them 0700
            if parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", root, root]
    args += ["--perms", "0755", "--dir", str(Path(LIB_MOUNT).parent),
             "--ro-bind", str(lib), LIB_MOUNT, "--bind", str(work), WORK_MOUNT, "--chdir", WORK_MOUNT,
             # setpriv switches to the sandbox's user, drops every capability and sets no_new_privs
             "--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
             "--bounding-set=-all", "--no-new-privs", "--"]
    return args


def _unshare_args(lib: Path, work: Path, uid: int) -> list[str]:
    init = Path(__file__).with_name("sandbox_init.py")
    return ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--net", "--ipc", "--uts", "--propagation",
            "private", sys.executable, "-I", "-S", str(init), str(lib), str(work), str(uid), *_python_roots(), "--"]


def wrap(cmd: list[str], sandbox: Sandbox, *, lib: Path, work: Path, slot: int = 0) -> list[str]:
    """``cmd`` (paths inside the sandbox: ``LIB_MOUNT``, ``WORK_MOUNT``) as run by ``sandbox``.
    ``work`` is handed to the sandbox's user; ``slot`` picks that user (one per worker)."""
    uid = FIRST_UID + slot
    os.chown(work, uid, uid)
    for p in work.rglob("*"):
        os.chown(p, uid, uid, follow_symlinks=False)
    if sandbox.kind == "bwrap":
        return _bwrap_args(lib, work, uid) + cmd
    if sandbox.kind == "unshare":
        return _unshare_args(lib, work, uid) + cmd
    raise ValueError(f"no sandbox to wrap a command in ({sandbox.why})")


_DETECTED: dict[str, Sandbox] = {}


def detect(prefer: str = "auto") -> Sandbox:
    """The sandbox this machine offers: bubblewrap, else unshare, else none (with the reason).
    Each is tried once for real (a probe that must see its own PID 1 and no network)."""
    if prefer in _DETECTED:
        return _DETECTED[prefer]
    reasons = []
    if not sys.platform.startswith("linux"):
        found = Sandbox("none", f"{sys.platform} has no Linux namespaces")
    elif os.geteuid() != 0:
        found = Sandbox("none", "the sandbox needs root to mount and to switch users; run the bulk grading with sudo")
    else:
        found = None
        for kind in (("bwrap", "unshare") if prefer == "auto" else (prefer,)):
            if shutil.which(kind) is None or (kind == "bwrap" and shutil.which("setpriv") is None):
                reasons.append(f"{kind} is not installed")
                continue
            problem = _probe(Sandbox(kind))
            if not problem:
                found = Sandbox(kind)
                break
            reasons.append(f"{kind} does not work here ({problem})")
        found = found or Sandbox("none", "; ".join(reasons) + "; " + INSTALL_HINT)
    _DETECTED[prefer] = found
    return found


def _probe(sandbox: Sandbox) -> str:
    """Run a tiny program in ``sandbox``; '' when it is isolated as promised, else what went wrong."""
    import tempfile

    code = ("import os, socket\n"
            # no packet is sent anywhere: a network namespace of its own has the loopback interface only
            "net = 'net' if [n for _, n in socket.if_nameindex() if n != 'lo'] else 'nonet'\n"
            "print(os.getpid(), os.getuid(), net, os.path.exists(%r))" % str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory(prefix="course-probe-") as tmp:
        lib, work = Path(tmp) / "lib", Path(tmp) / "work"
        lib.mkdir()
        work.mkdir()
        os.chmod(tmp, 0o755)
        try:
            done = subprocess.run(wrap([sys.executable, "-I", "-c", code], sandbox, lib=lib, work=work), timeout=60,
                                  capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
    fields = done.stdout.split()
    if done.returncode != 0 or len(fields) != 4:
        return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1][:200]
    pid, uid, net, sees_repo = fields
    if int(pid) > 10 or int(uid) < FIRST_UID or net != "nonet" or sees_repo != "False":
        return f"not isolated (pid {pid}, uid {uid}, {net}, sees the repository: {sees_repo})"
    return ""
