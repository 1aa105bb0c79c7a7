"""The command worker as the daemon builds it: subscribed on the daemon's publisher, replying and
reporting through it, changing the daemon's camera set."""

from __future__ import annotations

from functools import partial

from jetsentry.commands.camera_commands import CameraCommands
from jetsentry.commands.camera_state import CameraState
from jetsentry.commands.replies import ReplyTable
from jetsentry.commands.worker import CommandWorker
from jetsentry.publish.topics import device_topic, events_topic, snapshot_topic


def build_command_worker(service, camera_state: CameraState) -> CommandWorker:
    """`service`: the daemon (service.py), its publisher not started yet."""
    cfg = service.cfg
    prefix, device_id = cfg.mqtt.topic_prefix, cfg.device_id
    publisher = service.publisher
    events = events_topic(prefix, device_id)

    def publish(topic: str, payload: bytes) -> None:
        publisher.publish(topic, payload, qos=1)

    cameras = CameraCommands(service.cameras, camera_state, device_id=device_id,
                             publish_event=partial(publish, events))
    worker = CommandWorker(
        cfg.commands, device_id=device_id, cameras=cameras, snapshots=service.snapshots, status=service.status,
        replies=ReplyTable(cfg.state_dir, cfg.commands.remembered_ids), publish=publish,
        result_topic=device_topic(prefix, device_id, "commands/result"),
        snapshot_topic=partial(snapshot_topic, prefix, device_id),
    )
    publisher.subscribe(device_topic(prefix, device_id, "commands"), worker.submit, qos=1)
    return worker
