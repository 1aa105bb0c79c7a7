"""mqtt.tls: what check-config can tell before any connection, each named with its field and cause."""

from __future__ import annotations

import datetime as dt

import pytest

from jetsentry.config.tls import TlsConfig, TlsProblem, check_tls_files
from tests.config.test_config_input import GOOD, problems_of, run_cli, write
from tests.support.certs import CertificateAuthority


@pytest.fixture
def ca(tmp_path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path / "pki")


def _config(tmp_path, **tls: str) -> str:
    lines = "".join(f"    {key}: {value}\n" for key, value in tls.items())
    return write(tmp_path, GOOD + "mqtt:\n  port: 8883\n  tls:\n" + (lines or "    {}\n"))


def test_a_good_mtls_config_loads(tmp_path, ca):
    client = ca.issue("dev")
    path = _config(tmp_path, ca_file=ca.cert_file, cert_file=client.cert_file, key_file=client.key_file)
    result = run_cli("check-config", str(path))
    assert result.returncode == 0, result.stderr


def test_empty_tls_uses_the_system_cas(tmp_path):
    from jetsentry.config import load_config

    cfg = load_config(_config(tmp_path), environ={})
    assert cfg.mqtt.tls == TlsConfig()


def test_key_that_does_not_match_its_certificate(tmp_path, ca):
    client, other = ca.issue("dev"), ca.issue("someone-else")
    key_text = other.key_file.read_text()
    path = _config(tmp_path, ca_file=ca.cert_file, cert_file=client.cert_file, key_file=other.key_file)
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    assert f"mqtt.tls: key_file {other.key_file} does not belong to the certificate 'CN=dev'" in result.stderr
    assert "Traceback" not in result.stderr
    key_body = key_text.splitlines()[1]
    assert key_body not in result.stderr + result.stdout  # the secret is never printed


def test_expired_client_certificate(tmp_path, ca):
    client = ca.issue("dev", expired=True)
    [problem] = problems_of(_config(tmp_path, ca_file=ca.cert_file, cert_file=client.cert_file,
                                    key_file=client.key_file))
    assert problem.startswith(f"mqtt.tls: cert_file {client.cert_file}: the certificate 'CN=dev' expired on ")


def test_certificate_not_yet_valid_names_the_clock(ca):
    client = ca.issue("dev")
    tls = TlsConfig.model_construct(ca_file=None, cert_file=client.cert_file, key_file=client.key_file)
    with pytest.raises(TlsProblem, match="is not valid before .* UTC \\(check the clock\\)"):
        check_tls_files(tls, now=dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc))


def test_expired_ca(ca):
    tls = TlsConfig.model_construct(ca_file=ca.cert_file, cert_file=None, key_file=None)
    with pytest.raises(TlsProblem, match="mqtt.tls.ca_file .*: the certificate 'CN=jetsentry test CA' expired on"):
        check_tls_files(tls, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365))


@pytest.mark.parametrize(("setup", "expected"), [
    ("missing_ca", "mqtt.tls: ca_file {tmp}/nowhere.crt cannot be read: No such file or directory"),
    ("ca_is_a_key", "mqtt.tls: ca_file {tmp}/pki/dev.key holds no PEM certificate"),
    ("encrypted_key", "mqtt.tls: key_file {tmp}/pki/locked.key is an encrypted key; give an unencrypted one"),
    ("key_without_cert", "key_file is set without cert_file"),
    ("cert_without_key", "mqtt.tls: cert_file {tmp}/pki/dev.crt holds no private key: set mqtt.tls.key_file"),
    ("missing_credential", "credential 'client.key' requested but $CREDENTIALS_DIRECTORY is not set"),
])
def test_unusable_files_are_named(tmp_path, ca, setup, expected):
    client = ca.issue("dev")
    locked = ca.issue("locked", key_password=b"hunter2")
    tls = {
        "missing_ca": {"ca_file": tmp_path / "nowhere.crt"},
        "ca_is_a_key": {"ca_file": client.key_file},
        "encrypted_key": {"cert_file": locked.cert_file, "key_file": locked.key_file},
        "key_without_cert": {"key_file": client.key_file},
        "cert_without_key": {"cert_file": client.cert_file},
        "missing_credential": {"cert_file": client.cert_file, "key_file": "{credential: client.key}"},
    }[setup]
    [problem] = problems_of(_config(tmp_path, **tls))
    assert expected.format(tmp=tmp_path) in problem


def test_key_inside_the_certificate_file(tmp_path, ca):
    from jetsentry.config import load_config

    client = ca.issue("dev")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(client.cert_file.read_bytes() + client.key_file.read_bytes())
    cfg = load_config(_config(tmp_path, cert_file=bundle), environ={})
    assert cfg.mqtt.tls.cert_file == bundle and cfg.mqtt.tls.key_file is None
