"""The `metrics:` section: the Prometheus endpoint and `jetsentry status`'s source."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jetsentry.config.limits import quoted

# Outside the Prometheus exporter allocation range (9100-9999, every port taken since 2023; new
# allocations continue above 10000), not 9464 (OpenTelemetry's Prometheus exporter), and below
# Linux's ephemeral range (32768-60999), so an outgoing connection never holds it.
DEFAULT_PORT = 29100
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"

_FORMS = "HOST:PORT with an IP address, e.g. 127.0.0.1:29100, [::1]:29100, or 0.0.0.0:29100 for every interface"


def parse_listen(text: str) -> tuple[str, int]:
    """(IP address, port) of a `HOST:PORT` listen address; ValueError naming the problem."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"{quoted(text)} is not {_FORMS}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if ":" not in host:
            raise ValueError(f"{quoted(text)}: brackets are for IPv6 addresses only ({_FORMS})")
    elif ":" in host:
        raise ValueError(f"{quoted(text)}: write an IPv6 address in brackets, e.g. [::1]:{DEFAULT_PORT}")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{quoted(text)}: {quoted(host)} is not an IP address ({_FORMS})") from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{quoted(text)}: the port must be a number from 1 to 65535")
    return str(address), int(port_text)


def connect_host(host: str) -> str:
    """Where a local client reaches a server listening on `host`: the loopback address for a
    wildcard (0.0.0.0, ::), the address itself otherwise."""
    address = ipaddress.ip_address(host)
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return host


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)  # as StrictModel

    enabled: bool = Field(
        True,
        description="Serve Prometheus metrics on /metrics and the daemon's status on /status.json "
        "(read by `jetsentry status`).",
    )
    listen: str = Field(
        DEFAULT_LISTEN,
        description="HOST:PORT the HTTP server listens on, with an IP address; loopback by default. "
        "0.0.0.0 or [::] serve every interface (no authentication: firewall it).",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value.strip()

    @property
    def address(self) -> tuple[str, int]:
        return parse_listen(self.listen)
