"""Channel secrets are encrypted at rest and only the right key opens them."""

from __future__ import annotations

import pytest

from models.secret_box import SecretBox, SecretBoxError

SECRETS = {"access_token": "EAAG-very-secret-token", "app_secret": "s3cr3t", "retries": 3}


def test_roundtrip() -> None:
    box = SecretBox("the app secret key")
    assert box.decrypt(box.encrypt(SECRETS)) == SECRETS


def test_a_new_box_with_the_same_key_opens_the_ciphertext() -> None:
    ciphertext = SecretBox("the app secret key").encrypt(SECRETS)
    assert SecretBox("the app secret key").decrypt(ciphertext) == SECRETS


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    ciphertext = SecretBox("the app secret key").encrypt(SECRETS)
    for secret in ("EAAG-very-secret-token", "s3cr3t", "access_token"):
        assert secret not in ciphertext


def test_wrong_key_raises_secret_box_error() -> None:
    ciphertext = SecretBox("the app secret key").encrypt(SECRETS)
    with pytest.raises(SecretBoxError, match="secret key"):
        SecretBox("another key").decrypt(ciphertext)


def test_tampered_ciphertext_raises_secret_box_error() -> None:
    box = SecretBox("the app secret key")
    ciphertext = box.encrypt(SECRETS)
    tampered = ciphertext[:-5] + ("A" if ciphertext[-5] != "A" else "B") + ciphertext[-4:]
    with pytest.raises(SecretBoxError):
        box.decrypt(tampered)
    with pytest.raises(SecretBoxError):
        box.decrypt("not a ciphertext")


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        SecretBox("")


def test_a_remembering_box_opens_each_ciphertext_once_and_hands_out_copies() -> None:
    box = SecretBox("k1")
    token = box.encrypt({"access_token": "EAAG"})
    decrypted: list[str] = []
    decrypt = box.decrypt
    box.decrypt = lambda ciphertext: decrypted.append(ciphertext) or decrypt(ciphertext)  # type: ignore[method-assign]
    opened = box.remembering()
    first = opened(token)
    first["access_token"] = "changed by a caller"
    assert opened(token) == {"access_token": "EAAG"}
    assert decrypted == [token]
    with pytest.raises(SecretBoxError):
        opened("not a ciphertext")
