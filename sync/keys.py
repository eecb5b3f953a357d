"""CurveZMQ keys for a marker bus that is open to the lab network.

On loopback only this machine can send markers. Bound beyond it
(``--markers-allow-network``), anyone who reaches the port could write into
the recording, so the server then takes markers only from senders whose
public key it holds, and traffic is encrypted (CurveZMQ, built into libzmq).

One folder holds the keys, in pyzmq's certificate files:
``NAME.key`` (public, safe to copy) and ``NAME.key_secret`` (keep private).
The recorder uses the pair named ``server`` and admits every ``*.key`` in the
folder; a stimulus computer needs ``server.key`` and its own pair.
``main.py keys make NAME`` and ``main.py keys list`` manage the folder.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth

SERVER_KEY_NAME = "server"
DEFAULT_KEYS_DIR = Path("keys")
KEY_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class KeyFileError(ValueError):
    """A key folder or key file is missing or unusable; the message names the file."""


@dataclass(frozen=True)
class KeyPair:
    public: bytes
    secret: bytes


@dataclass(frozen=True)
class ServerKeys:
    """What a marker server needs: its own pair and the folder of admitted public keys."""

    pair: KeyPair
    allowed_dir: Path


@dataclass(frozen=True)
class ClientKeys:
    """What a marker client needs: the server's public key and its own pair."""

    server_public: bytes
    pair: KeyPair


def _check_name(name: str) -> str:
    if not KEY_NAME_RE.fullmatch(name):
        raise KeyFileError(f"key name {name!r}: use 1-64 letters, digits, _ or -")
    return name


def make_key(folder: str | os.PathLike, name: str) -> tuple[Path, Path]:
    """Create NAME.key and NAME.key_secret in ``folder``; an existing pair is never overwritten."""
    if not zmq.has("curve"):
        raise KeyFileError("this libzmq was built without CurveZMQ")
    folder = Path(folder)
    _check_name(name)
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    for path in (public, secret):
        if path.exists():
            raise KeyFileError(f"{path}: exists already; a key is never replaced (remove it yourself first)")
    folder.mkdir(parents=True, exist_ok=True)
    made_public, made_secret = zmq.auth.create_certificates(folder, name)
    Path(made_secret).chmod(0o600)
    return Path(made_public), Path(made_secret)


def list_keys(folder: str | os.PathLike) -> list[tuple[str, bool]]:
    """(name, has its secret here) for every public key in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KeyFileError(f"{folder}: no such key folder (make one with: main.py keys make server)")
    return [(p.stem, p.with_suffix(".key_secret").exists()) for p in sorted(folder.glob("*.key"))]


def _load(path: Path, secret: bool) -> KeyPair:
    if not path.is_file():
        hint = "main.py keys make " + path.name.split(".")[0]
        raise KeyFileError(f"{path}: no such key file (make it with: {hint})")
    try:
        public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: not a CurveZMQ key file ({exc})") from None
    if public is None or (secret and secret_key is None):
        raise KeyFileError(f"{path}: holds no {'secret' if secret else 'public'} key")
    return KeyPair(public, secret_key or b"")


def server_keys(folder: str | os.PathLike) -> ServerKeys:
    folder = Path(folder)
    pair = _load(folder / f"{SERVER_KEY_NAME}.key_secret", secret=True)
    return ServerKeys(pair, folder)


def client_keys(folder: str | os.PathLike, name: str) -> ClientKeys:
    folder = Path(folder)
    server = _load(folder / f"{SERVER_KEY_NAME}.key", secret=False)
    pair = _load(folder / f"{_check_name(name)}.key_secret", secret=True)
    return ClientKeys(server.public, pair)


def apply_client(sock: zmq.Socket, keys: ClientKeys) -> None:
    """Set a DEALER socket up to connect to a CurveZMQ server (before connect)."""
    sock.curve_serverkey = keys.server_public
    sock.curve_publickey = keys.pair.public
    sock.curve_secretkey = keys.pair.secret
