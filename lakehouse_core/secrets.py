"""The environment's secret key: from an environment variable, never from conf/ and never under the root."""

from __future__ import annotations

import base64
import os
import secrets as _secrets
from pathlib import Path

from lakehouse_core.config import Config
from lakehouse_core.errors import ConfigError


def secret_key(cfg: Config) -> str:
    """A 32-character key for AES-256 (aes_encrypt) and keyed hashes."""
    sec = cfg.section("secrets")
    env_name = sec.get("key_env", "LAKEHOUSE_SECRET_KEY")
    key = os.environ.get(env_name)
    if not key:
        if not sec.get("generate_local_key", False):
            raise ConfigError(f"environment variable {env_name} is not set (the lake's secret key)")
        key = _local_key()
    if len(key.encode()) not in (16, 24, 32):
        raise ConfigError(f"{env_name} must be 16, 24 or 32 bytes long")
    return key


def _local_key() -> str:
    """A key generated once per user for the embedded default, kept outside any lakehouse root."""
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "lakehouse"
    path = base / "secret.key"
    if not path.is_file():
        base.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(base64.b64encode(_secrets.token_bytes(24)).decode())
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()
