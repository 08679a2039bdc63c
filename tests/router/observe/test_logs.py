"""The decision log: JSON lines with stable fields, to a file and stderr at once, no content by default."""

import io
import json

import pytest

from router.api.router import Router
from router.observe import logs
from router.policy.model import LoggingPolicy, policy_from_dict
from tests.router.fakes import GOOD, Script, make_engine, run


@pytest.fixture
def restore_logging():
    yield
    logs.configure(stderr=False)


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, "PNG")
    return buffer.getvalue()


GOOD_PNG = _png()


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


HOST = """
import io, json, logging, sys
import structlog
from PIL import Image
from router import Router
from router.api import memory
from router.policy.model import policy_from_dict

seen = []
def keep(_, __, event):
    seen.append(dict(event))
    raise structlog.DropEvent
structlog.configure(processors=[keep])
config = structlog.get_config()
root_handler = logging.StreamHandler(sys.stderr)
logging.getLogger().addHandler(root_handler)
tier = {'name': 'f', 'backend': {'kind': 'faulty'}, 'isolation': 'inline'}
buffer = io.BytesIO(); Image.new('RGB', (20, 20)).save(buffer, 'PNG')
with Router(policy_from_dict({'tiers': [tier]}), hold_malloc=HOLD) as router:
    assert router.extract(buffer.getvalue()).status == 'ok'
print(json.dumps({
    "config_untouched": structlog.get_config() == config,
    "root_handlers": logging.getLogger().handlers == [root_handler],
    "docroute_handlers": len(logging.getLogger("docroute").handlers),
    "events": [e["event"] for e in seen],
    "content": any("FAULTY MART" in json.dumps(e, default=str) for e in seen if "policy_spec" not in e),
    "malloc_held": memory._held is not None,
}))
"""


@pytest.mark.parametrize("hold", [False, True])
def test_a_router_is_a_guest_the_hosts_logging_and_allocator_stay_as_the_host_set_them(hold):
    """A router configures neither structlog, nor the stdlib loggers, nor malloc (unless asked);
    its events reach the host's structlog configuration, without document content."""
    import os
    import subprocess
    import sys

    code = HOST.replace("HOLD", str(hold))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    report = json.loads(out.stdout)
    assert report["config_untouched"] and report["root_handlers"] and report["docroute_handlers"] == 0
    assert report["events"][0] == "router.starting" and "request.done" in report["events"]
    assert not report["content"] and report["malloc_held"] is hold
    assert out.stderr == ""


def _router(name: str, path, log_content: bool) -> Router:
    tier = {"name": "f", "backend": {"kind": "faulty"}, "isolation": "inline"}
    logging_policy = {"json_path": str(path), "log_content": log_content, "stderr": False}
    return Router(policy_from_dict({"name": name, "logging": logging_policy, "tiers": [tier]}))


def test_two_routers_in_one_process_keep_their_own_log_files_and_content_settings(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    a, b = _router("a", tmp_path / "a.jsonl", True), _router("b", tmp_path / "b.jsonl", False)
    with a, b, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: (a if n % 2 else b).extract(GOOD_PNG, request_id=f"r{n}"), range(12)))
    assert all(r.status == "ok" for r in results)
    for router, path, ids, content in ((a, "a", {"r1", "r3", "r5", "r7", "r9", "r11"}, True), (b, "b", None, False)):
        logged = events_of(tmp_path / f"{path}.jsonl")
        ids = ids or {f"r{n}" for n in range(0, 12, 2)}
        assert {e["request_id"] for e in logged if "request_id" in e} == ids
        assert {e["policy_hash"] for e in logged} == {router.policy_hash}
        succeeded = [e for e in logged if e["event"] == "attempt.succeeded"]
        assert len(succeeded) == 6 and all(("fields" in e) is content for e in succeeded)
        assert logged[0]["event"] == "router.starting" and logged[-1]["event"] == "router.closed"


