"""The event registry: the doc is rendered from it, and it rejects events that drift from it."""

from __future__ import annotations

import pytest

from router.forensics import schemadoc
from router.observe import events
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


def _literal_log_calls() -> dict[str, set[str]]:
    """Per module of src/router, the dotted event names passed as string literals to log methods."""
    import ast
    from pathlib import Path

    found: dict[str, set[str]] = {}
    for path in Path(events.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"debug", "info", "warning", "error", "exception", "critical", "msg"}
                and node.args
                and isinstance(node.args[0], (ast.Constant, ast.JoinedStr))
                and "." in ast.unparse(node.args[0])
            ):
                found.setdefault(path.name, set()).add(ast.unparse(node.args[0]).strip("'\""))
    return found


def test_events_are_emitted_through_the_registry_not_as_string_literals():
    literal = _literal_log_calls()
    assert literal == {}


def test_emit_checks_field_names_against_the_definition():
    from structlog.testing import capture_logs

    with capture_logs() as captured:
        events.TIER_SKIPPED.emit(logger(), tier="t", backend="faulty", reason="deadline", detail=None)
        events.emit(logger(), "breaker.open", reason="crash_loop", probe_in_s=3.0)
    assert [(e["event"], e["log_level"]) for e in captured] == [("tier.skipped", "info"), ("breaker.open", "warning")]
    with pytest.raises(TypeError, match=r"tier.skipped: undeclared fields \['reasn'\], missing fields \['reason'\]"):
        events.TIER_SKIPPED.emit(logger(), tier="t", backend="faulty", reasn="deadline", detail=None)


def test_validate_checks_allowed_values_not_only_types():
    assert events.validate({**GOOD_EVENT, "reason": "breaker_opened"}) == [
        "tier.skipped.reason: 'breaker_opened' is not one of "
        "unavailable, not_applicable, breaker_open, quarantined, starting, recycling, deadline"
    ]
    worker_stopped = {
        **{k: GOOD_EVENT[k] for k in ("ts", "level", "pid", "schema_version")},
        "event": "worker.stopped",
        "policy": "p",
        "policy_hash": "h",
        "tier": "t",
        "backend": "faulty",
        "worker_pid": 3,
        "generation": 1,
        "exitcode": 0,
        "stop_ms": 1.0,
    }
    assert events.validate({**worker_stopped, "reason": "recycle"}) == []
    assert events.validate({**worker_stopped, "reason": "sticky_cuda"}) == [
        "worker.stopped.reason: 'sticky_cuda' is not one of close, idle, recycle, start_failed"
    ]


def logger():
    import structlog

    return structlog.get_logger("docroute")
