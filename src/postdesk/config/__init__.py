"""Configuration: the settings model, its defaults, and loading (TOML file + POSTDESK_* env).

The model is imported on first use, not with the package: `postdesk
mailgate` reads its few keys through `config.pipe` without pydantic.
"""

from typing import TYPE_CHECKING, Any

from postdesk.config.load import ConfigError, load_settings

if TYPE_CHECKING:
    from postdesk.config.model import Settings


def __getattr__(name: str) -> Any:
    if name == "Settings":
        from postdesk.config.model import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ConfigError", "Settings", "load_settings"]
