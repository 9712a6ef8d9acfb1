"""Reading what a sandboxed run wrote, as untrusted bytes (issue 29).

Everything in a run's working folder was written, or could have been replaced, by the student's code: a file may
be a symbolic link to ``/etc/shadow`` or ``/proc/self/environ``, a FIFO that blocks the reader for ever, a socket,
a device, or gigabytes.  The grader runs as root, so it reads those files only through :func:`read_bytes`: no link
followed, no blocking open, regular files only, at most ``limit`` bytes.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class Untrusted(OSError):
    """A run's file that the grader refuses to read, with the reason."""


def read_bytes(path: Path, limit: int, *, tail: bool = False) -> bytes:
    """Up to ``limit`` bytes of the regular file ``path`` (its last ``limit`` bytes with ``tail``).

    Raises:
        FileNotFoundError: there is none.
        Untrusted: it is a link, a FIFO, a socket, a device or a folder, or cannot be read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        why = "a symbolic link" if exc.errno in (errno.ELOOP, errno.EMLINK) else exc.strerror
        raise Untrusted(f"{Path(path).name}: not read ({why})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Untrusted(f"{Path(path).name}: not read (not a regular file)")
        if tail and info.st_size > limit:
            os.lseek(fd, info.st_size - limit, os.SEEK_SET)
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
