"""batch stage: frames from many cameras -> inference batches."""

from jetsentry.batch.batcher import FrameBatcher

__all__ = ["FrameBatcher"]
