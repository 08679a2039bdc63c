"""Compression bombs in PDFs, however their filters are hidden, cost the capped reader process, not
the caller: one classified line per document, the caller's memory flat, and a rerun goes on.
The bombs are a few kilobytes, written by ``tests.router.hostile_pdfs``."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import httpx
import pytest

from backends.testing.synthetic_pdf import text_pdf
from router.api.inputs import load_document
from router.api.pdfreader import PdfReader
from router.failures.errors import BadInputError
from router.policy.model import InputLimits
from tests.router.hostile_pdfs import attachment_bomb, content_bomb, text_flood
from tests.router.service.test_service_process import free_port, wait_until_up
from tests.router.surfaces_kit import env, lines, policy_file, tier

#: The reader's cap in these tests (the smallest allowed: a bomb reaches it fastest).
LIMITS = InputLimits(pdf_reader_memory_mb=128)
RECEIPT = [["ACME STORE", "Date 14.03.2024", ("TOTAL", "27.10")] + [f"item {n} 1.00" for n in range(6)]]
#: The address space the whole process tree may use in the tests below.
TREE_LIMIT = 2 * 2**30
#: The most the caller's own process may reach while bombs go by (a router with an inline tier).
CALLER_PEAK_MIB = 300


@pytest.fixture
def reader():
    reader = PdfReader()
    yield reader
    reader.close()


def test_a_content_stream_bomb_is_refused_naming_the_readers_limit_and_a_second_copy_costs_nothing(reader):
    bomb = content_bomb(1024)
    with pytest.raises(BadInputError, match=r"stopped the PDF reader .*128 MiB"):
        load_document(bomb, LIMITS, name="bomb.pdf", reader=reader)
    started = time.monotonic()
    with pytest.raises(BadInputError, match="refused again without reading"):
        load_document(bomb, LIMITS, name="copy.pdf", reader=reader)
    assert time.monotonic() - started < 0.05
    document = load_document(text_pdf(RECEIPT), LIMITS, name="next.pdf", reader=reader)  # a fresh reader
    assert "TOTAL 27.10" in [line.text for line in document.text_layer[0].lines]


def test_an_attachment_bomb_behind_an_indirect_filter_costs_only_the_attachment(reader):
    """/Filter is ``6 0 R``, an array of two Flate passes: the reader decodes it whatever it says,
    dies at its cap, and the pages read before it stay."""
    document = load_document(attachment_bomb(1024), LIMITS, name="bomb.pdf", reader=reader)
    [embedded] = document.attachments
    assert embedded.name == "factur-x.xml" and embedded.data is None
    assert "stopped the PDF reader" in (embedded.problem or "")
    assert len(document.pages) == 1


def test_a_flood_of_characters_costs_the_reader_a_second_not_its_whole_timeout(reader):
    """Two kilobytes asked the reader to judge every character of pages of 38400 one by one (about
    3 s a page: 20 pages took the only reader's whole 60 s). A page with more characters than any
    receipt is read from its image instead, as a person reads it."""
    limits = InputLimits(pdf_reader_memory_mb=256, pdf_dpi=72)
    started = time.monotonic()
    document = load_document(text_flood(5), limits, name="flood.pdf", reader=reader)
    assert time.monotonic() - started < 5
    assert len(document.pages) == 5 and document.text_layer == (None,) * 5


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (TREE_LIMIT, TREE_LIMIT))


#: Runs the CLI, then prints the process's own peak RSS: VmHWM, the high-water mark of this
#: program's memory (getrusage's ru_maxrss would also count the forking parent's, kept across exec).
_CLI_WITH_PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    kib = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
    "    print('peak_rss_mib', kib // 1024, file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from router.cli import main\n"
    "sys.argv = ['docroute', *sys.argv[1:]]\n"
    "main()\n"
)


def _cli_under_limit(*args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    done = subprocess.run(
        [sys.executable, "-c", _CLI_WITH_PEAK, *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        preexec_fn=_limited,
        check=False,
    )
    peak = int(done.stderr.rsplit("peak_rss_mib", 1)[1].split()[0])
    print(f"{args[0]}: caller peak RSS {peak} MiB under a {TREE_LIMIT // 2**20} MiB address-space limit")
    return done, peak


def _bombs(folder):
    folder.mkdir()
    (folder / "a-attachment-bomb.pdf").write_bytes(attachment_bomb(4096))
    (folder / "b-content-bomb.pdf").write_bytes(content_bomb(4096))
    (folder / "c-receipt.pdf").write_bytes(text_pdf(RECEIPT))
    return sorted(folder.iterdir())


@pytest.mark.slow
def test_extract_under_a_memory_limit_gives_each_bomb_one_classified_line(tmp_path):
    docs = _bombs(tmp_path / "in")
    policy = policy_file(tmp_path, tier("a"), limits={"pdf_reader_memory_mb": 256})
    done, peak = _cli_under_limit("extract", "--policy", str(policy), *map(str, docs))
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1, done.stderr[-2000:]
    # the attachment bomb loses only its attachment: its page is read (the faulty tier answers any page)
    assert [r["status"] for r in results] == ["ok", "failed", "ok"]
    assert (
        results[1]["error"]["error_class"] == "bad_input" and "stopped the PDF reader" in results[1]["error"]["message"]
    )
    assert peak < CALLER_PEAK_MIB


@pytest.mark.slow
def test_a_batch_under_a_memory_limit_writes_a_line_for_each_bomb_and_a_rerun_goes_on(tmp_path):
    docs = _bombs(tmp_path / "in")
    out = tmp_path / "out.jsonl"
    policy = policy_file(tmp_path, tier("a"), limits={"pdf_reader_memory_mb": 256})
    first, peak = _cli_under_limit("batch", str(tmp_path / "in"), "--out", str(out), "-p", str(policy))
    assert first.returncode == 1, first.stderr[-2000:]
    by_input = {line["input"].rsplit("/", 1)[1]: line for line in lines(out)}
    assert sorted(by_input) == [d.name for d in docs]
    assert by_input["b-content-bomb.pdf"]["error"]["error_class"] == "bad_input"
    assert peak < CALLER_PEAK_MIB
    rerun, _ = _cli_under_limit("batch", str(tmp_path / "in"), "--out", str(out), "-p", str(policy))
    assert "already in the output 3" in rerun.stderr and len(lines(out)) == len(docs)  # none read again


@pytest.mark.slow
def test_the_service_under_a_memory_limit_refuses_a_bomb_with_422_and_serves_on(tmp_path):
    policy = policy_file(tmp_path, tier("a"), limits={"pdf_reader_memory_mb": 256})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "router", "serve", "--policy", str(policy), "--port", str(port)]
    process = subprocess.Popen(
        args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_limited
    )
    try:
        wait_until_up(base, process)
        codes = []
        for name, data in [("bomb.pdf", content_bomb(4096)), ("att.pdf", attachment_bomb(4096))] * 2 + [
            ("receipt.pdf", text_pdf(RECEIPT))
        ]:
            response = httpx.post(f"{base}/v1/extract", files={"file": (name, data, "application/pdf")}, timeout=60)
            codes.append(response.status_code)
        with open(f"/proc/{process.pid}/status") as status:
            peak = int(next(line for line in status if line.startswith("VmHWM")).split()[1]) // 1024
    finally:
        process.kill()
        process.communicate()
    print(f"serve: peak RSS {peak} MiB under a {TREE_LIMIT // 2**20} MiB address-space limit")
    assert codes == [422, 200, 422, 200, 200]
    assert peak < CALLER_PEAK_MIB
