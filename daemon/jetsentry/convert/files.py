"""What every conversion shares: its error, metadata stamping, writing the file whole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import onnx


class ConversionError(ValueError):
    """The model cannot be converted as asked (the message says why)."""


def stamp_metadata(model: onnx.ModelProto, entries: dict[str, str]) -> None:
    """Set these metadata_props, replacing earlier values of the same keys."""
    kept = [(p.key, p.value) for p in model.metadata_props if p.key not in entries]
    del model.metadata_props[:]
    for key, value in [*kept, *entries.items()]:
        model.metadata_props.add(key=key, value=value)


def save_atomically(model: onnx.ModelProto, out: Path) -> None:
    """Write ``out`` whole or not at all (a temporary file in the same folder, then renamed)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)  # as open() would create it; mkstemp makes it private
        onnx.save(model, temporary)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
