"""Scraping a metrics server over real HTTP, parsed by prometheus_client's own text parser."""

from __future__ import annotations

import json
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(address: tuple[str, int]) -> dict[str, dict[tuple, float]]:
    """family name -> {(sample name, sorted labels): value}."""
    host, port = address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    families: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        samples = families.setdefault(family.name, {})
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families


def value(families: dict, family: str, sample: str | None = None, **labels: str) -> float:
    return families[family][(sample or family, tuple(sorted(labels.items())))]


def status(address: tuple[str, int]) -> dict:
    host, port = address
    with urllib.request.urlopen(f"http://{host}:{port}/status.json", timeout=10) as reply:
        return json.loads(reply.read())
