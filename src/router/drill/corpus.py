"""A corpus of bad (and deceptively good) inputs, written to a folder for tests and drills.

Each ``Case`` is a real file system entry. ``problem`` is a fragment of the refusal message a
``bad_input`` result must carry; ``None`` marks an input that looks odd but must be answered (a PNG
named ``.pdf``, a CMYK JPEG, 16-bit greyscale...). ``uploadable`` says whether the case can travel
as bytes (an HTTP upload); directories, links, pipes and unreadable files exist only on disk.

    cases = write_corpus(tmp_path / "corpus")
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from router.drill.receipts import encode, receipt
from router.policy.model import InputLimits


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    problem: str | None  # expected in the refusal message; None: must be answered
    uploadable: bool = True

    @property
    def bad(self) -> bool:
        return self.problem is not None


def write_corpus(directory: Path, limits: InputLimits | None = None) -> list[Case]:
    """Write every case into ``directory`` (created) and return them."""
    limits = limits or InputLimits()
    directory.mkdir(parents=True, exist_ok=True)
    page = receipt(random.Random(7), degrade=False)
    return [make(directory, page, limits) for make in _MAKERS]


# -- bad inputs ----------------------------------------------------------------------------------


def _empty(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("empty file", _write(d / "empty.jpg", b""), "file is empty (0 bytes)")


def _truncated_jpeg(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    data = encode(Image.effect_noise((400, 400), 60).convert("RGB"), "JPEG", quality=90)
    return Case("truncated JPEG", _write(d / "cut.jpg", data[:3000]), "truncated or corrupt image data")


def _truncated_png(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    data = encode(page)
    return Case("truncated PNG", _write(d / "cut.png", data[: len(data) // 2]), "corrupt image data")


def _text_as_jpeg(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = _write(d / "notes.jpg", b"Dear diary,\nthis is not a receipt.\n")
    return Case("text named .jpg", path, "content is text (despite the .jpg extension)")


def _random_binary(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    data = random.Random(3).randbytes(4096)
    return Case("random binary", _write(d / "junk.png", b"\x00" + data), "content is unrecognised binary data")


def _bomb(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("decompression bomb", _write(d / "bomb.png", bomb_png(20_000, 20_000)), "possible decompression bomb")


def _enormous(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("enormous dimensions", _write(d / "strip.png", bomb_png(60_000, 2)), "a side is over 30000 px")


def _zero_pixels(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("zero-pixel image", _write(d / "zero.png", bomb_png(0, 10)), "image has no pixels (0x10)")


def _animated(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    frames = [Image.new("RGB", (60, 40), (60 * i, 0, 0)) for i in (1, 2, 3)]
    path = d / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return Case("animated GIF", path, "animated image (3 frames)")


def _too_many_frames(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    frames = [Image.new("L", (40, 30), i % 256) for i in range(limits.max_document_pages + 5)]
    path = d / "fax.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    problem = f"{len(frames)} pages, over the limit of {limits.max_document_pages}"
    return Case("TIFF with too many pages", path, problem)


def _many_pages_pdf(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    pages = 500
    path = _write(d / "thick.pdf", blank_pdf([(200, 300)] * pages))
    return Case("PDF with 500 pages", path, f"PDF has {pages} pages, over the limit of {limits.max_document_pages}")


def _huge_page_pdf(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = _write(d / "poster.pdf", blank_pdf([(14_400, 14_400)]))  # 200 x 200 inches
    return Case("PDF with a huge page", path, "poster.pdf page 1: image is")


def _corrupt_pdf(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = _write(d / "broken.pdf", b"%PDF-1.4\n%garbage that is not a pdf\n" + bytes(range(256)))
    return Case("corrupt PDF", path, "PDF is unreadable")


def _encrypted_pdf(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("password-protected PDF", _write(d / "locked.pdf", encrypted_pdf()), "PDF is password-protected")


def _oversized(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = d / "huge.jpg"
    with path.open("wb") as file:  # sparse: takes no disk space
        file.truncate(limits.max_bytes + 1)
    return Case("file over the size limit", path, f"over the limit of {limits.max_bytes}", uploadable=False)


def _directory(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = d / "folder.jpg"
    path.mkdir(exist_ok=True)
    return Case("a directory", path, "is a directory", uploadable=False)


def _fifo(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = d / "pipe.png"
    if not path.exists():
        os.mkfifo(path)
    return Case("a named pipe", path, "not a regular file", uploadable=False)


def _dangling_link(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = _link(d / "gone.png", d / "no-such-file.png")
    return Case("dangling symlink", path, "symbolic link to a missing file", uploadable=False)


def _link_loop(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = _link(d / "loop.png", d / "loop.png")
    return Case("symlink loop", path, "symbolic link to a missing file (or a link loop)", uploadable=False)


def _unreadable(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    """Permission denied where chmod binds; as root (which ignores it), a file whose read fails:
    a link to this process's own memory, unreadable at offset 0 (EIO)."""
    if os.geteuid() != 0:
        path = _write(d / "secret.png", encode(page))
        path.chmod(0)
        return Case("unreadable file", path, "cannot read file: Permission denied", uploadable=False)
    path = _link(d / "secret.png", Path("/proc/self/mem"))
    return Case("unreadable file", path, "cannot read file: Input/output error", uploadable=False)