def test_the_start_event_caps_free_text(tmp_path):
    path = tmp_path / "log.jsonl"
    tier = {"name": "f", "backend": {"kind": "faulty"}, "isolation": "inline"}
    policy = policy_from_dict({"description": "x" * 4000, "logging": {"json_path": str(path)}, "tiers": [tier]})
    Router(policy).close()
    start = events_of(path)[0]
    assert start["event"] == "router.starting" and len(json.dumps(start)) < 3000
    assert start["policy_spec"]["description"].endswith("... (4000 chars)")


def test_a_host_may_pass_its_own_logger_and_gets_every_event_of_that_router_only():
    from structlog.testing import CapturingLogger

    tier = {"name": "f", "backend": {"kind": "faulty"}, "isolation": "inline"}
    mine, theirs = CapturingLogger(), CapturingLogger()
    with (
        Router(policy_from_dict({"name": "mine", "tiers": [tier]}), logger=mine) as router,
        Router(policy_from_dict({"name": "theirs", "tiers": [tier]}), logger=theirs),
    ):
        result = router.extract(GOOD_PNG, request_id="host-1")
    names = [call.args[0] for call in mine.calls]
    assert names[0] == "router.starting" and names[-1] == "router.closed" and "request.done" in names
    assert {c.kwargs["request_id"] for c in mine.calls if "request_id" in c.kwargs} == {result.request_id}
    assert [call.args[0] for call in theirs.calls] == ["router.starting", "router.closed"]
    assert all(c.method_name in ("info", "warning") for c in mine.calls)


UNCONFIGURED_HOST = """
import io
from PIL import Image
from router import Router
from router.policy.model import policy_from_dict

tiers = [
    {'name': 'flaky', 'backend': {'kind': 'faulty', 'faults': {'garbage': 1.0}}, 'isolation': 'inline'},
    {'name': 'f', 'backend': {'kind': 'faulty'}, 'isolation': 'inline'},
]
buffer = io.BytesIO(); Image.new('RGB', (20, 20)).save(buffer, 'PNG')
with Router(policy_from_dict({'tiers': tiers})) as router:
    for _ in range(3):
        assert router.extract(buffer.getvalue()).status == 'degraded'
from router.observe.logs import get_logger
get_logger().info('batch.started', inputs=3)  # outside any router: a batch's events
get_logger().warning('route.fallback', text='FAULTY MART receipt text')
"""


def test_a_host_that_configured_no_logging_gets_nothing_on_stdout_and_only_warnings_on_stderr():
    """structlog unconfigured would print every event on the host's stdout (a host printing JSON
    there breaks): the events go to the stdlib logger ``docroute`` instead, as any library's."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", UNCONFIGURED_HOST], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert lines and all(line.startswith(("attempt.failed", "attempt.rejected", "route.fallback")) for line in lines)
    assert lines[-1] == "route.fallback " and "batch.started" not in out.stderr  # content stripped, info silent
    assert "FAULTY MART" not in out.stderr


def test_a_router_refuses_a_log_path_that_is_not_a_log_and_makes_no_folders(tmp_path):
    """The checks the commands make on --log-json hold for the API's log_json= and a policy's
    logging.json_path: events are never appended to an image, and no folder is made unasked."""
    image = tmp_path / "receipt.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    tier = {"name": "f", "backend": {"kind": "faulty"}, "isolation": "inline"}
    with pytest.raises(ValueError, match="is not a docroute log"):
        Router(policy_from_dict({"tiers": [tier]}), log_json=image)
    assert image.read_bytes() == b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    missing = tmp_path / "no" / "such" / "folder" / "log.jsonl"
    with pytest.raises(ValueError, match="does not exist"):
        Router(policy_from_dict({"logging": {"json_path": str(missing)}, "tiers": [tier]}))
    assert not (tmp_path / "no").exists()
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(missing)
    with pytest.raises(ValueError, match="symbolic link to a missing file"):
        Router(policy_from_dict({"tiers": [tier]}), log_json=dangling)
