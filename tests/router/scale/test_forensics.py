"""Decision logs of a whole cluster: routers on different nodes may share a pid, never a (host, pid)."""

from __future__ import annotations

from router.forensics.recorded import collect


def _router_life(host: str, request_id: str) -> list[dict]:
    common = {"pid": 4242, "host": host, "actor": f"actor-{host}", "policy": "p", "policy_hash": "h"}
    return [
        {**common, "event": "router.starting", "ts": "2026-01-01T00:00:00+00:00", "tiers": ["fixed"]},
        {**common, "event": "request.received", "ts": "2026-01-01T00:00:01+00:00", "request_id": request_id},
        {
            **common,
            "event": "request.done",
            "ts": "2026-01-01T00:00:02+00:00",
            "request_id": request_id,
            "status": "ok",
            "tier": "fixed",
        },
    ]


def test_routers_with_the_same_pid_on_two_nodes_are_two_sessions():
    recording = collect(_router_life("node-a", "r1") + _router_life("node-b", "r2"))

    assert [(s.host, s.pid, [r.request_id for r in s.requests]) for s in recording.sessions] == [
        ("node-a", 4242, ["r1"]),
        ("node-b", 4242, ["r2"]),
    ]
