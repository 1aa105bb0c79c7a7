"""Prometheus metrics and the daemon's status, served over HTTP (docs/METRICS.md)."""

from jetsentry.metrics.server import MetricsServer, NoMetrics, metrics_for
from jetsentry.metrics.sources import DaemonSources

__all__ = ["DaemonSources", "MetricsServer", "NoMetrics", "metrics_for"]
