"""MQTT names: topic prefix, topic levels, client id, user name and password.

One set of rules for the config models and for publish/topics.py, which takes plain
strings.  From MQTT 3.1.1 section 1.5.3 and MQTT 5 section 1.5.4: strings are well-formed
UTF-8 of at most 65535 bytes without U+0000; control characters and Unicode
noncharacters are ones a broker may treat as a malformed packet, so they are refused
too.  Topic names for publishing hold no wildcards ('+', '#'), and names beginning with
'$' are the broker's ($SYS).
"""

from __future__ import annotations

import re

from jetsentry.config.limits import check_text, quoted

MQTT_STRING_MAX_BYTES = 65_535
ID_MAX_CHARS = 64  # device and camera ids (config/models.py)
# The longest topic after the prefix: /<device_id>/<camera_id>/detections.
_LONGEST_SUFFIX = 1 + ID_MAX_CHARS + 1 + ID_MAX_CHARS + len("/detections")
TOPIC_PREFIX_MAX_BYTES = MQTT_STRING_MAX_BYTES - _LONGEST_SUFFIX
# U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARACTER = re.compile(
    "[\ufdd0-\ufdef" + "".join(chr(plane | 0xFFFE) + chr(plane | 0xFFFF) for plane in range(0, 0x110000, 0x10000)) + "]"
)


def check_mqtt_text(value: str, what: str, *, max_bytes: int = MQTT_STRING_MAX_BYTES) -> str:
    """An MQTT UTF-8 string (never quoted in the message: it may be a user name)."""
    check_text(value, what, max_bytes=max_bytes)
    found = _NONCHARACTER.search(value)
    if found:
        raise ValueError(f"{what} contains the Unicode noncharacter U+{ord(found.group()):04X}")
    return value


def check_topic_prefix(prefix: str) -> str:
    """The first levels of every topic: no wildcards, not empty, no '/' at either end, no '$' first."""
    if not prefix or any(c in prefix for c in "+#") or prefix.startswith(("/", "$")) or prefix.endswith("/"):
        raise ValueError(
            f"topic prefix {quoted(prefix)} must be non-empty, without '+' or '#', and must not start with "
            "'/' or '$' or end with '/'"
        )
    return check_mqtt_text(prefix, "topic prefix", max_bytes=TOPIC_PREFIX_MAX_BYTES)


def check_topic_level(value: str, what: str) -> str:
    """One topic level: non-empty, free of separators and wildcards."""
    if not value or any(c in value for c in "/+#"):
        raise ValueError(f"{what} {quoted(value)} cannot be an MQTT topic level (empty, or contains '/', '+', '#')")
    return check_mqtt_text(value, what)


def check_topic(topic: str) -> str:
    """A whole topic name: at most 65535 bytes."""
    return check_mqtt_text(topic, "topic")


def check_client_id(client_id: str) -> str:
    """Any MQTT string.  Brokers must accept 1-23 letters and digits; Mosquitto and most
    others accept any string, and an empty one with a clean session (jetsentry's)."""
    return check_mqtt_text(client_id, "client id")
