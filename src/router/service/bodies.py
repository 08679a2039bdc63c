"""What a request body to ``/v1/extract`` may be, checked before it costs memory.

- **No content coding.** A body sent in a coding (``Content-Encoding: gzip``, ``deflate``, ``br``...)
  is 415: the service decodes none (a gzip bomb is never inflated), and a body whose header names a
  coding is never read as if it had named none (a proxy and the service would see two documents).
- **JSON is small and plain.** ``{"path": "..."}`` needs a few KB: a JSON body over
  ``MAX_JSON_BYTES`` is 413 as it arrives, before it is parsed into objects (a few MB of
  ``[{},{},...]`` are millions of dicts); a key given twice is ``bad_json`` (which one was meant
  cannot be told).
- **Fields beside the file are small.** Each at most ``MAX_FIELD_BYTES`` and at most
  ``MAX_FIELDS`` of them, so an upload holds at most ~1 MB of fields in memory while it waits its
  turn (the file itself is spooled to disk past 1 MB).
- **An upload's name is a name.** Its last path component, without control or format characters
  (a NUL, an escape sequence, a right-to-left override), never ``.`` or ``..``.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import PurePosixPath
from typing import Any

from starlette.requests import Request

#: The largest JSON body: a path of PATH_MAX (4096 bytes), escaped, with room to spare.
MAX_JSON_BYTES = 64 * 1024

#: Multipart fields beside the file: how many, and how large each.
MAX_FIELDS = 16
MAX_FIELD_BYTES = 64 * 1024

#: The longest upload name kept.
MAX_NAME_CHARS = 200


class BodyRefused(Exception):
    """A body this service does not read: the status, the error code and why."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def check_coding(request: Request) -> None:
    """BodyRefused (415) when the body is sent in any content coding but ``identity``."""
    codings = [
        token.strip().lower()
        for value in request.headers.getlist("content-encoding")
        for token in value.split(",")
        if token.strip()
    ]
    if any(coding != "identity" for coding in codings):
        raise BodyRefused(
            415,
            "unsupported_media_type",
            f"the body is sent with Content-Encoding: {', '.join(codings)}; this service decodes no content "
            "coding: send the document as it is",
        )


async def read_json(request: Request) -> Any:
    """The JSON body, parsed; BodyRefused when it is too large (413) or not plain JSON (400)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            raise BodyRefused(
                413, "payload_too_large", f"a JSON body is at most {MAX_JSON_BYTES} bytes (it names a path)"
            )
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks), object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested too deep
        raise BodyRefused(
            400, "bad_json", "the body is not valid JSON (or nested too deep, or a key is given twice)"
        ) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key is given twice")
    return dict(pairs)


def upload_name(filename: str | None) -> str:
    """The name an upload is known by: its file name's last component, cleaned (see above)."""
    name = PurePosixPath(filename or "").name
    name = "".join("_" if unicodedata.category(ch) in ("Cc", "Cf", "Cs") else ch for ch in name)
    name = name[:MAX_NAME_CHARS]
    return name if name.strip(".") else "upload"
