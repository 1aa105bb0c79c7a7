"""Configuration: pydantic models, YAML loading, environment overrides, secrets."""

from jetsentry.config.errors import ConfigError, report_config_error
from jetsentry.config.loader import load_config, parse_config, validate_section
from jetsentry.config.models import AppConfig

__all__ = ["AppConfig", "ConfigError", "load_config", "parse_config", "report_config_error", "validate_section"]
