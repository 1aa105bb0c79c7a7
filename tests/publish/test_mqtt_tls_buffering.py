"""The publisher's own loop reads what TLS has decrypted but select() cannot see.

A scripted TLS peer, not Mosquitto: the condition needs several MQTT packets in one TLS
record, which no broker produces on request.  The peer answers CONNECT, waits for the
two QoS 1 publishes (status, one detection), then sends PINGRESP, PUBACK 1 and PUBACK 2
in one record and falls silent.  paho's loop_read takes as many packets as it has
messages in flight (two), so PUBACK 2 stays in the SSL buffer with nothing left on the
socket: a loop that only selects would wait for the next keepalive.
"""

from __future__ import annotations

import socket
import ssl
import threading

from jetsentry.publish import detections_topic
from tests.publish.messages import sample_message
from tests.support.broker import wait_until
from tests.support.certs import CertificateAuthority

CONNACK = bytes([0x20, 0x02, 0x00, 0x00])
ONE_RECORD = bytes([0xD0, 0x00]) + bytes([0x40, 0x02, 0x00, 0x01]) + bytes([0x40, 0x02, 0x00, 0x02])


def _read_packet(conn: ssl.SSLSocket) -> tuple[int, bytes]:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = conn.recv(count - len(data))
            if not chunk:
                raise ConnectionError("peer closed")
            data += chunk
        return data

    kind = exactly(1)[0] >> 4
    length, shift = 0, 0
    while True:
        byte = exactly(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return kind, exactly(length)


class ScriptedPeer:
    def __init__(self, context: ssl.SSLContext):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._context = context
        self.sent_record = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        raw, _ = self._listener.accept()
        with self._context.wrap_socket(raw, server_side=True) as conn:
            assert _read_packet(conn)[0] == 1  # CONNECT
            conn.sendall(CONNACK)
            publishes = 0
            while publishes < 2:
                publishes += _read_packet(conn)[0] == 3
            conn.sendall(ONE_RECORD)
            self.sent_record.set()
            self._done.wait(30)

    def close(self) -> None:
        self._done.set()
        self._listener.close()
        self._thread.join(5)


def test_acknowledgements_buffered_inside_tls_are_read(tmp_path, publishers):
    ca = CertificateAuthority(tmp_path)
    server = ca.issue("broker", server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.cert_file, server.key_file)
    peer = ScriptedPeer(context)
    try:
        publisher = publishers(peer.port, keepalive_s=30, tls={"ca_file": str(ca.cert_file)})
        publisher.publish(detections_topic("jetsentry", "dev1", "cam1"), sample_message())
        wait_until(peer.sent_record.is_set, 10, "the peer's one record of three packets")
        wait_until(lambda: publisher.sent == 1, 5, "PUBACK 2, left in the SSL buffer, to be read")
    finally:
        peer.close()