# -- odd but good inputs -------------------------------------------------------------------------


def _png_named_pdf(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("PNG named .pdf", _write(d / "receipt-png.pdf", encode(page)), None)


def _pdf_named_jpeg(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("PDF named .jpg", _write(d / "receipt-pdf.jpg", encode(page, "PDF", resolution=100.0)), None)


def _no_extension(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("JPEG without extension", _write(d / "scan", encode(page, "JPEG", quality=85)), None)


def _cmyk(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    return Case("CMYK JPEG", _write(d / "cmyk.JPG", encode(page.convert("CMYK"), "JPEG", quality=90)), None)


def _sixteen_bit(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    deep = Image.fromarray(np.asarray(page.convert("L"), dtype=np.uint16) * 257)
    return Case("16-bit greyscale PNG", _write(d / "deep.png", encode(deep)), None)


def _alpha(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    rgba = page.convert("RGBA")
    rgba.putalpha(200)
    return Case("PNG with transparency", _write(d / "alpha.png", encode(rgba)), None)


def _two_page_tiff(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    path = d / "two.tif"
    page.save(path, save_all=True, append_images=[page.rotate(180)])
    return Case("two-page TIFF", path, None)


def _symlink_to_good(d: Path, page: Image.Image, limits: InputLimits) -> Case:
    target = _write(d / "target.webp", encode(page, "WEBP", quality=90))
    return Case("symlink to a WEBP", _link(d / "link-to-receipt.png", target), None, uploadable=False)


_MAKERS: tuple[Callable[[Path, Image.Image, InputLimits], Case], ...] = (
    _empty,
    _truncated_jpeg,
    _truncated_png,
    _text_as_jpeg,
    _random_binary,
    _bomb,
    _enormous,
    _zero_pixels,
    _animated,
    _too_many_frames,
    _many_pages_pdf,
    _huge_page_pdf,
    _corrupt_pdf,
    _encrypted_pdf,
    _oversized,
    _directory,
    _fifo,
    _dangling_link,
    _link_loop,
    _unreadable,
    _png_named_pdf,
    _pdf_named_jpeg,
    _no_extension,
    _cmyk,
    _sixteen_bit,
    _alpha,
    _two_page_tiff,
    _symlink_to_good,
)


# -- file builders -------------------------------------------------------------------------------


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` greyscale pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(compressor.compress(row) for _ in range(min(height, 64))) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def blank_pdf(sizes: list[tuple[int, int]]) -> bytes:
    """A valid PDF of blank pages of the given sizes (points)."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(len(sizes)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(sizes)} >>".encode(),
        *(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] >>".encode() for w, h in sizes),
    ]
    return _pdf(objects)


def encrypted_pdf() -> bytes:
    """A one-page PDF behind the standard security handler, with a user password nobody knows."""
    secret = b"<< /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 300] >>",
        secret,
    ]
    return _pdf(objects, b"/Encrypt 4 0 R /ID [<" + b"ab" * 16 + b"> <" + b"ab" * 16 + b">]")


def _pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _link(path: Path, target: Path) -> Path:
    if path.is_symlink():
        path.unlink()
    path.symlink_to(target)
    return path
