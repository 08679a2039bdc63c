"""Hostile PDFs written byte by byte (no PDF library would write them): compression bombs hidden
behind indirect filters, in embedded files, page content and images. Each is a few kilobytes."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

MIB = 2**20


def zeros_deflate(mib: int) -> bytes:
    """A zlib stream that inflates to ``mib`` MiB of zero bytes, built without deflating them all:
    after a full flush every further MiB of zeros compresses to the same bytes."""
    deflater = zlib.compressobj(9)
    first = deflater.compress(b"\0" * MIB) + deflater.flush(zlib.Z_FULL_FLUSH)
    again = deflater.compress(b"\0" * MIB) + deflater.flush(zlib.Z_FULL_FLUSH)
    size = mib * MIB
    adler = ((size % 65521) << 16) | 1  # Adler-32 of zero bytes: a = 1, b = size
    return first + again * (mib - 1) + b"\x03\x00" + adler.to_bytes(4, "big")


def pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1; object 1 is the catalog) with a correct xref."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def embedding(dictionary: bytes, data: bytes, *, extra: Sequence[bytes] = (), name: bytes = b"factur-x.xml") -> bytes:
    """A one-page PDF whose embedded file (object 5) has this stream dictionary and data; ``extra``
    objects follow as 6, 7, ... (for the dictionary to refer to)."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(" + name + b") 4 0 R] >> >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
            b"<< /Type /Filespec /F (" + name + b") /UF (" + name + b") /EF << /F 5 0 R >> >>",
            stream(dictionary, data),
            *extra,
        ]
    )


def attachment_bomb(mib: int) -> bytes:
    """An embedded XML file that inflates to ``mib`` MiB through two Flate passes, its /Filter an
    indirect reference to the array (no pattern over the dictionary's bytes sees a filter)."""
    twice = zlib.compress(zeros_deflate(mib), 9)
    return embedding(
        b"/Type /EmbeddedFile /Subtype /text#2Fxml /Filter 6 0 R", twice, extra=[b"[/FlateDecode /FlateDecode]"]
    )


def content_bomb(mib: int) -> bytes:
    """A page whose content stream inflates to ``mib`` MiB (of zeros: no drawing, all decoding)."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
            stream(b"/Filter [/FlateDecode /FlateDecode]", zlib.compress(zeros_deflate(mib), 9)),
        ]
    )
