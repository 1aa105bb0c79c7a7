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

from jetsentry.config.files import SECRET_MAX_BYTES, UnreadableFile, display_path, read_regular_file
from jetsentry.config.limits import quoted


class SecretRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    file: Path | None = None
    credential: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "SecretRef":
        if (self.file is None) == (self.credential is None):
            raise ValueError("give exactly one of 'file' or 'credential'")
        name = self.credential
        if name is not None and ("/" in name or "\0" in name or name in ("", ".", "..") or len(name) > 255):
            raise ValueError(f"credential name {quoted(name)} must be a plain file name")
        return self

    def location(self) -> Path:
        """The file this names: `file`, or `credential` inside $CREDENTIALS_DIRECTORY."""
        if self.file is not None:
            return self.file
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ValueError(f"credential {quoted(self.credential)} requested but $CREDENTIALS_DIRECTORY is not set")
        return Path(directory) / self.credential

    def read(self) -> SecretStr:
        path = self.location()
        try:
            data = read_regular_file(path, max_bytes=SECRET_MAX_BYTES)
        except UnreadableFile as exc:
            raise ValueError(f"cannot read secret from {display_path(path)}: {exc}") from None
        try:
            return SecretStr(data.decode("utf-8").rstrip("\r\n"))
        except UnicodeDecodeError:
            raise ValueError(f"secret file {display_path(path)} is not UTF-8 text") from None


def resolve_secret(value: Any) -> Any:
    """Field validator body: turn a {file:..}/{credential:..} mapping into a SecretStr."""
    if isinstance(value, dict):
        return SecretRef.model_validate(value).read()
    if isinstance(value, (bool, int, float)):
        # YAML read an unquoted 1234, 0o17 or yes as a number or boolean: its text is lost.
        raise ValueError("is a YAML number or boolean, not text: put the secret in quotes")
    return value
