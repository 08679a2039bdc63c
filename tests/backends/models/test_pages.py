"""Multi-page documents in the vision tiers: which pages are read, and how their answers merge.

The page loop runs in a vision backend whose model text is scripted per page (the one edge faked
here); the tiny InternVL models then run the same loop on real generations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from backends import registry
from backends.documents.document import Document
from backends.errors import InvalidOutput
from backends.fields.postprocess.pages import combine_meta, merge_pages, reading_order
from backends.models.internvl import InternVLBackend
from backends.models.model_backend import VisionBackend
from backends.schema import ReceiptFields
from tests.backends.conftest import model_options
from tests.backends.receipts import ANSWER_FIELDS, receipt_image


@pytest.mark.parametrize(
    ("pages", "limit", "order"),
    [(1, 3, [0]), (2, 3, [0, 1]), (5, 3, [0, 4, 1]), (5, 10, [0, 4, 1, 2, 3]), (4, 1, [0])],
)
def test_pages_are_read_first_last_then_in_between(pages, limit, order):
    assert reading_order(pages, limit) == order


def test_the_earliest_page_names_the_merchant_and_the_latest_total_wins_with_its_raw_text():
    merged = merge_pages(
        {
            2: ReceiptFields(total="25.00", total_raw="RM 25.00", line_items=[{"description": "B", "amount": "15"}]),
            0: ReceiptFields(
                merchant="ACME", date="2024-03-01", total="10.00", line_items=[{"description": "A", "amount": "10"}]
            ),
            1: ReceiptFields(merchant="ACME BRANCH 2", address="1 Main St"),
        }
    )
    assert (merged.merchant, merged.date, merged.address) == ("ACME", "2024-03-01", "1 Main St")
    assert (merged.total, merged.total_raw) == ("25.00", "RM 25.00")
    assert [item.description for item in merged.line_items] == ["A", "B"]  # page order, not reading order


def test_page_metadata_adds_counts_and_timings_and_ors_flags():
    combined = combine_meta(
        [
            {"tiles": 3, "generate_s": 0.5, "json_repaired": False, "model": "m"},
            {"tiles": 2, "generate_s": 0.25, "json_repaired": True, "model": "m"},
        ]
    )
    assert combined == {"tiles": 5, "generate_s": 0.75, "json_repaired": True, "model": "m"}


class ScriptedVision(VisionBackend):
    """A vision backend whose model text per page is given: page i is an image i+1 pixels wide."""

    kind = "scripted"

    def __init__(self, texts: list[str], pages_read: int = 3):
        super().__init__(model_options("internvl3", Path("/nowhere"), pages_read=pages_read))
        self.texts = texts
        self.seen: list[int] = []
        self.rounds: list[list[int]] = []

    def load(self) -> None:
        return None

    def _answer_pages(self, pages: Sequence[Image.Image]) -> list[tuple[str, dict[str, Any]]]:
        self.rounds.append([page.width - 1 for page in pages])
        self.seen.extend(self.rounds[-1])
        return [(self.texts[page.width - 1], {"new_tokens": 10}) for page in pages]


def pages(count: int) -> Document:
    images = tuple(Image.new("RGB", (i + 1, 8), "white") for i in range(count))
    return Document(sha256="0" * 64, pages=images, media_type="application/pdf", source="x.pdf", size_bytes=1)


def answer(**fields: str) -> str:
    return json.dumps(fields)


def test_an_invoice_with_the_total_on_its_last_page_is_read_from_its_first_and_last_pages():
    texts = [answer(merchant="ACME", date="2024-03-01"), "{}", "{}", answer(total="99.50")]
    backend = ScriptedVision(texts)
    extraction = backend.extract(pages(4))
    assert extraction.fields.model_dump(include={"merchant", "date", "total"}) == {
        "merchant": "ACME",
        "date": "2024-03-01",
        "total": "99.50",
    }
    assert backend.seen == [0, 3]  # found merchant, date and total: pages 2 and 3 never generated
    assert extraction.meta["pages_read"] == [1, 4] and extraction.meta["pages"] == 4
    assert extraction.meta["new_tokens"] == 20


def test_a_page_that_gives_no_answer_is_passed_over():
    texts = ["I cannot read this", answer(merchant="ACME"), answer(date="2024-03-01", total="5.00")]
    extraction = ScriptedVision(texts).extract(pages(3))
    assert extraction.fields.present() == {"merchant", "date", "total"}
    assert extraction.meta["pages_read"] == [1, 2, 3]


def test_pages_read_bounds_the_generations_and_no_answer_anywhere_names_each_page():
    backend = ScriptedVision(["no", "nothing", "nope", "never"], pages_read=2)
    with pytest.raises(InvalidOutput) as caught:
        backend.extract(pages(4))
    assert backend.seen == [0, 3]
    assert str(caught.value).startswith("page 1: ") and "; page 4: " in str(caught.value)


def test_a_one_page_document_reads_as_before():
    backend = ScriptedVision(["no answer here"])
    with pytest.raises(InvalidOutput) as caught:
        backend.extract(pages(1))
    assert not str(caught.value).startswith("page")


@pytest.mark.parametrize(
    ("kind", "checkpoint", "extra"),
    [("internvl3", "internvl_taught", {"max_tiles": 4}), ("llama_vision", "mllama_taught", {})],  # as taught
)
def test_a_real_model_stops_after_the_first_page_when_it_holds_every_core_field(kind, checkpoint, extra, request):
    backend = registry.create(model_options(kind, request.getfixturevalue(checkpoint), **extra))
    image = receipt_image()
    three = Document(sha256="1" * 64, pages=(image,) * 3, media_type="application/pdf", source="r.pdf", size_bytes=9)
    extraction = backend.extract(three)
    assert extraction.fields.model_dump(include=set(ANSWER_FIELDS)) == ANSWER_FIELDS
    assert extraction.meta["pages_read"] == [1] and extraction.meta["pages"] == 3


def test_a_real_models_garbage_on_every_page_read_is_invalid_output(internvl_random):
    backend = InternVLBackend(model_options("internvl3", internvl_random, pages_read=2))
    image = receipt_image()
    two = Document(sha256="2" * 64, pages=(image, image), media_type="application/pdf", source="g.pdf", size_bytes=9)
    with pytest.raises(InvalidOutput, match=r"^page 1: .*; page 2: "):
        backend.extract(two)


@pytest.mark.gpu
@pytest.mark.parametrize(("kind", "checkpoint"), [("internvl3", "internvl_taught"), ("llama_vision", "mllama_taught")])
def test_a_three_page_document_on_cuda_reads_page_one_and_answers(kind, checkpoint, request):
    """In a child process (the test process stays CUDA-free): the same page loop on cuda:0."""
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from backends import registry\n"
        "from backends.documents.document import Document\n"
        "from tests.backends.conftest import model_options\n"
        "from tests.backends.tiny_models import receipt_image\n"
        "extra = {'max_tiles': 4} if sys.argv[1] == 'internvl3' else {}\n"
        "options = model_options(sys.argv[1], sys.argv[2], device='cuda', **extra)\n"
        "backend = registry.create(options)\n"
        "page = receipt_image()\n"
        "doc = Document(sha256='3' * 64, pages=(page,) * 3, media_type='application/pdf', source='r.pdf',\n"
        "               size_bytes=9)\n"
        "extraction = backend.extract(doc)\n"
        "print(json.dumps({'fields': extraction.fields.model_dump(include=set(sys.argv[3].split(','))),\n"
        "                  'pages_read': extraction.meta['pages_read'], 'device': extraction.meta['device']}))\n"
    )
    model = str(request.getfixturevalue(checkpoint))
    root = Path(__file__).resolve().parents[3]
    args = [sys.executable, "-c", code, kind, model, ",".join(ANSWER_FIELDS)]
    out = subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"fields": ANSWER_FIELDS, "pages_read": [1], "device": "cuda:0"}


def test_a_batch_reads_every_documents_next_page_in_the_same_round():
    """Each round is one generate call: the next page of every document that still needs one."""
    backend = ScriptedVision(
        [answer(merchant="ACME", date="2024-03-01"), "{}", answer(total="5.00"), answer(total="9")]
    )
    results = backend.extract_batch([pages(4), pages(1), pages(3)])
    assert backend.rounds == [[0, 0, 0], [3, 2]]  # the one-page document is done after round 1
    assert [r.meta["pages_read"] for r in results] == [[1, 4], [1], [1, 3]]  # type: ignore[union-attr]
    assert [r.fields.total for r in results] == ["9.00", None, "5.00"]  # type: ignore[union-attr]
    assert all(r.meta["batch_size"] == 3 for r in results)  # type: ignore[union-attr]
