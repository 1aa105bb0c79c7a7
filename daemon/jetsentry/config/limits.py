"""Limits on configuration text: what a string may hold, how long a path may be, and
how a value is cut before an error message quotes it."""

from __future__ import annotations

import os
import re

# A value quoted in an error message keeps this many characters (start and end).
MESSAGE_VALUE_CHARS = 80
# Linux PATH_MAX (with its terminating NUL) and NAME_MAX, in bytes.
PATH_MAX_BYTES = 4095
NAME_MAX_BYTES = 255

HOST_MAX_CHARS = 253  # DNS name limit (RFC 1035)
# GStreamer element factory names (and the decoder keywords auto, cpu, nvcodec, nvv4l2).
_ELEMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+.-]{0,63}$")

# C0 and C1 control characters: a broker may treat them as a malformed packet (MQTT 5
# section 1.5.4), GStreamer and log lines do not expect them.  U+0000 ends a C string.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def cut(text: str, limit: int = MESSAGE_VALUE_CHARS) -> str:
    """`text`, or its start and end with its length when longer than `limit` characters."""
    if len(text) <= limit:
        return text
    half = max(1, limit // 2)
    return f"{text[:half]}…{text[-half:]} ({len(text)} characters)"


def quoted(value: object, limit: int = MESSAGE_VALUE_CHARS) -> str:
    """repr(value) for a message, cut like `cut` (never a whole 10 MB value)."""
    if not isinstance(value, str):
        return cut(repr(value), limit)
    if len(value) <= limit:
        return repr(value)
    half = max(1, limit // 2)
    return f"{value[:half] + '…' + value[-half:]!r} ({len(value)} characters)"


def utf8_size(value: str, what: str) -> int:
    """Bytes of `value` as UTF-8; a lone surrogate (an undecodable byte of a non-UTF-8
    environment variable or file name) has none."""
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid text (it holds bytes that are not UTF-8)") from None


def check_text(value: str, what: str, *, max_bytes: int) -> str:
    """`value` if it is well-formed text of at most `max_bytes` UTF-8 bytes without control
    characters.  The message never quotes `value`, so the check serves secrets too."""
    size = utf8_size(value, what)
    if "\0" in value:
        raise ValueError(f"{what} contains a NUL character (U+0000)")
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"{what} contains the control character U+{ord(found.group()):04X}")
    if size > max_bytes:
        raise ValueError(f"{what} is {size} bytes long; at most {max_bytes} are allowed")
    return value


def path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the operating system cannot open `path` whatever the files are, or None."""
    text = os.fspath(path)
    if "\0" in text:
        return "the path contains a NUL character (U+0000)"
    try:
        data = os.fsencode(text)
    except UnicodeEncodeError:
        return "the path is not valid text (it holds a lone surrogate)"
    if len(data) > PATH_MAX_BYTES:
        return f"the path is {len(data)} bytes long; at most {PATH_MAX_BYTES} are allowed"
    longest = max((len(part) for part in data.split(b"/")), default=0)
    if longest > NAME_MAX_BYTES:
        return f"a file name in the path is {longest} bytes long; at most {NAME_MAX_BYTES} are allowed"
    return None


def check_element_name(value: str, what: str) -> str:
    """A GStreamer element name: it is written into a pipeline description, so nothing else."""
    if not _ELEMENT_NAME.match(value):
        raise ValueError(
            f"{what} {quoted(value)} must be a GStreamer element name (1-64 letters, digits, '_', '-', '.', '+')"
        )
    return value


def check_host(value: str) -> str:
    """A host name or IP address (not a URL), as the resolver takes it."""
    if "://" in value or "/" in value:
        raise ValueError(f"{quoted(value)} is a URL or path; give only the host name or address")
    if not value or len(value) > HOST_MAX_CHARS or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(f"host {quoted(value)} must be 1-{HOST_MAX_CHARS} printable characters without spaces")
    if ":" not in value:  # an IPv6 address has no labels to check
        try:
            value.encode("idna")
        except UnicodeError:
            raise ValueError(f"host {quoted(value)} is not a valid host name (empty or over-long label)") from None
    return value
