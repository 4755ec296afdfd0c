"""Loading settings: embedded defaults, then the TOML file, then POSTDESK_* env.

Environment overrides name a key by its path with double underscores:
``POSTDESK_STORE__URL``, ``POSTDESK_INGEST__SMTP__PORT``. Variables without a
double underscore (``POSTDESK_CONFIG`` and the like) are not settings.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The model (pydantic) is imported where it validates: `mailgate` reads the
# file through read_config alone (config/pipe.py).
if TYPE_CHECKING:
    from pydantic import ValidationError

    from postdesk.config.model import Settings

ENV_PREFIX = "POSTDESK_"


class ConfigError(Exception):
    """A config problem, worded as one line a user can act on."""


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """Read, merge and validate; raises ConfigError with one clear line per problem."""
    return validate(path, *read_config(path, environ))


def read_config(
    path: Path | None, environ: Mapping[str, str]
) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The file's tables with the environment's overrides set in, and those overrides."""
    data: dict[str, Any] = _read_toml(path) if path is not None else {}
    overrides = _env_overrides(environ)
    for keys, value in overrides.items():
        _set_path(data, keys, value)
    return data, overrides


def validate(path: Path | None, data: dict[str, Any], overrides: Mapping[tuple[str, ...], str]) -> Settings:
    """DATA (from read_config of PATH) as settings; raises ConfigError naming where each problem is."""
    from pydantic import ValidationError

    from postdesk.config.model import Settings

    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        source = str(path) if path is not None else "built-in defaults"
        raise ConfigError(_describe(error, source, overrides)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def _env_overrides(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    found: dict[tuple[str, ...], str] = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            keys = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
            if all(keys):
                found[keys] = value
    return found


def _set_path(data: dict[str, Any], keys: tuple[str, ...], value: str) -> None:
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{ENV_PREFIX}{'__'.join(keys).upper()}: '{key}' is not a section")
        node = child
    node[keys[-1]] = value


def _describe(error: ValidationError, source: str, overrides: Mapping[tuple[str, ...], str]) -> str:
    lines = []
    for problem in error.errors():
        location = tuple(str(part) for part in problem["loc"])
        # An item of a list is named by its key and index: "[spam] headers[0]", not "[spam.headers] 0".
        named = list(location)
        while len(named) > 1 and named[-1].isdigit():
            index = named.pop()
            named[-1] = f"{named[-1]}[{index}]"
        section, key = ".".join(named[:-1]), named[-1] if named else ""
        where = f"[{section}] {key}" if section else key
        origin = source
        if location in overrides:
            origin = f"{ENV_PREFIX}{'__'.join(location).upper()}"
        message = problem["msg"].removeprefix("Value error, ")
        if not location:
            # A check across sections: its message names the keys itself, and the input is the whole file.
            lines.append(f"{origin}: {message}")
        elif problem["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against the README's configuration reference)"
            lines.append(f"{origin}: {where}: {message}")
        else:
            got = repr(_redacted(problem.get("input")))
            # A whole table as the input says nothing the message does not (e.g. a list of rules).
            lines.append(f"{origin}: {where}: {message}" + (f" (got {got})" if len(got) <= 80 else ""))
    return "\n".join(lines)


def _redacted(value: Any) -> Any:
    """VALUE with every password and secret masked: an error message is printed and logged."""
    if isinstance(value, dict):
        return {key: "***" if _is_secret(key) and item else _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def _is_secret(key: Any) -> bool:
    return isinstance(key, str) and key != "password_file" and ("password" in key or key == "secret")
