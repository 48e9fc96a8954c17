"""The state file: the meter's non-volatile memory on disk, written so it can never tear.

* One JSON document: a format name, a version, a SHA-256 checksum and the state.
* Written atomically: a temporary file beside it, ``fsync``, ``rename`` over the old file,
  ``fsync`` of the directory. A process killed at any instant leaves the old or the new state.
* Read strictly: a missing, truncated, edited or foreign file raises :class:`StateFileError`;
  the meter never silently starts again as a blank meter.
* One writer at a time: every change runs under an exclusive ``flock`` on a ``.lock`` file
  beside the state, so ``enter`` and a running ``serve`` can share one meter safely.
* The file holds the decoder key, so it is created readable by its owner only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .state import MeterState

FORMAT = "stsvend-keypad-meter"
VERSION = 1


class StateFileError(Exception):
    """The state file cannot be used; the message says why and never quotes its content."""


class StateMissingError(StateFileError):
    """There is no meter at this path (``init`` makes one)."""


class CorruptStateError(StateFileError):
    """The file exists but is not an intact meter state of a known version."""


def _canonical(state: dict[str, Any]) -> bytes:
    return json.dumps(state, sort_keys=True, separators=(",", ":")).encode()


def checksum(state: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(_canonical(state)).hexdigest()


def encode_document(state: MeterState) -> bytes:
    data = state.to_dict()
    document = {"format": FORMAT, "version": VERSION, "checksum": checksum(data), "state": data}
    return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"


def decode_document(raw: bytes, where: str) -> MeterState:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise CorruptStateError(f"{where} is not a meter state file (not JSON)") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CorruptStateError(f"{where} is not a {FORMAT} state file")
    if document.get("version") != VERSION:
        raise CorruptStateError(
            f"{where} has state format version {document.get('version')!r}; "
            f"this meter reads version {VERSION}"
        )
    data = document.get("state")
    if not isinstance(data, dict) or document.get("checksum") != checksum(data):
        raise CorruptStateError(f"{where} fails its checksum: the state is damaged")
    try:
        return MeterState.from_dict(data)
    except (KeyError, TypeError) as exc:
        raise CorruptStateError(f"{where} has a malformed state: {exc}") from None


class StateFile:
    """The meter state at ``path``: create, read, and change it under a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> MeterState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise StateMissingError(f"no meter state at {self.path} (run init first)") from None
        except OSError as exc:
            raise StateFileError(f"cannot read {self.path}: {exc.strerror}") from None
        return decode_document(raw, str(self.path))

    def create(self, state: MeterState) -> None:
        """Write a new meter; refuses to overwrite an existing one."""
        with self._locked():
            if self.path.exists():
                raise StateFileError(f"{self.path} already holds a meter")
            self._write(state)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[MeterState]:
        """Lock, load, yield the state to change, and store it if the block ends normally.

        An exception inside the block leaves the file exactly as it was.
        """
        with self._locked():
            state = self.load()
            before = state.to_dict()
            yield state
            if state.to_dict() != before:
                self._write(state)

    def read(self) -> MeterState:
        """A consistent snapshot (taken under the lock, so never a half-finished change)."""
        with self._locked():
            return self.load()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateFileError(f"cannot lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _write(self, state: MeterState) -> None:
        data = encode_document(state)
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(self._tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
