"""Reading inputs into documents, and refusing the ones that cannot be read.

Every refusal is a ``BadInputError`` naming the input and the problem. Checks run before any
expensive decode: the file's size, its magic bytes, the pixel count the header declares
(decompression bombs), the page count of a PDF. Images that can be read are normalised to RGB:
CMYK converted, 16-bit scaled to 8-bit, transparency flattened onto white, EXIF rotation applied.
A PDF is read in the PDF reader's capped helper process (``router.api.pdfreader``, which runs
``router.api.pdfpages``): a page with a usable text layer is not rendered there, born-digital pages are
read from their text, and rendered only when a tier needs their image.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from backends.documents.document import Document
from router.api.pages import check_dimensions, check_page_count, pages_to_read
from router.failures.errors import BadInputError
from router.policy.model import InputLimits

if TYPE_CHECKING:
    from router.api.pdfreader import PdfReader

Source = str | os.PathLike[str] | bytes | Image.Image | BinaryIO
ORIENTATION = 0x0112  # the EXIF tag
#: What Pillow's decoders raise on corrupt data (a truncated stream, a broken header, an oversized
#: text chunk, an unsupported compression): the file's fault, never the caller's.
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    ZeroDivisionError,
    TypeError,  # a multi-frame TIFF whose frame lost its size: "Missing dimensions"
    Image.DecompressionBombError,
)


def check_source(source: object) -> None:
    """Refuse, as the caller's mistake, a source of a type docroute cannot read (``None``, a text
    stream): a TypeError naming what it accepts."""
    if isinstance(source, str | os.PathLike | bytes | bytearray | memoryview | Image.Image):
        return
    if hasattr(source, "read") and not isinstance(source, io.TextIOBase):
        return
    raise TypeError(
        "a document is a path, bytes, a binary file object or a PIL image; "
        f"got {type(source).__name__}{' (a text stream: open it in binary mode)' if hasattr(source, 'read') else ''}"
    )


def load_document(
    source: Source, limits: InputLimits, *, name: str | None = None, reader: PdfReader | None = None
) -> Document:
    """Read a path, bytes, a binary file object or a PIL image into a validated ``Document``; a PDF
    through ``reader`` (a router's own; default: one shared by the callers without one)."""
    check_source(source)
    reader = reader or shared_reader()
    if isinstance(source, Image.Image):
        return _from_pil(source, limits, name or "<image>")
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return _from_bytes(data, limits, name or "<bytes>", reader, suffix=Path(name or "").suffix)
    if not isinstance(source, str | os.PathLike):  # a binary file object: read at most one byte past the limit
        label = name or _stream_name(source)
        return _from_bytes(_read_stream(source, limits, label), limits, label, reader, suffix=Path(label).suffix)
    path = Path(source)
    data = _read_file(path, limits, name or str(path))
    return _from_bytes(data, limits, name or str(path), reader, suffix=path.suffix)


def shared_reader() -> PdfReader:
    """The PDF reader of the callers that bring none (started on its first PDF)."""
    from router.api import pdfreader

    return pdfreader.SHARED


def _stream_name(stream: object) -> str:
    """A stream's file name where it has one (not a descriptor number), else ``<stream>``."""
    name = getattr(stream, "name", None)
    if isinstance(name, bytes):
        return os.fsdecode(name)
    return name if isinstance(name, str) and name else "<stream>"


def _read_stream(stream: BinaryIO, limits: InputLimits, name: str) -> bytes:
    """The stream to its end, or one byte past the size limit (a pipe or a socket gives what has
    arrived on each read: read until it says the end)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limits.max_bytes:
        try:
            chunk = stream.read(limits.max_bytes + 1 - size)
        except (OSError, ValueError) as exc:  # ValueError: a closed file
            problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc)
            raise BadInputError(name, f"cannot read the stream: {problem}") from None
        if chunk is None:
            raise BadInputError(name, "the stream is non-blocking and has no data now; give a blocking stream")
        if not isinstance(chunk, bytes | bytearray):
            raise BadInputError(
                name, f"the stream gave {type(chunk).__name__}, expected bytes (open it in binary mode)"
            )
        if not chunk:
            break
        chunks.append(bytes(chunk))
        size += len(chunk)
    return b"".join(chunks)


def _read_file(path: Path, limits: InputLimits, name: str) -> bytes:
    try:
        return _read_regular_file(path, limits, name)
    except OSError as exc:  # a name too long, a folder on the way that cannot be searched
        raise BadInputError(name, f"cannot read file: {exc.strerror or exc}") from None


def _read_regular_file(path: Path, limits: InputLimits, name: str) -> bytes:
    if str(path) == "-" and not path.exists():
        raise BadInputError(name, "standard input is not read: give the file's path")
    if not path.exists():
        missing = "symbolic link to a missing file (or a link loop)" if path.is_symlink() else "file not found"
        raise BadInputError(name, missing)
    if path.is_dir():
        raise BadInputError(name, "is a directory, expected an image or PDF file")
    if not path.is_file():
        raise BadInputError(name, "not a regular file")
    # Checked again on the open handle, and read to the limit only: the path may be swapped for a FIFO
    # (which would block a read forever) or grow after the checks above.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise BadInputError(name, "not a regular file")
        if status.st_size > limits.max_bytes:
            raise BadInputError(name, f"file is {status.st_size} bytes, over the limit of {limits.max_bytes}")
        data = file.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise BadInputError(name, f"file grew past the limit of {limits.max_bytes} bytes while it was read")
    return data


def _from_bytes(data: bytes, limits: InputLimits, name: str, reader: PdfReader, *, suffix: str = "") -> Document:
    if not data:
        raise BadInputError(name, "file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise BadInputError(name, f"input is {len(data)} bytes, over the limit of {limits.max_bytes}")
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"%PDF-"):
        return _read_pdf(data, limits, name, digest, reader)
    image = _open_image(data, name, suffix)
    media_type = Image.MIME.get(image.format or "", "image/unknown")
    with _corrupt_image(name):
        pages = _image_pages(image, limits, name)
        frames = getattr(image, "n_frames", 1)
    return _document(digest, pages, frames, media_type, name, len(data), limits)


@contextmanager
def _corrupt_image(name: str) -> Iterator[None]:
    """A decoder's error on the image's data as the refusal of a corrupt image, naming the file."""
    try:
        yield
    except _DECODE_ERRORS as exc:
        raise _corrupt(name, exc) from None


def _corrupt(name: str, exc: BaseException) -> BadInputError:
    return BadInputError(name, f"truncated or corrupt image data ({type(exc).__name__}: {_first_line(exc)})")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


def _document(
    digest: str, pages: list[Image.Image], total: int, media_type: str, name: str, size: int, limits: InputLimits
) -> Document:
    """A document of the pages read; which ones, when not all of them."""
    if total <= len(pages):
        return Document(digest, tuple(pages), media_type, name, size)
    numbers = tuple(index + 1 for index in pages_to_read(total, limits.max_pages))
    return Document(digest, tuple(pages), media_type, name, size, page_numbers=numbers, pages_total=total)


def _from_pil(image: Image.Image, limits: InputLimits, name: str) -> Document:
    check_dimensions(image.size, limits, name)
    page = _to_rgb(image, name)
    digest = hashlib.sha256(f"{page.mode}{page.size}".encode() + page.tobytes()).hexdigest()
    return Document(digest, (page,), "image/x-pil", name, len(page.tobytes()))


def _open_image(data: bytes, name: str, suffix: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInputError(name, "image declares too many pixels: possible decompression bomb") from None
    except UnidentifiedImageError:
        raise BadInputError(name, _not_an_image(data, suffix)) from None
    except _DECODE_ERRORS as exc:  # a header Pillow recognises but cannot parse
        raise _corrupt(name, exc) from None


def _not_an_image(data: bytes, suffix: str) -> str:
    declared = _declared_size(data)
    if declared is not None and 0 in declared:
        return f"image has no pixels ({declared[0]}x{declared[1]})"
    looks_like_text = all(32 <= b < 127 or b in b"\t\r\n" for b in data[:512])
    kind = "text" if looks_like_text else "unrecognised binary data"
    claimed = f" (despite the {suffix} extension)" if suffix else ""
    return f"not an image or PDF: content is {kind}{claimed}"


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """The width and height a PNG or GIF header declares (Pillow refuses zero-sized ones unnamed)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    return None


def _image_pages(image: Image.Image, limits: InputLimits, name: str) -> list[Image.Image]:
    check_dimensions(image.size, limits, name)
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format in ("GIF", "PNG", "WEBP"):
        raise BadInputError(name, f"animated image ({frames} frames); docroute reads still images and PDFs")
    check_page_count(frames, limits, name, "image has")
    if image.format == "JPEG":
        _decode_smaller(image, limits.decode_max_side_px)
    pages = []
    for index in pages_to_read(frames, limits.max_pages):  # multi-page TIFF: each frame is a page
        image.seek(index)
        page = _to_rgb(_decode(image), name)
        pages.append(page.copy() if page is image and frames > 1 else page)  # the next seek reuses it
    return pages


def _decode_smaller(image: Image.Image, max_side: int) -> None:
    """Let the JPEG decoder scale by 1/2, 1/4 or 1/8 (DCT scaling) while the page stays >= max_side."""
    width, height = image.size
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        image.draft(image.mode, (max(1, round(width * scale)), max(1, round(height * scale))))


def _decode(image: Image.Image) -> Image.Image:
    image.load()  # a decoder's error is the caller's to name (``_corrupt_image``)
    try:
        if image.getexif().get(ORIENTATION, 1) == 1:
            return image  # upright already: exif_transpose would only copy the page
        return ImageOps.exif_transpose(image) or image
    except Exception:  # a broken EXIF block must not lose an otherwise readable page
        return image


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    """One RGB page: 16-bit scaled down, palette and alpha flattened onto white, CMYK converted."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.uint32)
        shift = 8 if array.max(initial=0) > 255 else 0
        image = Image.fromarray((array >> shift).clip(0, 255).astype(np.uint8), "L")
    elif mode == "F":
        array = np.asarray(image, dtype=np.float32)
        scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
        image = Image.fromarray((array * scale).clip(0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    try:
        return image if image.mode == "RGB" else image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise BadInputError(name, f"unsupported image mode {mode!r} ({exc})") from None


def _read_pdf(data: bytes, limits: InputLimits, name: str, digest: str, reader: PdfReader) -> Document:
    """A PDF as a document, read in the capped reader process (``router.api.pdfreader``).

    Each page's text layer is read; a page without a usable one (a scan) is rendered now, the others
    only if a tier asks for their image. The XML files the PDF embeds (e-invoices) come along."""
    from backends.documents.pdf import LazyPages

    indices, total, layers, rendered, attachments = reader.read(data, limits, name, digest)
    scale = limits.pdf_dpi / 72

    def render(index: int) -> Image.Image:
        return reader.render(data, index, scale, limits, name, digest)

    pages = LazyPages(render, indices, rendered)
    numbers = tuple(index + 1 for index in indices) if total > len(indices) else None
    return Document(
        digest,
        pages,
        "application/pdf",
        name,
        len(data),
        page_numbers=numbers,
        pages_total=total if numbers else None,
        text_layer=tuple(layers),
        attachments=attachments,
    )
