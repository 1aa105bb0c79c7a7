"""Commands on `{prefix}/{device_id}/commands`: their models and parser, the camera changes
they make (kept in the state directory), the replies kept by id, and the worker that runs them."""

from jetsentry.commands.camera_commands import CameraCommands, CommandFailed
from jetsentry.commands.camera_state import CameraState, with_camera_changes
from jetsentry.commands.parser import Parsed, Refused, parse_command
from jetsentry.commands.replies import ReplyTable
from jetsentry.commands.worker import CommandWorker

__all__ = ["CameraCommands", "CameraState", "CommandFailed", "CommandWorker", "Parsed", "Refused", "ReplyTable",
           "parse_command", "with_camera_changes"]
