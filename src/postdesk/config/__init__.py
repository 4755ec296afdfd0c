"""Configuration: the settings model, its defaults, and loading (TOML file + POSTDESK_* env)."""

from postdesk.config.load import ConfigError, load_settings
from postdesk.config.model import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
