"""Inputs become validated RGB pages, or a BadInputError that names the input and the problem."""

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from router.api.inputs import load_document
from router.failures.errors import BadInputError
from router.policy.model import InputLimits

LIMITS = InputLimits()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge image (one compressed row of zeros, repeated)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def page(mode: str = "RGB", size=(60, 40), color=(200, 10, 10)) -> Image.Image:
    return Image.new(mode, size, color)


BAD_INPUTS = {
    "missing file": (lambda d: d / "nope.jpg", "file not found"),
    "standard input": (lambda _: Path("-"), "standard input is not read: give the file's path"),
    "directory": (lambda d: d, "is a directory"),
    "zero bytes": (lambda d: write(d, "empty.jpg", b""), "file is empty (0 bytes)"),
    "truncated jpeg": (
        lambda d: write(d, "cut.jpg", jpeg_bytes(Image.effect_noise((400, 400), 60).convert("RGB"))[:3000]),
        "truncated or corrupt image data",
    ),
    "text named .jpg": (
        lambda d: write(d, "notes.jpg", b"Dear diary,\nthis is not a receipt.\n"),
        "not an image or PDF: content is text (despite the .jpg extension)",
    ),
    "binary junk": (lambda d: write(d, "junk.png", bytes(range(256)) * 4), "content is unrecognised binary data"),
    "decompression bomb": (lambda d: write(d, "bomb.png", bomb_png(20_000, 20_000)), "possible decompression bomb"),
    "enormous dimensions": (lambda d: write(d, "strip.png", bomb_png(60_000, 2)), "a side is over 30000 px"),
    "animated gif": (lambda d: _animated_gif(d / "anim.gif"), "animated image (3 frames)"),
    "not a pdf": (lambda d: write(d, "broken.pdf", b"%PDF-1.4\n%garbage that is not a pdf\n"), "PDF is unreadable"),
    "oversized file": (lambda d: write(d, "big.png", b"\x89PNG" + b"\x00" * 2048), "over the limit of 1024"),
    "png text chunk too large": (
        lambda d: write(d, "ztxt.png", _png_with_huge_text()),
        "corrupt image data (ValueError",
    ),
    "bmp compression unknown": (lambda d: write(d, "odd.bmp", _bmp_with_compression(12032)), "Unsupported BMP"),
    "pdf page tree loops": (lambda d: write(d, "loop.pdf", _looping_pdf()), "PDF is unreadable"),
    "tiff frame without a size": (lambda d: write(d, "two.tif", _tiff_second_frame_sizeless()), "Missing dimensions"),
}


def _tiff_second_frame_sizeless() -> bytes:
    """Two frames, the second's width and height tags renamed: Pillow raises TypeError counting frames."""
    buffer = io.BytesIO()
    page().save(buffer, format="TIFF", save_all=True, append_images=[page(color=(0, 0, 0))])
    data = bytearray(buffer.getvalue())
    first = struct.unpack_from("<I", data, 4)[0]
    second = struct.unpack_from("<I", data, first + 2 + 12 * struct.unpack_from("<H", data, first)[0])[0]
    for entry in range(struct.unpack_from("<H", data, second)[0]):
        offset = second + 2 + 12 * entry
        if struct.unpack_from("<H", data, offset)[0] in (256, 257):  # ImageWidth, ImageLength
            struct.pack_into("<H", data, offset, 65000 + entry)
    return bytes(data)


def _png_with_huge_text() -> bytes:
    """A valid page with a 50 MB text chunk, compressed to a few KB (Pillow refuses to inflate it)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "A" * 50_000_000, zip=True)
    buffer = io.BytesIO()
    page().save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _bmp_with_compression(code: int) -> bytes:
    buffer = io.BytesIO()
    page().save(buffer, format="BMP")
    data = bytearray(buffer.getvalue())
    data[30:34] = struct.pack("<I", code)  # BITMAPINFOHEADER's compression field
    return bytes(data)


def _looping_pdf() -> bytes:
    """A page tree whose Kids names itself: PDFium counts two pages and cannot load the first."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    body, offsets = b"%PDF-1.7\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, content)
    xref = b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % len(body)
    return body + xref + trailer


