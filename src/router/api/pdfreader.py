"""Untrusted PDFs are read in a helper process whose memory is capped: a bomb costs that process,
not the caller's.

PDFium decodes every stream a PDF holds (page content, images, fonts, xref and object streams,
embedded files) whatever filters its dictionaries name, through indirect references, chained
filters or anything else; no look at the raw bytes can say in advance what they inflate to. So
every call into PDFium on an input runs in one helper process (one PDF at a time, as PDFium is not
thread-safe anyway) whose address space is capped at ``limits.pdf_reader_memory_mb`` above what it
holds idle, and whose every call has ``limits.pdf_read_timeout_s``. A decoder that runs past the cap
fails there (PDFium aborts on a failed allocation; Python raises MemoryError), the helper dies, the
document is refused as ``bad_input`` naming the limit, and a fresh helper reads the next one.

A PDF that stopped the helper is remembered by its sha256 (``MAX_REMEMBERED``): a second copy is
refused at once, without costing another helper. An embedded file that stops the helper after the
pages were read costs only itself: the pages stay, and the file comes back with the reason.

The wire between the processes is plain data: a JSON header, then raw byte buffers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from backends.documents.document import EmbeddedFile
from backends.documents.textlayer import PageText
from router.failures.errors import BadInputError

if TYPE_CHECKING:
    from router.policy.model import InputLimits

#: PDFs that stopped the helper, remembered by sha256 (the oldest forgotten first).
MAX_REMEMBERED = 10_000
#: How long a helper may take to start (its imports).
_START_S = 60.0
#: The helper's program: the pipes' descriptors and its memory cap come as arguments.
_HELPER = "import sys; from router.api.pdfreader import serve; serve(*map(int, sys.argv[1:]))"
#: Exit status of a helper that ran out of memory in Python code.
_OUT_OF_MEMORY = 70
#: A PDF as read: the pages read, the page count, text layers, pages rendered, embedded XML files.
PdfPages = tuple[list[int], int, list[PageText | None], dict[int, Image.Image], tuple[EmbeddedFile, ...]]


class ReaderStopped(Exception):
    """Internal: the helper died or ran past its time on the request; ``how`` says which."""

    def __init__(self, how: str):
        self.how = how
        super().__init__(how)


class PdfReader:
    """The parent's side: one helper, started on the first PDF and again after each death."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None  # the helper's answers
        self._out: Connection | None = None  # requests to the helper
        self._stopped: OrderedDict[str, str] = OrderedDict()
        self._memory_mb = 0  # the running helper's cap

    def read(self, data: bytes, limits: InputLimits, name: str, digest: str) -> PdfPages:
        """The PDF's pages, text layers, scans rendered and embedded XML, or ``BadInputError``."""
        with self._lock:
            self._refuse_known(digest, name)
            try:
                self._send({"op": "read", "limits": limits.model_dump(mode="json"), "name": name}, data, limits)
                header, buffers = self._receive(limits)
                if header["kind"] == "refused":  # the source may name a page
                    raise BadInputError(header.get("source", name), header["problem"])
                pages = _pages(header, buffers)
            except ReaderStopped as stopped:
                raise self._stopped_on(digest, name, stopped.how, limits) from None
            return (*pages, self._attachments(header["xml"], limits))

    def render(self, data: bytes, index: int, scale: float, limits: InputLimits, name: str, digest: str) -> Image.Image:
        """Page ``index`` (0-based) of a PDF already read, rendered; or ``BadInputError``."""
        with self._lock:
            self._refuse_known(digest, name)
            try:
                request = {"op": "render", "index": index, "scale": scale, "name": name}
                self._send({**request, "limits": limits.model_dump(mode="json")}, data, limits)
                header, buffers = self._receive(limits)
            except ReaderStopped as stopped:
                raise self._stopped_on(digest, f"{name} page {index + 1}", stopped.how, limits) from None
            if header["kind"] == "refused":
                raise BadInputError(header.get("source", f"{name} page {index + 1}"), header["problem"])
            return _image(header["page"], buffers[0])

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _attachments(self, names: list[str], limits: InputLimits) -> tuple[EmbeddedFile, ...]:
        files: list[EmbeddedFile] = []
        for name in names:
            try:
                header, buffers = self._receive(limits)
            except ReaderStopped as stopped:  # this file stopped the helper: it and those after it are lost
                problem = f"decoding it stopped the PDF reader ({stopped.how}): {_bounds(limits)}"
                return (*files, *(EmbeddedFile(n, None, problem) for n in names[len(files) :]))
            files.append(EmbeddedFile(name, buffers[0] if buffers else None, header.get("problem")))
        return tuple(files)

    def _refuse_known(self, digest: str, name: str) -> None:
        problem = self._stopped.get(digest)
        if problem is not None:
            raise BadInputError(name, f"{problem} (refused again without reading: the same bytes stopped it before)")

    def _stopped_on(self, digest: str, name: str, how: str, limits: InputLimits) -> BadInputError:
        self._stop()
        problem = f"PDF stopped the PDF reader ({how}): {_bounds(limits)}"
        self._stopped[digest] = problem
        while len(self._stopped) > MAX_REMEMBERED:
            self._stopped.popitem(last=False)
        return BadInputError(name, problem)

    def _send(self, header: dict[str, Any], data: bytes, limits: InputLimits) -> None:
        if self._process is None or self._process.poll() is not None or self._memory_mb != limits.pdf_reader_memory_mb:
            self._start(limits)
        assert self._out is not None
        try:
            self._out.send_bytes(json.dumps(header).encode())
            self._out.send_bytes(data)
        except OSError:  # it died between two documents
            raise ReaderStopped(self._death()) from None

    def _receive(self, limits: InputLimits) -> tuple[dict[str, Any], list[bytes]]:
        deadline = time.monotonic() + limits.pdf_read_timeout_s
        header = json.loads(self._next(deadline, limits))
        if header["kind"] == "error":  # never held against the document: an internal error
            raise RuntimeError(f"the PDF reader failed: {header['error']}")
        return header, [self._next(deadline, limits) for _ in range(header.get("buffers", 0))]

    def _next(self, deadline: float, limits: InputLimits) -> bytes:
        if self._conn is None:  # stopped on an earlier part of this answer
            raise ReaderStopped("stopped")
        try:
            if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                self._stop()
                raise ReaderStopped(f"no answer within {limits.pdf_read_timeout_s:g} s")
            return bytes(self._conn.recv_bytes())
        except (EOFError, OSError):
            raise ReaderStopped(self._death()) from None

    def _death(self) -> str:
        try:
            code = self._process.wait(5) if self._process is not None else None
        except subprocess.TimeoutExpired:
            code = None
        self._stop()
        if code == _OUT_OF_MEMORY:
            return "out of memory"
        return f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"

    def _start(self, limits: InputLimits) -> None:
        """A fresh helper: a plain ``python -c`` child (no re-import of the host's main module, as
        multiprocessing's spawn would do), talking over two pipes of its own; ready once it says so."""
        self._stop()
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        source = str(Path(__file__).resolve().parents[1])  # where ``router`` is, whatever the host's sys.path
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)}
        memory = str(limits.pdf_reader_memory_mb * 2**20)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _HELPER, str(to_child), str(from_child), memory],
                pass_fds=(to_child, from_child),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            os.close(to_child)
            os.close(from_child)
        self._out = Connection(from_parent, readable=False)
        self._conn = Connection(to_parent, writable=False)
        self._memory_mb = limits.pdf_reader_memory_mb
        try:
            ready = self._conn.poll(_START_S) and json.loads(self._conn.recv_bytes()).get("kind") == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:  # the machine's fault, not the document's: nothing is remembered against it
            self._stop()
            raise RuntimeError(f"the PDF reader process did not start within {_START_S:g} s")

    def _stop(self) -> None:
        for conn in (self._out, self._conn):
            if conn is not None:
                conn.close()
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(5)
        self._process = self._conn = self._out = None


