"""The event registry: the doc is rendered from it, and it rejects events that drift from it."""

from __future__ import annotations

from router import events
from router.forensics import schemadoc
from tests.router.fakes import GOOD, Script, make_engine, run

GOOD_EVENT = {
    "event": "tier.skipped",
    "ts": "2025-01-01T00:00:00.000001Z",
    "level": "info",
    "pid": 1,
    "schema_version": events.SCHEMA_VERSION,
    "request_id": "r",
    "policy_hash": "abc",
    "tier": "vision",
    "backend": "faulty",
    "reason": "breaker_open",
    "detail": None,
}


def test_log_schema_doc_is_rendered_from_the_registry():
    assert schemadoc.DOC.read_text(encoding="utf-8") == schemadoc.render()
    assert schemadoc.main(["--check"]) == 0


def test_validate_accepts_a_conforming_event_and_names_every_drift():
    assert events.validate(GOOD_EVENT) == []
    drifted = {**GOOD_EVENT, "reason": 3, "surprise": 1}
    del drifted["tier"]
    assert sorted(events.validate(drifted)) == [
        "tier.skipped.reason: expected string, got int",
        "tier.skipped: missing field 'tier'",
        "tier.skipped: undeclared field 'surprise'",
    ]
    assert events.validate({**GOOD_EVENT, "event": "tier.skiped"}) == ["unknown event 'tier.skiped'"]


def test_engine_events_match_the_registry_including_content_when_opted_in():
    from structlog.testing import capture_logs

    with capture_logs() as captured:
        run(make_engine({"a": Script([RuntimeError("CUDA out of memory"), GOOD]), "b": Script([GOOD])})[0])
    common = {k: GOOD_EVENT[k] for k in ("ts", "level", "pid", "schema_version")}
    for event in captured:
        event = {**common, **event, "level": event.get("log_level", "info")}
        event.pop("log_level", None)
        assert events.validate(event) == [], event


def test_model_tiers_carry_the_opentelemetry_model_attribute():
    from backends.options import LlamaVisionOptions

    assert events.gen_ai_attributes(LlamaVisionOptions(model="/models/llama")) == {
        "gen_ai.request.model": "/models/llama"
    }
    assert events.gen_ai_attributes(object()) == {}


def test_every_event_name_in_the_router_source_is_in_the_registry():
    """A new event cannot be logged without being documented: scan the log calls in src/router."""
    import ast
    from pathlib import Path

    source = Path(events.__file__).parent
    logged: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"debug", "info", "warning", "error", "exception"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and "." in node.args[0].value
            ):
                logged.add(node.args[0].value)
    assert {"request.received", "worker.recycled", "router.starting"} <= logged
    assert logged - set(events.BY_NAME) == set()
