"""Secrets given in config as a literal, a file, or a systemd credential.

A secret field accepts either a plain string or a mapping {file: PATH} or
{credential: NAME}; credentials are read from $CREDENTIALS_DIRECTORY (systemd's
LoadCredential=).  Resolved values are pydantic SecretStr, so they never show in
repr(), logs or dumped config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator


class SecretRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path | None = None
    credential: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "SecretRef":
        if (self.file is None) == (self.credential is None):
            raise ValueError("give exactly one of 'file' or 'credential'")
        if self.credential is not None and ("/" in self.credential or self.credential in ("", ".", "..")):
            raise ValueError(f"credential name {self.credential!r} must be a plain file name")
        return self

    def read(self) -> SecretStr:
        if self.file is not None:
            path = self.file
        else:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ValueError(
                    f"credential {self.credential!r} requested but $CREDENTIALS_DIRECTORY is not set"
                )
            path = Path(directory) / self.credential
        try:
            return SecretStr(path.read_text(encoding="utf-8").rstrip("\r\n"))
        except OSError as exc:
            raise ValueError(f"cannot read secret from {path}: {exc.strerror}") from exc


def resolve_secret(value: Any) -> Any:
    """Field validator body: turn a {file:..}/{credential:..} mapping into a SecretStr."""
    if isinstance(value, dict):
        return SecretRef.model_validate(value).read()
    return value