def _bounds(limits: InputLimits) -> str:
    return (
        f"it needs more than the reader's {limits.pdf_reader_memory_mb} MiB or {limits.pdf_read_timeout_s:g} s "
        "(a decompression bomb), or crashes PDFium"
    )


def _pages(
    header: dict[str, Any], buffers: list[bytes]
) -> tuple[list[int], int, list[PageText | None], dict[int, Image.Image]]:
    layers = [PageText.from_wire(layer) if layer else None for layer in header["layers"]]
    rendered = {spec[0]: _image(spec[1:], buffer) for spec, buffer in zip(header["rendered"], buffers, strict=True)}
    return header["indices"], header["count"], layers, rendered


def _image(spec: list[Any], buffer: bytes) -> Image.Image:
    mode, width, height = spec
    return Image.frombytes(mode, (width, height), buffer)


#: The reader of the callers that bring none (``router.api.inputs.load_document`` without a router).
SHARED = PdfReader()


# The helper's side.


def serve(requests: int, answers: int, memory_bytes: int) -> None:
    """The helper's loop (on the pipes' descriptors): one request at a time, until the pipe closes."""
    # imported before the cap, so the cap is all for the PDF (numpy, which the visibility check
    # uses, maps more address space at import than the smallest cap leaves)
    import backends.documents.visibility  # noqa: F401
    from router.api.pdfpages import read_pdf_pages

    _cap_memory(memory_bytes)
    source, conn = Connection(requests, writable=False), Connection(answers, readable=False)
    conn.send_bytes(b'{"kind": "ready"}')
    while True:
        try:
            header = json.loads(source.recv_bytes())
            data = source.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            if header["op"] == "read":
                _serve_read(conn, data, header, read_pdf_pages)
            else:
                _serve_render(conn, data, header)
        except MemoryError:
            os._exit(_OUT_OF_MEMORY)
        except Exception as exc:  # a bug of ours, not the document's fault: said, and the helper goes on
            _reply(conn, {"kind": "error", "error": f"{type(exc).__name__}: {str(exc)[:200]}"})


