"""Reading small sysfs attribute files the way their drivers answer.

An attribute is read with one unbuffered read: a Jetson Orin's power-gated cv*-thermal
zones answer EAGAIN, which a buffered text read (Path.read_text) does not raise as an
OSError but turns into "TypeError: can't concat NoneType to bytes".
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

# Every attribute read here is one short number or name.
_MAX_BYTES = 4096


class SysfsReadError(OSError):
    """An attribute could not be read; the message names the file and the reason."""


def read_attribute(path: Path) -> str:
    """The attribute's text, stripped; SysfsReadError naming `path` and why it could not be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise SysfsReadError(exc.errno, f"{path}: {_why(exc)}") from exc
    try:
        data = os.read(fd, _MAX_BYTES)
    except OSError as exc:
        raise SysfsReadError(exc.errno, f"{path}: {_why(exc)}") from exc
    finally:
        os.close(fd)
    return data.decode("ascii", errors="replace").strip()


def read_int(path: Path) -> int:
    """The attribute as an integer; SysfsReadError when it cannot be read or is not one."""
    text = read_attribute(path)
    try:
        return int(text)
    except ValueError:
        raise SysfsReadError(errno.EINVAL, f"{path}: not an integer: {text[:40]!r}") from None


def _why(exc: OSError) -> str:
    if exc.errno == errno.EAGAIN:
        return "the sensor is not ready (EAGAIN: powered down or not yet sampled)"
    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{exc.strerror or exc}" + (f" ({name})" if name else "")
