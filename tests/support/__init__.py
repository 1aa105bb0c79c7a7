"""Helpers shared by the tests (real components: brokers, subscribers)."""
