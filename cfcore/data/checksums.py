"""Where the data lives (``$CFCORE_DATA``) and the pinned sha256 every file is checked against."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def data_home() -> Path | None:
    """The folder named by ``$CFCORE_DATA``, or None when it is not set."""
    value = os.environ.get("CFCORE_DATA")
    return Path(value).expanduser() if value else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, expected_sha256: str) -> Path:
    """Return path after checking that the file's sha256 is the pinned one."""
    actual = sha256(path)
    if actual != expected_sha256:
        raise ValueError(
            f"{path} does not match its pinned checksum (sha256 {actual}, expected "
            f"{expected_sha256}): the file is corrupt or another version; replace it"
        )
    return path
