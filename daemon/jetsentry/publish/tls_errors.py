"""TLS failures explained: what went wrong in the handshake with the broker, and what to change.

A failed verification of the broker's certificate is raised by the handshake itself
(ssl.SSLCertVerificationError, with OpenSSL's verify code).  The broker's refusal of the
client's certificate reaches the client as a TLS alert, with TLS 1.3 only on the first read
after the handshake, so paho reports it as a failed receive; describe_alert() reads the
OpenSSL reason out of that text.
"""

from __future__ import annotations

import re
import ssl

# OpenSSL X509_V_ERR_* codes (x509_vfy.h) for what a client can get wrong about a broker.
_VERIFY_HINTS = {
    9: "the broker's certificate is not valid yet (check this device's clock)",
    10: "the broker's certificate has expired",
    18: "the broker's certificate is self-signed and not in mqtt.tls.ca_file",
    19: "the broker's certificate is not signed by a CA in mqtt.tls.ca_file (unknown CA)",
    20: "the broker's certificate is not signed by a CA in mqtt.tls.ca_file (unknown CA)",
    21: "the broker's certificate is not signed by a CA in mqtt.tls.ca_file (unknown CA)",
    62: "the broker's certificate does not name the host connected to (wrong hostname; set mqtt.tls.server_name "
        "if the broker is reached by another name)",
    64: "the broker's certificate does not name the address connected to (wrong hostname; set "
        "mqtt.tls.server_name if the broker is reached by another name)",
}

# OpenSSL reason codes of alerts and handshake errors.
_REASON_HINTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the broker requires a client certificate: set mqtt.tls.cert_file and "
                                         "mqtt.tls.key_file",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the broker refused the handshake (a client certificate may be required: "
                                     "mqtt.tls.cert_file)",
    "TLSV1_ALERT_UNKNOWN_CA": "the broker does not trust the CA that signed mqtt.tls.cert_file",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the broker rejected the client certificate in mqtt.tls.cert_file",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the broker says the client certificate in mqtt.tls.cert_file has expired",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "the broker says the client certificate in mqtt.tls.cert_file is revoked",
    "TLSV1_ALERT_ACCESS_DENIED": "the broker denied access to the client certificate in mqtt.tls.cert_file",
    "TLSV1_ALERT_PROTOCOL_VERSION": "the broker offers only TLS older than 1.2, which jetsentry refuses",
    "UNSUPPORTED_PROTOCOL": "the broker offers only TLS older than 1.2, which jetsentry refuses",
    "WRONG_VERSION_NUMBER": "the broker does not speak TLS on this port (a plain MQTT port?)",
}
_REASON = re.compile(r"\[SSL: ([A-Z0-9_]+)\]")


def describe_tls_error(exc: OSError) -> str | None:
    """A sentence for a TLS failure raised while connecting; None if `exc` is not one."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = _VERIFY_HINTS.get(exc.verify_code)
        detail = exc.verify_message or exc.reason or "verification failed"
        return f"{hint} ({detail})" if hint else f"the broker's certificate failed verification: {detail}"
    if isinstance(exc, ssl.SSLEOFError):
        return "the broker closed the connection during the TLS handshake"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        hint = _REASON_HINTS.get(reason)
        return hint or f"the TLS handshake failed: {reason or exc}"
    return None


def describe_alert(text: str) -> str | None:
    """A sentence for a TLS alert named in an error text such as paho's 'failed to receive on
    socket: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] ...'; None if it names none."""
    found = _REASON.search(text)
    if not found:
        return None
    return _REASON_HINTS.get(found.group(1), f"the TLS connection failed: {found.group(1).lower()}")