def _animated_gif(path: Path) -> Path:
    frames = [page(color=(60 * i, 0, 0)) for i in (1, 2, 3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_with_the_problem_named(tmp_path: Path, case: str):
    make, expected = BAD_INPUTS[case]
    path = make(tmp_path)
    limits = InputLimits(max_bytes=1024) if case == "oversized file" else LIMITS
    with pytest.raises(BadInputError) as caught:
        load_document(path, limits)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)  # names the input


def test_unreadable_file_is_refused(tmp_path: Path, monkeypatch):
    path = write(tmp_path, "secret.png", png_bytes(page()))

    real_open = os.open

    def denied(file, flags, *args):  # the OS edge: root ignores chmod, so the refusal is simulated there
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(BadInputError, match="cannot read file: Permission denied"):
        load_document(path, LIMITS)


def test_special_files_are_refused(tmp_path: Path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(BadInputError, match="not a regular file"):
        load_document(fifo, LIMITS)


@pytest.mark.timeout(20)
def test_a_fifo_swapped_in_after_the_path_was_checked_is_refused_without_blocking(tmp_path: Path, monkeypatch):
    """The checks by name and the read are two steps: a FIFO put in the file's place between them
    must not block the reader (and a service slot) forever."""
    fifo = tmp_path / "receipt.png"
    os.mkfifo(fifo)
    monkeypatch.setattr(Path, "is_file", lambda self: True)  # the regular file the checks saw
    with pytest.raises(BadInputError, match="not a regular file"):
        load_document(fifo, LIMITS)


@pytest.mark.parametrize(
    ("mode", "color"),
    [("CMYK", (0, 255, 255, 0)), ("RGBA", (255, 0, 0, 255)), ("LA", (80, 255)), ("P", 3), ("L", 128), ("1", 1)],
)
def test_readable_modes_become_rgb_pages(mode, color):
    image = page(mode, color=color)
    buffer = io.BytesIO()
    image.save(buffer, "TIFF" if mode == "CMYK" else "PNG")
    document = load_document(buffer.getvalue(), LIMITS, name=f"{mode}.img")
    assert [p.mode for p in document.pages] == ["RGB"]
    assert document.pages[0].size == (60, 40)


def test_cmyk_jpeg_converts_to_the_right_colour():
    buffer = io.BytesIO()
    page("CMYK", color=(0, 255, 255, 0)).save(buffer, "JPEG", quality=95)  # pure red in CMYK
    red, green, blue = load_document(buffer.getvalue(), LIMITS).pages[0].getpixel((5, 5))
    assert red > 200 and green < 60 and blue < 60


def test_transparency_is_flattened_onto_white_not_black():
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    document = load_document(png_bytes(transparent), LIMITS)
    assert document.pages[0].getpixel((3, 3)) == (255, 255, 255)


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (4, 1))
    document = load_document(png_bytes(Image.fromarray(ramp)), LIMITS)
    row = [document.pages[0].getpixel((x, 0))[0] for x in (0, 128, 255)]
    assert row[0] < 5 and 120 < row[1] < 135 and row[2] > 250


def test_exif_rotation_is_applied():
    image = page(size=(60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert load_document(buffer.getvalue(), LIMITS).pages[0].size == (40, 60)


def test_multi_page_tiff_gives_one_page_per_frame(tmp_path: Path):
    path = tmp_path / "fax.tiff"
    page(color=(1, 2, 3)).save(path, save_all=True, append_images=[page(color=(4, 5, 6))])
    pages = load_document(path, LIMITS).pages
    assert [p.getpixel((0, 0)) for p in pages] == [(1, 2, 3), (4, 5, 6)]


def test_pdf_pages_are_rendered(tmp_path: Path):
    path = tmp_path / "doc.pdf"
    page(size=(200, 300)).save(path, "PDF", save_all=True, append_images=[page(size=(200, 300))], resolution=100)
    document = load_document(path, InputLimits(pdf_dpi=100))
    assert document.media_type == "application/pdf"
    assert len(document.pages) == 2 and document.pages[0].size == (200, 300)


def test_a_pdf_without_pages_is_bad_input_that_says_so_not_a_stale_pdfium_error(tmp_path: Path):
    """PDFium sets no error of its own for it: after a broken PDF its last error still says
    "Data format error", after a good one "Success". Neither may reach the message."""
    import pypdfium2 as pdfium

    path = tmp_path / "empty.pdf"
    pdfium.PdfDocument.new().save(path)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(BadInputError):
        load_document(broken, LIMITS)  # leaves PDFium's last error at "Data format error"
    with pytest.raises(BadInputError) as refused:
        load_document(path, LIMITS)
    assert "PDF has no pages" in str(refused.value) and "empty.pdf" in str(refused.value)
    assert "error" not in str(refused.value).lower() and "Success" not in str(refused.value)


def _numbered_pdf(path: Path, count: int) -> Path:
    shades = [page(size=(20, 30), color=(i, i, i)) for i in range(count)]
    shades[0].save(path, "PDF", save_all=True, append_images=shades[1:], resolution=72)
    return path


def test_a_pdf_longer_than_max_pages_is_read_up_to_the_limit_and_says_which_pages(tmp_path: Path):
    """The docs said "most pages that are read"; the code refused the PDF. Now it reads the first
    max_pages - 1 pages and the last one (where an invoice's total is)."""
    path = _numbered_pdf(tmp_path / "long.pdf", 5)
    document = load_document(path, InputLimits(max_pages=3, pdf_dpi=72))
    assert len(document.pages) == 3
    assert (document.page_numbers, document.pages_total) == ((1, 2, 5), 5)
    assert [p.getpixel((10, 10))[0] for p in document.pages] == [0, 1, 4]  # pages 1, 2 and 5 of the file
    whole = load_document(path, InputLimits(max_pages=5, pdf_dpi=72))
    assert (len(whole.pages), whole.page_numbers, whole.pages_total) == (5, None, None)


def test_a_long_multi_page_tiff_is_read_up_to_the_limit_too(tmp_path: Path):
    path = tmp_path / "fax.tiff"
    frames = [page(color=(i, i, i)) for i in range(6)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    document = load_document(path, InputLimits(max_pages=2))
    assert (document.page_numbers, document.pages_total) == ((1, 6), 6)
    assert [p.getpixel((0, 0))[0] for p in document.pages] == [0, 5]


def test_an_absurd_page_count_is_still_refused_before_reading(tmp_path: Path):
    path = _numbered_pdf(tmp_path / "thick.pdf", 5)
    with pytest.raises(BadInputError, match="PDF has 5 pages, over the limit of 4"):
        load_document(path, InputLimits(max_pages=2, max_document_pages=4))


def test_the_result_says_which_pages_were_read(tmp_path: Path):
    from router.api.router import Router
    from router.policy.model import policy_from_dict

    path = _numbered_pdf(tmp_path / "long.pdf", 4)
    tier = {"name": "fixed", "backend": {"kind": "faulty"}, "isolation": "inline"}
    policy = policy_from_dict({"limits": {"max_pages": 2, "pdf_dpi": 72}, "tiers": [tier]})
    with Router(policy) as router:
        result = router.extract(path).model_dump(mode="json")
    assert result["status"] == "ok"
    assert (result["document"]["pages"], result["document"]["pages_read"], result["document"]["pages_total"]) == (
        2,
        [1, 4],
        4,
    )


def test_pages_read_travel_to_a_worker():
    from backends.documents.document import Document

    document = load_document(png_bytes(page()), LIMITS, name="x.png")
    partial = Document(document.sha256, document.pages, document.media_type, "x", 1, page_numbers=(7,), pages_total=9)
    again = Document.from_wire(*partial.to_wire())
    assert (again.page_numbers, again.pages_total, again.pages_read) == ((7,), 9, (7,))


def test_same_bytes_same_sha256_whatever_the_name(tmp_path: Path):
    data = png_bytes(page())
    a = load_document(write(tmp_path, "a.png", data), LIMITS)
    b = load_document(data, LIMITS, name="upload")
    assert a.sha256 == b.sha256 and a.source.endswith("a.png") and b.source == "upload"


def test_pil_images_are_accepted_directly():
    document = load_document(page("RGBA", color=(0, 0, 0, 255)), LIMITS)
    assert document.pages[0].mode == "RGB" and len(document.sha256) == 64


def test_wire_format_round_trips():
    from backends.documents.document import Document

    document = load_document(png_bytes(page()), LIMITS, name="x.png")
    header, buffers = document.to_wire()
    again = Document.from_wire(header, buffers)
    assert again.sha256 == document.sha256 and again.pages[0].tobytes() == document.pages[0].tobytes()


def test_large_jpeg_scans_decode_at_a_reduced_scale_never_below_the_limit():
    scan = Image.new("RGB", (4960, 7016), "white")
    document = load_document(jpeg_bytes(scan), InputLimits(decode_max_side_px=3000))
    assert document.pages[0].size == (2480, 3508)  # 1/2: the largest reduction that keeps >= 3000
    small = load_document(jpeg_bytes(Image.new("RGB", (1000, 1400))), InputLimits(decode_max_side_px=3000))
    assert small.pages[0].size == (1000, 1400)


@pytest.mark.parametrize("name", ["a" * 5000 + ".png", "x" * 300 + "/receipt.png"])
def test_a_path_the_file_system_refuses_is_bad_input_naming_the_problem(tmp_path, name):
    with pytest.raises(BadInputError, match="name too long"):
        load_document(tmp_path / name, LIMITS)
