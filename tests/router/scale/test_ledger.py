"""The ledger and the parts that a retried batch reads (no Ray needed: plain files on the output folder)."""

from __future__ import annotations

from router.scale.ledger import Ledger
from router.scale.output import write_part, written_part


def test_a_note_tells_a_crash_in_flight_from_an_answer_lost_before_its_part_was_written(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.begin("/in/a.png")  # the process dies while routing a
    ledger.begin("/in/b.png")
    ledger.finish("/in/b.png")  # b was answered, then the process died before the part was written
    assert (ledger.crashes("/in/a.png"), ledger.answered("/in/a.png")) == (1, False)
    assert (ledger.crashes("/in/b.png"), ledger.answered("/in/b.png")) == (0, True)

    ledger.begin("/in/a.png")  # routed again, alone, and it crashes the process again
    assert ledger.crashes("/in/a.png") == 2
    ledger.finish("/in/a.png")
    ledger.written(["/in/a.png", "/in/b.png"])
    assert not list(ledger.folder.iterdir())  # nothing left once the part is written


def test_a_retried_batch_reads_its_part_when_it_was_written_whole_and_only_then(tmp_path):
    batch = ["/in/a.png", "/in/b.png"]
    assert written_part(tmp_path, batch) is None
    write_part(tmp_path, batch, [{"input": "/in/b.png", "status": "ok"}, {"input": "/in/a.png", "status": "failed"}])

    assert [line["input"] for line in written_part(tmp_path, batch) or []] == batch  # in the batch's order
    assert written_part(tmp_path, ["/in/a.png"]) is None  # another batch, another part
