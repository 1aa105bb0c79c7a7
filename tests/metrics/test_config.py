"""metrics.listen: every accepted form and a clear error for each bad one."""

from __future__ import annotations

import pytest

from jetsentry.config import ConfigError
from jetsentry.config.loader import load_section
from jetsentry.config.metrics import DEFAULT_LISTEN, MetricsConfig, connect_host, parse_listen


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:29100", ("127.0.0.1", 29100)),
    (" 0.0.0.0:1 ", ("0.0.0.0", 1)),
    ("[::1]:65535", ("::1", 65535)),
    ("[::]:9000", ("::", 9000)),
])
def test_listen_addresses(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text, problem", [
    ("29100", "is not HOST:PORT"),
    (":29100", "is not HOST:PORT"),
    ("localhost:29100", "'localhost' is not an IP address"),
    ("::1:29100", "write an IPv6 address in brackets"),
    ("[127.0.0.1]:29100", "brackets are for IPv6"),
    ("127.0.0.1:0", "port must be a number from 1 to 65535"),
    ("127.0.0.1:70000", "port must be a number from 1 to 65535"),
    ("127.0.0.1:http", "port must be a number"),
    ("300.1.1.1:80", "'300.1.1.1' is not an IP address"),
])
def test_bad_listen_addresses_are_named(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_listen(text)


def test_default_is_loopback_and_enabled():
    config = MetricsConfig()
    assert config.enabled and config.listen == DEFAULT_LISTEN and config.address == ("127.0.0.1", 29100)


def test_a_wildcard_is_reached_over_loopback():
    assert connect_host("0.0.0.0") == "127.0.0.1" and connect_host("::") == "::1"
    assert connect_host("192.168.1.5") == "192.168.1.5"


def test_the_section_alone_is_read_with_its_environment_override(tmp_path):
    path = tmp_path / "cfg.yaml"
    # The rest of the file is not valid (no cameras, no model): only metrics is read.
    path.write_text("device_id: x\nmetrics:\n  listen: 127.0.0.1:4000\n  enabled: false\n")
    assert load_section(path, "metrics", MetricsConfig).address == ("127.0.0.1", 4000)
    override = load_section(path, "metrics", MetricsConfig, environ={"JETSENTRY__METRICS__LISTEN": "[::1]:5000"})
    assert override.address == ("::1", 5000) and not override.enabled
    path.write_text("metrics:\n  listen: nowhere\n  port: 3\n")
    with pytest.raises(ConfigError) as raised:
        load_section(path, "metrics", MetricsConfig)
    text = str(raised.value)
    assert "metrics.listen: 'nowhere' is not HOST:PORT" in text and "metrics.port: unknown key" in text