def _cap_memory(memory_bytes: int) -> None:
    """Cap the address space at what is mapped now plus ``memory_bytes`` (never above a cap the
    caller's own host already set)."""
    import resource

    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = mapped + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _reply(conn: Any, header: dict[str, Any], buffers: Sequence[Any] = ()) -> None:
    """A header, then each buffer (bytes, or an image sent as its raw bytes: one copy at a time)."""
    conn.send_bytes(json.dumps({**header, "buffers": len(buffers)}).encode())
    for buffer in buffers:
        conn.send_bytes(buffer.tobytes() if isinstance(buffer, Image.Image) else buffer)


def _serve_read(conn: Any, data: bytes, header: dict[str, Any], read_pdf_pages: Any) -> None:
    from backends.documents import pdf as pdf_pages
    from router.policy.model import InputLimits

    try:
        with read_pdf_pages(data, InputLimits(**header["limits"]), header["name"]) as (pdf, pages):
            indices, count, layers, rendered = pages
            xml = pdf_pages.xml_attachments(pdf)
            specs = [[position, page.mode, *page.size] for position, page in rendered.items()]
            _reply(
                conn,
                {
                    "kind": "pages",
                    "indices": indices,
                    "count": count,
                    "layers": [layer.to_wire() if layer else None for layer in layers],
                    "rendered": specs,
                    "xml": [name for _, name in xml],
                },
                list(rendered.values()),
            )
            del rendered
            for attachment, name in xml:
                embedded = pdf_pages.read_attachment(attachment, name)
                _reply(conn, {"kind": "file", "problem": embedded.problem}, [embedded.data] if embedded.data else [])
    except BadInputError as exc:
        _reply(conn, {"kind": "refused", "source": exc.source, "problem": exc.problem})


def _serve_render(conn: Any, data: bytes, header: dict[str, Any]) -> None:
    import pypdfium2 as pdfium

    from backends.documents import pdf as pdf_pages
    from router.api.pdfpages import check_render_size
    from router.policy.model import InputLimits

    try:
        pdf = pdfium.PdfDocument(data)
        try:
            page = pdf[header["index"]]
            try:
                limits = InputLimits(**header["limits"])
                check_render_size(page, header["scale"], limits, f"{header['name']} page {header['index'] + 1}")
                image = pdf_pages.render(page, header["scale"])
            finally:
                page.close()
        finally:
            pdf.close()
    except pdfium.PdfiumError as exc:
        _reply(conn, {"kind": "refused", "problem": f"PDF page cannot be rendered ({exc})"})
        return
    except BadInputError as exc:
        _reply(conn, {"kind": "refused", "source": exc.source, "problem": exc.problem})
        return
    _reply(conn, {"kind": "page", "page": [image.mode, *image.size]}, [image])
