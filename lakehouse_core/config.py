"""Environments are data: `conf/<env>.yml` resolved against a lakehouse root."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse_core.errors import ConfigError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
_ENV_NAME = re.compile(r"^[A-Za-z0-9_.-]+\Z")


def conf_dir() -> Path:
    """Where `conf/` lives: LAKEHOUSE_CONF_DIR, else ./conf, else the copy inside the installed wheel."""
    explicit = os.environ.get("LAKEHOUSE_CONF_DIR")
    if explicit:
        return Path(explicit)
    local = Path.cwd() / "conf"
    if (local / "pipeline.yml").is_file():
        return local
    packaged = Path(__file__).resolve().parent / "conf"  # inside an installed wheel
    if (packaged / "pipeline.yml").is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "conf"  # an editable install: the checkout's conf/


def valid_identifier(name: str, what: str = "identifier") -> str:
    """Return `name` if it is a safe SQL identifier; configuration never reaches SQL unchecked."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(f"invalid {what} {name!r}: expected letters, digits and underscores")
    return name


def whole_number(value: Any, name: str, least: int) -> int:
    """A whole-number setting of at least `least` (true and false are not numbers here); else ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} must be a whole number of at least {least}, got {value!r}")
    return value


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


@dataclass(frozen=True)
class Config:
    """One environment, with every `{root}` placeholder resolved."""

    env: str
    root: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def local(self) -> bool:
        return self.raw.get("spark", {}).get("mode", "local") == "local"

    def path(self, name: str) -> str:
        try:
            return self.raw["paths"][name]
        except KeyError:
            raise ConfigError(f"conf/{self.env}.yml has no paths.{name}") from None

    def database(self, layer: str) -> str:
        try:
            return self.raw["databases"][layer]
        except KeyError:
            raise ConfigError(f"conf/{self.env}.yml has no databases.{layer}") from None

    def section(self, name: str) -> dict[str, Any]:
        return self.raw.get(name) or {}

    @property
    def spark(self) -> dict[str, Any]:
        return self.section("spark")


def _substitute(value: Any, root: str) -> Any:
    if isinstance(value, str):
        return value.replace("{root}", root)
    if isinstance(value, dict):
        return {k: _substitute(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, root) for v in value]
    return value


def load_config(env: str = "local", root: str | None = None) -> Config:
    """Load `conf/<env>.yml`; `root` (or LAKEHOUSE_ROOT) overrides the file's root."""
    if not _ENV_NAME.match(env or ""):
        raise ConfigError(f"invalid --env {env!r}")
    path = conf_dir() / f"{env}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in conf_dir().glob("*.yml") if p.stem != "pipeline")
        raise ConfigError(f"unknown --env {env!r}: no {path} (known: {', '.join(known)})")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping")
    root = root or os.environ.get("LAKEHOUSE_ROOT") or raw.get("root") or "./lakehouse"
    if not is_remote(root):
        root = str(Path(root).expanduser().resolve())
    raw = _substitute(raw, root)
    for layer, name in (raw.get("databases") or {}).items():
        valid_identifier(name, f"database name for {layer}")
    return Config(env=env, root=root, raw=raw)


def ensure_local_root(cfg: Config) -> None:
    """Create the local root (or fail with a clear reason if it cannot be written)."""
    if is_remote(cfg.root):
        return
    root = Path(cfg.root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --root {root}: {exc.strerror}") from None
    if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"--root {root} is not readable and writable")
