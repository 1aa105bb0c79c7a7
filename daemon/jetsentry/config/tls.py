"""mqtt.tls: the broker's CA, the client certificate and key, and what can be checked before connecting.

Each file field is a path, {file: PATH} or {credential: NAME} (a systemd credential in
$CREDENTIALS_DIRECTORY).  The checks here run when the config loads (`jetsentry
check-config`, daemon start) and again before every connection attempt, so a certificate
that expires while the daemon runs is named as expired, not as a failed handshake.  No
message quotes a file's contents: the key file is a secret.
"""

from __future__ import annotations

import datetime as dt
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from jetsentry.config.files import UnreadableFile, display_path, read_regular_file
from jetsentry.config.limits import check_host
from jetsentry.config.secrets import SecretRef

# A system CA bundle is about 200 KiB; a client certificate or key a few KiB.
PEM_MAX_BYTES = 4 << 20
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL)


def _file_location(value: Any) -> Any:
    """{file: PATH} or {credential: NAME} -> the Path it names; a plain path stays as it is."""
    if isinstance(value, dict):
        return SecretRef.model_validate(value).location()
    return value


PemPath = Annotated[Path, BeforeValidator(_file_location)]


class TlsProblem(ValueError):
    """A TLS file cannot be used; the message names the field, the file and the cause."""


class TlsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    ca_file: PemPath | None = Field(
        None,
        description="PEM CA certificates that sign the broker's certificate; null: the system's CAs. "
        "A path, {file: PATH} or {credential: NAME}.",
    )
    cert_file: PemPath | None = Field(
        None, description="PEM client certificate for mutual TLS (may hold the key too); null: no client certificate."
    )
    key_file: PemPath | None = Field(
        None, description="Unencrypted PEM private key of cert_file; null: the key is in cert_file."
    )
    server_name: str | None = Field(
        None,
        description="Name the broker's certificate must hold, also sent as SNI; null: mqtt.host. For a broker "
        "reached by an address its certificate does not name.",
    )

    @field_validator("server_name")
    @classmethod
    def _server_name(cls, value: str | None) -> str | None:
        return value if value is None else check_host(value)

    @model_validator(mode="after")
    def _files_usable(self) -> "TlsConfig":
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file is set without cert_file: give the client certificate it belongs to")
        try:
            check_tls_files(self)
        except TlsProblem as exc:  # the error's location already says mqtt.tls
            raise ValueError(str(exc).removeprefix("mqtt.tls.")) from None
        return self


@dataclass(frozen=True)
class _Cert:
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime
    public_key_der: bytes


def _read(path: Path, field: str) -> bytes:
    try:
        return read_regular_file(path, max_bytes=PEM_MAX_BYTES)
    except UnreadableFile as exc:
        raise TlsProblem(f"{field} {display_path(path)} cannot be read: {exc}") from None


def _utc(cert: Any, name: str) -> dt.datetime:
    value = getattr(cert, f"{name}_utc", None)  # cryptography >= 42; the naive field is UTC before
    if value is None:
        value = getattr(cert, name).replace(tzinfo=dt.timezone.utc)
    return value


def _certificates(data: bytes, path: Path, field: str) -> list[_Cert]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    certs = []
    for block in _PEM_CERT.findall(data):
        try:
            cert = x509.load_pem_x509_certificate(block)
        except ValueError:
            raise TlsProblem(f"{field} {display_path(path)} holds a certificate that cannot be parsed") from None
        der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        certs.append(_Cert(cert.subject.rfc4514_string(), _utc(cert, "not_valid_before"),
                           _utc(cert, "not_valid_after"), der))
    if not certs:
        raise TlsProblem(f"{field} {display_path(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return certs


def _check_validity(cert: _Cert, path: Path, field: str, now: dt.datetime) -> None:
    if now > cert.not_after:
        raise TlsProblem(f"{field} {display_path(path)}: the certificate {cert.subject!r} expired on "
                         f"{cert.not_after:%Y-%m-%d %H:%M} UTC")
    if now < cert.not_before:
        raise TlsProblem(f"{field} {display_path(path)}: the certificate {cert.subject!r} is not valid before "
                         f"{cert.not_before:%Y-%m-%d %H:%M} UTC (check the clock)")


def _private_key_der(data: bytes, path: Path, field: str, *, required: bool) -> bytes | None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

    if b"PRIVATE KEY-----" not in data:
        if required:
            raise TlsProblem(f"{field} {display_path(path)} holds no PEM private key")
        return None
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:
        raise TlsProblem(f"{field} {display_path(path)} is an encrypted key; give an unencrypted one (protect it "
                         "with file permissions or a systemd credential)") from None
    except ValueError:
        raise TlsProblem(f"{field} {display_path(path)} holds a private key that cannot be parsed") from None
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def check_tls_files(tls: TlsConfig, now: dt.datetime | None = None) -> None:
    """TlsProblem for what would make every handshake fail: an unreadable or unparsable file,
    an expired or not yet valid certificate, a key that does not match its certificate."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if tls.ca_file is not None:
        for cert in _certificates(_read(tls.ca_file, "mqtt.tls.ca_file"), tls.ca_file, "mqtt.tls.ca_file"):
            _check_validity(cert, tls.ca_file, "mqtt.tls.ca_file", now)
    if tls.cert_file is None:
        return
    cert_data = _read(tls.cert_file, "mqtt.tls.cert_file")
    leaf = _certificates(cert_data, tls.cert_file, "mqtt.tls.cert_file")[0]
    _check_validity(leaf, tls.cert_file, "mqtt.tls.cert_file", now)
    if tls.key_file is not None:
        key = _private_key_der(_read(tls.key_file, "mqtt.tls.key_file"), tls.key_file, "mqtt.tls.key_file",
                               required=True)
        key_where = f"mqtt.tls.key_file {display_path(tls.key_file)}"
    else:
        key = _private_key_der(cert_data, tls.cert_file, "mqtt.tls.cert_file", required=False)
        if key is None:
            raise TlsProblem(f"mqtt.tls.cert_file {display_path(tls.cert_file)} holds no private key: set "
                             "mqtt.tls.key_file")
        key_where = "the key in mqtt.tls.cert_file"
    if key != leaf.public_key_der:
        raise TlsProblem(f"{key_where} does not belong to the certificate {leaf.subject!r} in mqtt.tls.cert_file "
                         f"{display_path(tls.cert_file)}")


def client_context(tls: TlsConfig) -> ssl.SSLContext:
    """A client context: TLS 1.2 or newer, the broker's certificate verified against ca_file (or the
    system's CAs) and its name checked, the client certificate loaded; TlsProblem if a file is unusable."""
    check_tls_files(tls)
    context = ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.server_name = tls.server_name
    try:
        if tls.ca_file is not None:
            context.load_verify_locations(cafile=str(tls.ca_file))
        else:
            context.load_default_certs()
        if tls.cert_file is not None:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    except (ssl.SSLError, OSError) as exc:  # files changed since the checks above
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise TlsProblem(f"the TLS files cannot be loaded: {reason}") from None
    return context


class ServerNameContext(ssl.SSLContext):
    """An SSLContext that checks for, and sends as SNI, `server_name` instead of the name
    the caller connects to (paho passes its host), when one is set."""

    server_name: str | None = None

    def wrap_socket(self, sock, *args: Any, server_hostname: str | None = None, **kwargs: Any):  # type: ignore[override]
        return super().wrap_socket(sock, *args, server_hostname=self.server_name or server_hostname, **kwargs)
