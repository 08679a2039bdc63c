"""The shared Tesseract layer: one page image in, its text with lines and confidences out.

Tesseract runs as a subprocess writing TSV (``image_to_data``'s format) to stdout, so one run gives
the text, the layout and the confidences. It reads the page as an uncompressed BMP from an anonymous
in-memory file (Linux ``memfd``: nothing on disk, nothing left behind by a killed process), or as
PNG from stdin elsewhere; Tesseract reads stdin a byte at a time, so the file is ~15% faster. Each call gets its
own environment with ``OMP_THREAD_LIMIT`` set to the options' ``threads`` (1 by default: 2.7x faster
on receipts, identical output; run documents in parallel processes instead) without touching
``os.environ``, which would also throttle torch in a process that hosts a model. The binary is
``tesseract`` on the PATH, or ``pytesseract.pytesseract.tesseract_cmd`` when a program configured
pytesseract.

Failures: no binary, or no data for the language -> ``BackendUnavailable`` with the install hint;
past ``timeout_s`` -> the process is killed and ``TimeoutError`` raised; too little text ->
``InvalidOutput`` (a failure to escalate, never an answer). Messages carry counts, never the
document's text. Pages longer than ``max_side_px`` are reduced by an integer factor first: a
600-dpi scan reads as well at 300 dpi, five times faster (measured on SROIE's 4961x7016 scans).
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import re
import shutil
import subprocess
import sys
import time

from PIL import Image

from backends.documents.document import Document
from backends.errors import BackendUnavailable, InvalidOutput
from backends.ocr.result import OcrLine, OcrPage
from backends.options import OcrOptions

INSTALL_HINT = (
    "tesseract is not installed or not on the PATH: install it (Debian/Ubuntu: "
    "'sudo apt-get install tesseract-ocr', macOS: 'brew install tesseract') or set "
    "pytesseract.pytesseract.tesseract_cmd to the binary"
)


_MISSING_LANGUAGE = re.compile(r"Failed loading language|Error opening data file", re.IGNORECASE)


def tesseract_cmd() -> str | None:
    """The path of the tesseract binary to run, or None when there is none.

    A program that set ``pytesseract.pytesseract.tesseract_cmd`` has imported pytesseract, so it
    is only consulted when already imported (importing it costs numpy).
    """
    pytesseract = sys.modules.get("pytesseract.pytesseract")
    configured = str(getattr(pytesseract, "tesseract_cmd", "tesseract"))
    return shutil.which(configured)


def ocr_page(image: Image.Image, options: OcrOptions) -> OcrPage:
    """Read one page image. Raises ``InvalidOutput`` when it holds fewer than ``min_chars``."""
    page = _read(image, options)
    check_length(page, options)
    return page


def ocr_document(document: Document, options: OcrOptions) -> OcrPage:
    """Read every page of a document, joined; the length check applies to the whole."""
    page = OcrPage.join([_read(image, options) for image in document.pages])
    check_length(page, options)
    return page


def run_tesseract(image: Image.Image, options: OcrOptions) -> str:
    """Tesseract's TSV output for ``image``."""
    done = _tesseract(image, ["-l", options.lang, "--psm", str(options.psm), "tsv"], options)
    if done.returncode != 0:
        message = _last_line(done.stderr)
        if _MISSING_LANGUAGE.search(done.stderr.decode("utf-8", errors="replace")):
            raise BackendUnavailable(language_hint(options.lang))
        raise RuntimeError(f"tesseract exited with status {done.returncode}: {message}")
    return done.stdout.decode("utf-8", errors="replace")


def _tesseract(image: Image.Image, arguments: list[str], options: OcrOptions) -> subprocess.CompletedProcess[bytes]:
    """One run of the binary on ``image`` with ``arguments`` after its input and output."""
    binary = tesseract_cmd()
    if binary is None:
        raise BackendUnavailable(INSTALL_HINT)
    env = {**os.environ, "OMP_THREAD_LIMIT": str(options.threads)}
    fd = _memory_file(image)
    source, data = ("stdin", _encode(image)) if fd is None else (f"/dev/fd/{fd}", None)
    try:
        return subprocess.run(
            [binary, source, "stdout", *arguments],
            input=data,
            pass_fds=() if fd is None else (fd,),
            capture_output=True,
            env=env,
            timeout=options.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"tesseract took longer than timeout_s={options.timeout_s:g}s") from None
    finally:
        if fd is not None:
            os.close(fd)


def missing_languages(lang: str) -> list[str]:
    """The languages in ``lang`` (``"eng+deu"``) that this Tesseract has no data for."""
    binary = tesseract_cmd()
    if binary is None:
        return lang.split("+")
    listed = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=30, check=False)
    installed = set(listed.stdout.decode("utf-8", errors="replace").split()[1:]) if listed.returncode == 0 else set()
    return [name for name in lang.split("+") if name not in installed]


def language_hint(lang: str) -> str:
    packages = " ".join(f"tesseract-ocr-{name}" for name in lang.split("+"))
    return (
        f"tesseract has no data for language(s) {lang!r}: install it (Debian/Ubuntu: 'sudo apt-get install {packages}')"
    )


