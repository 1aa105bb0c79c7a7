"""Configuration: pydantic models, YAML loading, environment overrides, secrets."""

from jetsentry.config.loader import ConfigError, load_config, parse_config
from jetsentry.config.models import AppConfig

__all__ = ["AppConfig", "ConfigError", "load_config", "parse_config"]
