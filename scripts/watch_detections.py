"""Print one line per detections, health or status message arriving on the broker (used by scripts/demo.sh).

    python scripts/watch_detections.py [--host H] [--port P] [--count N]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys

import paho.mqtt.client as mqtt


def summarise(topic: str, payload: bytes) -> str:
    if topic.endswith("/status"):
        return f"{topic}: {payload.decode(errors='replace')}"
    try:
        msg = json.loads(payload)
    except ValueError:
        return f"{topic}: (not JSON, {len(payload)} bytes)"
    if topic.endswith("/health"):
        reasons = "; ".join(msg.get("reasons", [])) or "no faults"
        return f"{topic}: {msg.get('state')} ({reasons})"
    labels = collections.Counter(d["label"] for d in msg.get("detections", []))
    what = ", ".join(f"{n} {label}" for label, n in labels.most_common()) or "nothing"
    tracks = sorted({d["track_id"] for d in msg.get("detections", []) if d.get("track_id") is not None})
    total = msg.get("latency_ms", {}).get("total", 0.0)
    return (f"{msg.get('camera_id')} seq={msg.get('seq')} {msg.get('capture_ts')}: {what}; "
            f"tracks {tracks[:8]}{'...' if len(tracks) > 8 else ''}; {total:.0f} ms capture->message")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic", default="jetsentry/#")
    parser.add_argument("--count", type=int, default=0, help="stop after this many messages (0: never)")
    args = parser.parse_args()
    seen = 0

    def on_connect(client, _userdata, _flags, reason, _props):
        if reason.is_failure:
            print(f"broker refused: {reason}", file=sys.stderr)
        else:
            client.subscribe(args.topic, qos=1)

    def on_message(client, _userdata, message):
        nonlocal seen
        print(summarise(message.topic, message.payload), flush=True)
        seen += 1
        if args.count and seen >= args.count:
            client.disconnect()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(args.host, args.port)
    try:
        client.loop_forever(retry_first_connection=True)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
