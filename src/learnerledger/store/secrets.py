"""Secrets at rest: tokens and API keys are stored encrypted (Fernet: AES-128-CBC + HMAC).

The key comes from ``LEARNERLEDGER_SECRET_KEY`` when set (a Fernet key, for deployments that
keep keys in their secret manager), otherwise from ``HOME/secret.key``, created on first use
with owner-only permissions. Losing the key means reconnecting: the secrets cannot be read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from learnerledger.errors import StoreError

__all__ = ["SECRET_KEY_ENV", "SecretBox", "load_secret_box"]

SECRET_KEY_ENV = "LEARNERLEDGER_SECRET_KEY"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise StoreError(
                "The encryption key is not a valid Fernet key.",
                fix=f"Set {SECRET_KEY_ENV} to a key made by `python -c 'from cryptography.fernet "
                "import Fernet; print(Fernet.generate_key().decode())'`.",
            ) from None

    def seal(self, value: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode("utf-8"))

    def open(self, sealed: bytes) -> dict[str, Any]:
        try:
            data = json.loads(self._fernet.decrypt(sealed))
        except InvalidToken:
            raise StoreError(
                "A stored secret cannot be decrypted with the current key.",
                fix=f"Restore the key (HOME/secret.key or {SECRET_KEY_ENV}) or connect again.",
            ) from None
        if not isinstance(data, dict):
            raise StoreError("A stored secret is damaged.", fix="Connect again.")
        return data


def load_secret_box(home: Path, environ: dict[str, str] | None = None) -> SecretBox:
    env = os.environ if environ is None else environ
    if env.get(SECRET_KEY_ENV):
        return SecretBox(env[SECRET_KEY_ENV].encode("ascii"))
    path = home / "secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    return SecretBox(path.read_bytes().strip())
