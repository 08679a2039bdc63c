"""A cluster's logs, for ``incidents``: routers of different Ray nodes may share a pid, never a
(host, pid); documents re-run after a router process was lost (``batch.rerun``, ``batch.gave_up``);
what each host's routers did. On one machine every event's host is ``None``: one host.
"""

from __future__ import annotations

from typing import Any

from router.forensics.recorded import Recording
from router.observe import events as E


def processes(events: list[dict[str, Any]]) -> set[tuple[str | None, int]]:
    """Every process that logged, as (host, pid): pids of different Ray nodes collide."""
    return {(e.get("host"), e["pid"]) for e in events if isinstance(e.get("pid"), int)}


_RERUNS = (E.BATCH_RERUN.name, E.BATCH_GAVE_UP.name)


def reruns(recording: Recording, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Documents routed again, alone, because a router process died with them in flight (an actor or a
    node lost, or the document crashed it), and those given up on: where, which input (``key``, the
    sha256 its output line carries too), and how the re-run ended."""
    rows = []
    for event in events:
        if event["event"] not in _RERUNS:
            continue
        request = recording.requests.get(event.get("request_id", ""))
        gave_up = event["event"] == E.BATCH_GAVE_UP.name
        rows.append(
            {
                "ts": event["ts"],
                "host": event.get("host"),
                "pid": event.get("pid"),
                "event": event["event"],
                "request_id": event["request_id"],
                "key": event["key"],
                "crashes": event["crashes"],
                # in_flight: the process died routing it; answered: its answer died with the process
                "reason": "gave_up" if gave_up else event.get("reason", "in_flight"),
                "status": "failed" if gave_up else (request.status if request and request.status else "unfinished"),
                "tier": request.tier if request else None,
                "error_class": "worker_crashed" if gave_up else (request.error_class if request else None),
            }
        )
    return rows


def by_host(recording: Recording, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per host (Ray node; one ``None`` entry on one machine): its router processes and their requests."""
    hosts: dict[str | None, dict[str, Any]] = {}
    for session in recording.sessions:
        entry = hosts.setdefault(session.host, _host_entry(session.host))
        if session.pid is not None and session.pid not in entry["routers"]:
            entry["routers"].append(session.pid)
        entry["requests"] += len(session.requests)
        entry["unfinished"] += sum(not r.done for r in session.requests)
        entry["failed"] += sum(r.status == "failed" for r in session.requests)
    for event in events:
        if event["event"] in _RERUNS:
            hosts.setdefault(event.get("host"), _host_entry(event.get("host")))["reruns"] += 1
    return sorted(hosts.values(), key=lambda h: h["host"] or "")


def _host_entry(host: str | None) -> dict[str, Any]:
    return {"host": host, "routers": [], "requests": 0, "unfinished": 0, "failed": 0, "reruns": 0}
