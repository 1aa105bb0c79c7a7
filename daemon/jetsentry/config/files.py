"""Reading the configuration file and secret files without blocking or reading forever."""

from __future__ import annotations

import os
import stat

from jetsentry.config.limits import cut, path_problem

CONFIG_MAX_BYTES = 1 << 20  # a config with hundreds of cameras is a few tens of KiB
SECRET_MAX_BYTES = 64 << 10  # MQTT allows 65535 bytes of password

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class UnreadableFile(ValueError):
    """The file cannot be used; the message says why without quoting its contents."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular_file(path: str | os.PathLike[str], *, max_bytes: int) -> bytes:
    """The contents of the regular file `path`, at most `max_bytes` long.

    A FIFO would block the read until a writer appears and a device may never end, so
    only regular files are read: the type is checked before opening, and again on the
    opened descriptor (opened non-blocking, so even a FIFO swapped in between cannot
    block the open).
    """
    problem = path_problem(path)
    if problem:
        raise UnreadableFile(problem)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableFile(f"it is {_kind(mode)}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"it is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise UnreadableFile(f"it is {info.st_size} bytes long; at most {max_bytes} are read")
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew after fstat
        raise UnreadableFile(f"it is more than {max_bytes} bytes long")
    return data


def display_path(path: str | os.PathLike[str]) -> str:
    """A path for messages, cut when absurdly long."""
    return cut(os.fspath(path), 200)

