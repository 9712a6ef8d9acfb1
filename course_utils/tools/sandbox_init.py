"""The first process of an ``unshare`` sandbox (see :mod:`course_utils.tools.sandbox`): runs as root in
fresh PID, mount, network, IPC and UTS namespaces, builds a new root holding only what grading
needs, brings the loopback device up, becomes an unprivileged user and executes the command.

    unshare --pid --fork --kill-child --mount --net --ipc --uts --propagation private \\
        python -I -S sandbox_init.py LIB WORK UID PYTHON_ROOT... -- COMMAND...

Standard library only, no ``site``: it runs before anything of the course is importable.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "hosts", "mime.types",
             "fonts", "ssl/openssl.cnf", "alternatives")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: None if s is None else s.encode())
    if _libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {src} on {dst}: {os.strerror(err)}")


def _bind(src: str, root: str, dst: str | None = None, *, writable: bool = False, device: bool = False) -> None:
    """Bind ``src`` at ``root + dst`` (default: the same path), read-only unless ``writable``."""
    target = root + (dst or src)
    if os.path.isdir(src):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(src, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if device else MS_NODEV) | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags)


def _loopback_up() -> None:
    iff_up, iff_loopback, iff_running, siocsifflags = 0x1, 0x8, 0x40, 0x8914
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14x", b"lo", iff_up | iff_loopback | iff_running))


def main(argv: list[str]) -> None:
    split = argv.index("--")
    (lib, work, uid, *python_roots), command = argv[:split], argv[split + 1:]
    uid = int(uid)
    root = os.path.join(os.path.dirname(work), "root")
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID, "mode=755,size=64m")
    _bind("/usr", root)
    for link in ("bin", "lib", "lib64", "sbin", "lib32"):
        path = "/" + link
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            _bind(path, root)
    for name in ETC_FILES:
        if os.path.exists("/etc/" + name):
            _bind("/etc/" + name, root)
    for name in ("tmp", "home"):  # first: a Python environment under /tmp or /home is bound on top (issue 29)
        os.makedirs(f"{root}/{name}", exist_ok=True)
        _mount("tmpfs", f"{root}/{name}", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=512m")
    for path in python_roots:
        _bind(path, root)
    _bind(lib, root, "/grade/lib")
    _bind(work, root, "/grade/work", writable=True)
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV)
    for dev in DEVICES:
        if os.path.exists("/dev/" + dev):
            _bind("/dev/" + dev, root, writable=True, device=True)
    os.symlink("/proc/self/fd", root + "/dev/fd")
    os.makedirs(root + "/dev/shm", exist_ok=True)  # joblib's and torch's semaphores and shared memory
    _mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=512m")
    _mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _loopback_up()
    os.chroot(root)
    os.chdir("/grade/work")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # every capability goes with root
    if _libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS: setuid programs give nothing
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    os.execvpe(command[0], command, os.environ)


if __name__ == "__main__":
    main(sys.argv[1:])
