"""One worker process, driven directly: a sticky error poisons that process only; timeouts at
start-up and while serving come back as data; pages cross through shared memory intact."""

from __future__ import annotations

import hashlib
import os

import pytest
from PIL import Image

from backends.documents.document import Document
from backends.options import FaultyOptions
from router.failures.errors import ErrorClass
from router.workers import transport
from router.workers.process import WorkerFailure, WorkerProcess
from tests.router.fakes import document as fake_document


def document() -> Document:
    """A document with a hex sha256 (the faulty backend's triggers match on it)."""
    doc = fake_document()
    return fake_document(hashlib.sha256(doc.sha256.encode()).hexdigest())


def _worker(**options) -> WorkerProcess:
    worker = WorkerProcess(FaultyOptions(cuda="off", **options), name="test-worker", generation=1)
    worker.spawn()
    return worker


def test_after_a_sticky_error_every_call_in_that_process_fails_until_a_new_process_serves():
    poison = document()
    worker = _worker(triggers={poison.sha256[:16]: "sticky_cuda"})
    try:
        worker.wait_ready(30)
        assert worker.request("ok-1", document(), 5)["fields"]["merchant"] == "FAULTY MART"
        for request_id, doc in (("poison", poison), ("innocent", document())):
            with pytest.raises(WorkerFailure) as failed:
                worker.request(request_id, doc, 5)
            verdict = failed.value.failure  # classified once, where the child's report entered
            assert (verdict.error_class, verdict.signature) == (ErrorClass.STICKY_CUDA, "cuda_device_assert")
            assert failed.value.info.pid == worker.pid != os.getpid()
        assert list(worker.recent) == ["ok-1", "poison", "innocent"]
    finally:
        worker.stop(0.5, graceful=False)
    fresh = _worker()
    try:
        fresh.wait_ready(30)
        assert fresh.request("ok-2", document(), 5)["fields"]["merchant"] == "FAULTY MART"
    finally:
        assert fresh.stop(0.5, graceful=True) and fresh.exitcode == 0
    assert not fresh.stop(0.5, graceful=True)  # stopping twice is harmless


def test_a_slow_start_up_times_out_as_data():
    worker = _worker(startup_s=30)
    try:
        with pytest.raises(WorkerFailure) as failed:
            worker.wait_ready(0.3)
        assert failed.value.stage == "start-up"
        assert failed.value.failure.error_class is ErrorClass.TIMEOUT  # born with its class
    finally:
        assert worker.stop(0.5, graceful=False) and worker.exitcode == -15


def test_a_hung_request_times_out_and_stop_kills_the_process():
    hang = document()
    worker = _worker(triggers={hang.sha256[:16]: "hang"})
    try:
        worker.wait_ready(30)
        with pytest.raises(WorkerFailure) as failed:
            worker.request("hang", hang, 0.3)
        assert failed.value.info.type == "router.core.runners.AttemptTimeout"
        assert "gave no answer within 0.3s" in failed.value.info.message
    finally:
        assert worker.stop(0.5, graceful=True) and worker.exitcode in (-15, -9)


def _pages() -> tuple[Image.Image, ...]:
    rgb = Image.radial_gradient("L").convert("RGB").resize((301, 203))
    rgb.putpixel((5, 7), (1, 2, 3))
    gray = Image.linear_gradient("L").resize((40, 30))
    return rgb, gray


@pytest.mark.parametrize("region_size", [transport.SLICE_BYTES, 1000])
def test_pages_cross_to_the_worker_bit_for_bit_through_the_region_or_the_pipe(region_size):
    pages = _pages()
    original = Document("abc123", pages, "image/png", "x.png", 99)
    region = transport.PageRegion.create(region_size)
    attached = transport.PageRegion(region.path, region.size, create=False)
    try:
        header, overflow = transport.pack(original, region)
        assert len(overflow) == (0 if region_size > 1000 else 2)
        again = transport.unpack(header, attached, overflow)
    finally:
        region.unlink()
        region.close()
        attached.close()
    assert (again.sha256, again.media_type, again.source, again.size_bytes) == ("abc123", "image/png", "x.png", 99)
    assert [(p.mode, p.size, p.tobytes()) for p in again.pages] == [(p.mode, p.size, p.tobytes()) for p in pages]
    assert header["pages"][0]["rawmode"] == "RGBX"


def test_a_document_over_one_requests_slice_is_known_to_overflow():
    small = Document("s", (Image.new("RGB", (1000, 1400)),), "image/png", "s.png", 1)
    huge = Document("h", (Image.new("RGB", (5000, 4000)),), "image/png", "h.png", 1)  # 80 MB as RGBX
    assert not transport.overflows(small) and transport.overflows(huge)
