"""health: what the daemon reports about itself (per-camera state, throughput, broker link)."""

from jetsentry.health.snapshot import HealthReporter, ServiceCounters

__all__ = ["HealthReporter", "ServiceCounters"]
