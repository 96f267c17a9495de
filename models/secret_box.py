"""Symmetric encryption of small secret dicts (channel credentials) under the app's secret key."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class SecretBoxError(Exception):
    """A ciphertext that cannot be opened: wrong secret key, or corrupted data."""


class SecretBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) keyed by the SHA-256 of an arbitrary secret string."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("SecretBox needs a non-empty key")
        digest = hashlib.sha256(key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, secrets: dict[str, Any]) -> str:
        """The ciphertext of a JSON-serializable dict, as URL-safe ASCII text."""
        return self._fernet.encrypt(json.dumps(secrets).encode()).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        """The dict sealed by `encrypt`; raises `SecretBoxError` if it cannot be opened."""
        try:
            value = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise SecretBoxError(
                "cannot decrypt secrets: the secret key differs from the one that encrypted "
                "them, or the data is corrupted"
            ) from exc
        if not isinstance(value, dict):
            raise SecretBoxError("decrypted secrets are not an object")
        return value

    def remembering(self, size: int = 256) -> Callable[[str], dict[str, Any]]:
        """`decrypt` that opens each of its last `size` ciphertexts once (the same ciphertext
        always opens to the same secrets); each answer is a fresh copy."""
        opened = functools.lru_cache(maxsize=size)(self.decrypt)
        return lambda token: dict(opened(token))
