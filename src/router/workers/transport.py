"""Moving a document's pages to a worker without pickling them.

Each worker shares one memory region with its parent: a file in ``/dev/shm`` that both map, and
that the parent unlinks as soon as the child has mapped it (so nothing is left behind whatever
happens to either process, and multiprocessing's resource tracker is not involved). The region has
one slice per request the worker may hold at once (its capacity): a request's pages go into the
slice it holds until its answer comes back. The parent packs each RGB page as raw RGBX rows
(Pillow's internal layout, so packing is a plain copy) into the slice; the child builds the page
from it with one copy. Pages that do not fit travel over the pipe as raw buffers instead.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from typing import Any

from PIL import Image

from backends.documents.document import Document

SLICE_BYTES = 64 * 2**20  # per request in flight; sparse: only the bytes a page touches use memory
#: Touched at start-up in both processes, so that a new worker's first receipt-sized page (1.35 MP
#: is the median receipt) does not pay thousands of page faults on the request's path.
WARM_BYTES = 8 * 2**20


class PageRegion:
    """One worker's shared page buffer."""

    def __init__(self, path: str, size: int, *, create: bool):
        self.path = path
        self.size = size
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if create:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)

    @classmethod
    def create(cls, size: int = SLICE_BYTES) -> PageRegion:
        directory = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        path = os.path.join(directory, f"docroute-{os.getpid()}-{os.urandom(6).hex()}")
        return cls(path, size, create=True)

    def prefault(self, nbytes: int = WARM_BYTES) -> None:
        """Map the first ``nbytes`` now (writing allocates them: call it in the parent first)."""
        for offset in range(0, min(nbytes, self.size), mmap.PAGESIZE):
            self._map[offset] = self._map[offset]

    def unlink(self) -> None:
        """Remove the name; the memory lives on while a process maps it."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def close(self) -> None:
        if not self._map.closed:
            self._map.close()

    def write(self, offset: int, data: bytes) -> None:
        self._map[offset : offset + len(data)] = data

    def view(self, offset: int, length: int) -> memoryview:
        return memoryview(self._map)[offset : offset + length]


def warm_allocator(size: tuple[int, int] = (1000, 1400)) -> None:
    """In a new worker, allocate a receipt-sized page twice: the C allocator then keeps memory of
    that size at hand (the first big block is mapped and unmapped, the second grows the heap), so
    the first real page does not pay for it on the request's path."""
    for _ in range(2):
        Image.new("RGB", size, 0)


def overflows(document: Document) -> bool:
    """Whether the document's pages exceed one request's slice (some would travel over the pipe)."""
    return sum(page.width * page.height * 4 for page in document.pages) > SLICE_BYTES


def pack(
    document: Document, region: PageRegion | None, *, start: int = 0, end: int | None = None
) -> tuple[dict[str, Any], list[bytes]]:
    """The document's header (plain data) and the page buffers that must go over the pipe. Pages go
    into ``region`` between ``start`` and ``end`` (the slice this request holds) while they fit."""
    specs: list[dict[str, Any]] = []
    overflow: list[bytes] = []
    offset = start
    end = end if end is not None else (region.size if region is not None else 0)
    for page in document.pages:
        rawmode, data = _raw(page)
        spec: dict[str, Any] = {"mode": page.mode, "size": page.size, "rawmode": rawmode, "nbytes": len(data)}
        if region is not None and offset + len(data) <= end:
            region.write(offset, data)
            spec["offset"] = offset
            offset += len(data)
        else:
            spec["overflow"] = len(overflow)
            overflow.append(data)
        specs.append(spec)
    header = {
        "sha256": document.sha256,
        "media_type": document.media_type,
        "source": document.source,
        "size_bytes": document.size_bytes,
        "pages": specs,
        **document.extras_to_wire(),
    }
    return header, overflow


def unpack(header: dict[str, Any], region: PageRegion | None, overflow: list[bytes]) -> Document:
    pages = []
    for spec in header["pages"]:
        size = tuple(spec["size"])
        if "offset" in spec and region is not None:
            with region.view(spec["offset"], spec["nbytes"]) as view:
                pages.append(Image.frombytes(spec["mode"], size, view, "raw", spec["rawmode"]))
        else:
            pages.append(Image.frombytes(spec["mode"], size, overflow[spec["overflow"]], "raw", spec["rawmode"]))
    return Document(
        sha256=header["sha256"],
        pages=tuple(pages),
        media_type=header["media_type"],
        source=header["source"],
        size_bytes=header["size_bytes"],
        **Document.extras_from_wire(header),
    )


def _raw(page: Image.Image) -> tuple[str, bytes]:
    """A page's pixels in one buffer. RGB goes as RGBX in one encoder call: ``tobytes`` packs
    RGB pixel by pixel in 64 KiB chunks and is several times slower on receipt-sized pages."""
    if page.mode != "RGB":
        return page.mode, page.tobytes()
    page.load()
    width, height = page.size
    try:
        encoder = Image._getencoder("RGB", "raw", ("RGBX",))
    except (AttributeError, OSError):  # a Pillow without the private helper: the public, slower path
        return "RGB", page.tobytes()
    try:
        encoder.setimage(page.im, (0, 0, width, height))
        chunks = []
        while True:
            _, status, chunk = encoder.encode(width * height * 4)
            chunks.append(chunk)
            if status:
                break
    finally:
        encoder.cleanup()
    if status < 0:
        return "RGB", page.tobytes()
    return "RGBX", chunks[0] if len(chunks) == 1 else b"".join(chunks)
