"""jetsentry: edge video analytics. capture -> batch -> infer -> track -> publish."""

__version__ = "0.1.0"
