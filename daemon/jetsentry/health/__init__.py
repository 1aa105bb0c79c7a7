"""health: what the daemon reports about itself.

`state` holds the one health state (ok / degraded / failing, with reasons) that everything
watching the daemon reads; `snapshot` feeds it from the stages and publishes it; `message`
is the retained MQTT health message; `failures` logs repeated failures without flooding.
"""

from jetsentry.health.failures import RepeatedFailureLog, exception_summary
from jetsentry.health.snapshot import HealthReporter, ServiceCounters
from jetsentry.health.state import CameraFacts, Health, HealthChange, HealthState, HealthStatus, Reason, StageFacts

__all__ = [
    "CameraFacts",
    "Health",
    "HealthChange",
    "HealthReporter",
    "HealthState",
    "HealthStatus",
    "Reason",
    "RepeatedFailureLog",
    "ServiceCounters",
    "StageFacts",
    "exception_summary",
]