def parse_tsv(tsv: str, *, scale: int = 1) -> OcrPage:
    """An ``OcrPage`` from Tesseract's TSV: words grouped into lines by block, paragraph and line.

    ``scale`` maps positions back to the page when Tesseract read it reduced by that factor.
    """
    grouped: dict[tuple[str, str, str], list[list[str]]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        grouped.setdefault((cells[2], cells[3], cells[4]), []).append(cells)
    lines = tuple(_line(words, scale) for words in grouped.values())
    confidences = [float(w[10]) for words in grouped.values() for w in words if float(w[10]) >= 0]
    text = "\n".join(line.text for line in lines)
    return OcrPage(
        text=text,
        mean_confidence=sum(confidences) / len(confidences) if confidences else 0.0,
        words=len(confidences),
        chars=len(text),
        lines=lines,
    )


def _line(words: list[list[str]], scale: int) -> OcrLine:
    lefts = [int(w[6]) * scale for w in words]
    tops = [int(w[7]) * scale for w in words]
    rights = [(int(w[6]) + int(w[8])) * scale for w in words]
    bottoms = [(int(w[7]) + int(w[9])) * scale for w in words]
    confidences = [max(float(w[10]), 0.0) for w in words]
    return OcrLine(
        text=" ".join(w[11].strip() for w in words),
        confidence=sum(confidences) / len(confidences),
        left=min(lefts),
        top=min(tops),
        width=max(rights) - min(lefts),
        height=max(bottoms) - min(tops),
    )


def _memory_file(image: Image.Image) -> int | None:
    """The page as BMP in an anonymous in-memory file (its descriptor), or None without ``memfd``.

    BMP because Leptonica reads it as fast as a JPEG file while PIL writes it in ~2 ms; PNM reads
    slowly, and PNG costs ~50 ms to write for a receipt photo."""
    try:
        fd = os.memfd_create("docroute-page", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux, or a sandbox without memfd
        return None
    try:
        with open(fd, "wb", closefd=False) as file:
            _rgb_or_grey(image).save(file, format="BMP")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _encode(image: Image.Image) -> bytes:
    """The image as PNG with light compression, for stdin (small, so the slow read costs little)."""
    buffer = io.BytesIO()
    _rgb_or_grey(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _rgb_or_grey(image: Image.Image) -> Image.Image:
    return image if image.mode in ("RGB", "L", "1") else image.convert("RGB")


def check_length(page: OcrPage, options: OcrOptions) -> None:
    readable = len("".join(page.text.split()))
    if readable < options.min_chars:
        raise InvalidOutput(f"OCR read only {readable} characters, fewer than min_chars={options.min_chars}")


def _read(image: Image.Image, options: OcrOptions) -> OcrPage:
    """One page read by the options' engine: enlarged when small, turned upright when it reads poorly."""
    started = time.perf_counter()
    factor = enlargement(image.size, options.min_side_px)
    if factor > 1:
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.LANCZOS)
    page = _read_as_is(image, options)
    if options.orientation and poor(page, options):
        page = _upright(image, page, options)
    return dataclasses.replace(page, seconds=time.perf_counter() - started, enlarged=int(factor > 1))


def _read_as_is(image: Image.Image, options: OcrOptions) -> OcrPage:
    if options.engine == "rapidocr":
        from backends.ocr.rapid import read_rapidocr

        return read_rapidocr(image, options.threads)
    factor = reduction(image.size, options.max_side_px)
    return parse_tsv(run_tesseract(image.reduce(factor) if factor > 1 else image, options), scale=factor)


#: Below this mean word confidence a reading is poor enough to check the page's orientation.
POOR_CONFIDENCE = 60.0


def poor(page: OcrPage, options: OcrOptions) -> bool:
    """Whether a reading is worth checking the page's orientation: little text or low confidence."""
    readable = len("".join(page.text.split()))
    return page.sideways or readable < max(2 * options.min_chars, 80) or page.mean_confidence < POOR_CONFIDENCE


def _upright(image: Image.Image, page: OcrPage, options: OcrOptions) -> OcrPage:
    """The better of ``page`` and a reading of the image turned as Tesseract's OSD says."""
    angle = detect_rotation(image, options)
    if not angle:
        return page
    turned = _read_as_is(image.rotate(-angle, expand=True), options)
    better = turned.quality > page.quality or (page.sideways and not turned.sideways)
    return dataclasses.replace(turned, rotated=1) if better else page


_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_OSD_CONFIDENCE = re.compile(r"Orientation confidence:\s*([\d.]+)")
#: OSD's orientation confidence below which its answer is a guess.
MIN_OSD_CONFIDENCE = 1.0


def detect_rotation(image: Image.Image, options: OcrOptions) -> int:
    """Degrees clockwise that turn the page upright (0, 90, 180, 270), by Tesseract's OSD; 0 when
    it cannot tell (too little text, no OSD data, no binary)."""
    try:
        done = _tesseract(image, ["--psm", "0"], options)
    except (BackendUnavailable, TimeoutError):
        return 0
    report = done.stdout.decode("utf-8", errors="replace")
    angle, confidence = _ROTATE.search(report), _OSD_CONFIDENCE.search(report)
    if done.returncode != 0 or angle is None or confidence is None:
        return 0
    return int(angle.group(1)) % 360 if float(confidence.group(1)) >= MIN_OSD_CONFIDENCE else 0


def enlargement(size: tuple[int, int], min_side_px: int) -> int:
    """The integer factor (at most 4) that brings a page's shorter side to ``min_side_px`` (1: as it is)."""
    if not min_side_px or min(size) >= min_side_px:
        return 1
    return min(4, math.ceil(min_side_px / max(min(size), 1)))


def reduction(size: tuple[int, int], max_side_px: int) -> int:
    """The integer factor that brings a page's longer side within ``max_side_px`` (1: as it is)."""
    if not max_side_px or max(size) <= max_side_px:
        return 1
    return math.ceil(max(size) / max_side_px)


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    return lines[-1][:300] if lines else "no message"
