"""The decision log: JSON lines with stable fields, to a file and stderr at once, no content by default."""

import io
import json

import pytest

from router import logs
from router.policy import LoggingPolicy
from tests.router.fakes import GOOD, Script, make_engine, run


@pytest.fixture
def restore_logging():
    yield
    logs.configure(stderr=False)


def events_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_events_go_to_a_json_file_and_stderr_at_once(tmp_path, restore_logging):
    stream = io.StringIO()
    logs.configure(LoggingPolicy(format="json"), json_path=tmp_path / "log.jsonl", stream=stream)
    engine, _ = make_engine({"a": Script([GOOD])})
    result = run(engine)
    from_file = events_of(tmp_path / "log.jsonl")
    from_stderr = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert from_file == from_stderr
    assert from_file[0]["event"] == "request.received"
    for event in from_file:
        assert event["request_id"] == result.request_id
        assert event["schema_version"] == logs.SCHEMA_VERSION
        assert {"ts", "level", "pid", "policy_hash"} <= event.keys()


def test_extracted_values_stay_out_of_the_log_by_default(tmp_path, restore_logging):
    logs.configure(LoggingPolicy(stderr=False), json_path=tmp_path / "log.jsonl")
    run(make_engine({"a": Script([GOOD])})[0])
    text = (tmp_path / "log.jsonl").read_text()
    assert "ACME" not in text and "9.50" not in text
    succeeded = next(e for e in events_of(tmp_path / "log.jsonl") if e["event"] == "attempt.succeeded")
    assert succeeded["fields_present"] == ["date", "merchant", "total"]
    assert "fields" not in succeeded


def test_a_policy_can_opt_in_to_content(tmp_path, restore_logging):
    logs.configure(LoggingPolicy(stderr=False, log_content=True), json_path=tmp_path / "log.jsonl")
    run(make_engine({"a": Script([GOOD])})[0])
    succeeded = next(e for e in events_of(tmp_path / "log.jsonl") if e["event"] == "attempt.succeeded")
    assert succeeded["fields"]["merchant"] == "ACME"


def test_console_rendering_for_people(restore_logging):
    stream = io.StringIO()
    logs.configure(LoggingPolicy(format="console"), stream=stream)
    run(make_engine({"a": Script([GOOD])})[0])
    first = stream.getvalue().splitlines()[0]
    assert "request.received" in first and not first.startswith("{")


def test_console_leaves_out_what_only_machines_read(restore_logging):
    stream = io.StringIO()
    logs.configure(LoggingPolicy(format="console"), stream=stream)
    logs.get_logger().info("router.starting", tiers=["a"], policy_spec={"tiers": ["..."] * 50})
    assert "router.starting" in stream.getvalue() and "policy_spec" not in stream.getvalue()


def test_every_line_is_complete_even_mid_run(tmp_path, restore_logging):
    """Each event is flushed as one whole line: a reader (or a crash) never sees half an event."""
    path = tmp_path / "log.jsonl"
    logs.configure(LoggingPolicy(stderr=False), json_path=path)
    engine, _ = make_engine({"a": Script([GOOD])})
    for _ in range(5):
        run(engine)
        assert path.read_text().endswith("\n")
        events_of(path)  # parses


def test_the_file_rotates_at_its_size(tmp_path, restore_logging):
    path = tmp_path / "log.jsonl"
    logs.configure(LoggingPolicy(stderr=False, rotate_bytes=2000, backups=2), json_path=path)
    engine, _ = make_engine({"a": Script([GOOD])})
    for _ in range(10):
        run(engine)
    assert (tmp_path / "log.jsonl.1").exists() and not (tmp_path / "log.jsonl.3").exists()


def test_values_never_enter_events_by_default_whatever_the_hosts_logging_config(restore_logging):
    """Redaction is not left to a processor a host's own structlog config may not have."""
    from structlog.testing import capture_logs

    logs.configure(LoggingPolicy(stderr=False))
    with capture_logs() as events:
        run(make_engine({"a": Script([GOOD])})[0])
    succeeded = next(e for e in events if e["event"] == "attempt.succeeded")
    assert "fields" not in succeeded and succeeded["fields_present"] == ["date", "merchant", "total"]


def test_a_router_that_leaves_logging_to_its_host_prints_nothing_on_stdout():
    import subprocess
    import sys

    code = (
        "import io\n"
        "from PIL import Image\n"
        "from router import Router\n"
        "from router.policy import policy_from_dict\n"
        "tier = {'name': 'f', 'backend': {'kind': 'faulty'}, 'isolation': 'inline'}\n"
        "buffer = io.BytesIO(); Image.new('RGB', (20, 20)).save(buffer, 'PNG')\n"
        "with Router(policy_from_dict({'tiers': [tier]}), configure_logging=False) as router:\n"
        "    assert router.extract(buffer.getvalue()).status == 'ok'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "" and "FAULTY MART" not in out.stderr
