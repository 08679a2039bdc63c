"""``docroute incidents LOG...``: what failed where, what the router did about it, and when."""

from __future__ import annotations

import json
from typing import Any

import typer

from router.cli.app import app

LOGS_HELP = "Decision log files (JSON lines), rotated ones too: log.jsonl*"


@app.command()
def incidents(
    logs: list[str] = typer.Argument(..., help=LOGS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    top: int = typer.Option(10, "--top", min=1, help="Rows of the longer tables (slowest, timeline, ...)."),
    since: str | None = typer.Option(None, "--since", help="Only events from this time (ISO 8601, UTC)."),
    until: str | None = typer.Option(None, "--until", help="Only events up to this time (ISO 8601, UTC)."),
) -> None:
    """What failed where, what the router did about it, and when.

    Failures by tier and error class, recycles, breaker transitions, a timeline, the slowest requests,
    the documents that poisoned workers (by sha256) and the requests that degraded to later tiers."""
    from router.cli.common import read_logs_or_exit
    from router.forensics.incidents import incident_report
    from router.forensics.reader import between

    try:
        selected = between(read_logs_or_exit(logs), since, until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not selected.events and not as_json:
        typer.echo(
            f"no events from {since or 'the start'} to {until or 'the end'} in {', '.join(logs)} "
            "(events read at other times)"
        )
        return
    report = incident_report(selected, top=top)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        _render(report, top)


def _render(report: dict[str, Any], top: int) -> None:
    from rich.console import Console

    console = Console()
    window = report["window"]
    processes = ", ".join(_where(p) for p in window["processes"])
    console.print(
        f"[bold]{window['requests']} requests[/], {window['events']} events "
        f"from {window['first']} to {window['last']}; "
        f"{window['routers']} router session(s), processes {processes}"
        + (f" on {len(window['hosts'])} Ray node(s)" if window.get("hosts") else "")
    )
    if window["skipped"]:
        console.print(f"[yellow]{skipped_line(window['skipped'])}[/]")
    console.print("status: " + ", ".join(f"{k} {v}" for k, v in sorted(report["status"].items())))
    if window["hosts"]:  # a cluster's logs: what each node's routers did
        console.print(_rows("Routers by host (Ray node)", HOST_HEADERS, _host_rows(report["by_host"]), top))
    console.print(_pivot("Failed attempts by tier and error class", report["failures"]))
    if report["skips"]:
        console.print(_pivot("Skipped tiers by reason", report["skips"]))
    recycles = report["recycles"]
    if recycles["events"] or recycles["deaths"]:
        rows = [
            [
                e["ts"],
                _where(e),
                e["tier"],
                e["detail"].get("reason"),
                f"{e['detail'].get('old_pid')} -> {e['detail'].get('new_pid')}",
                e["detail"].get("duration_ms"),
            ]
            for e in recycles["events"]
        ]
        headers = ["ts", "router", "tier", "reason", "worker pid", "ms"]
        console.print(_rows("Worker recycles", headers, rows, top))
        console.print("worker deaths: " + (", ".join(f"{k} x{v}" for k, v in recycles["deaths"].items()) or "none"))
    if report["breakers"]:
        console.print(_rows("Breaker transitions", BRIEF_HEADERS, _briefs(report["breakers"]), top))
    else:
        console.print("breaker transitions: none")
    console.print(_rows("Timeline", BRIEF_HEADERS, _briefs(report["timeline"]), top))
    spans = [[s["tier"], s["error_class"], s["count"], s["first"], s["last"]] for s in report["failure_spans"]]
    console.print(_rows("Failures over time", ["tier", "class", "count", "first", "last"], spans, top))
    console.print(_requests("Slowest requests", report["slowest"], top))
    poison = [
        [
            d["sha256"],
            d["count"],
            ", ".join(f"{k} x{v}" for k, v in d["classes"].items()),
            ", ".join(d["tiers"]),
            ", ".join(r[:12] for r in d["requests"]),
            ", ".join(s[:12] for s in d["suspects"]),
        ]
        for d in report["poisoning_documents"]
    ]
    headers = ["sha256", "times", "classes", "tiers", "requests", "served just before (suspects)"]
    console.print(_rows("Documents that poisoned a worker (sticky CUDA error or crash)", headers, poison, top))
    console.print(_requests("Degraded requests (answered by a later tier)", report["degraded"], top))
    if report["unfinished"]:
        console.print(_requests("Unfinished requests (the router died?)", report["unfinished"], top))
    if report["reruns"]:
        title = "Re-run documents (their router process died before their lines were written; key: the input's sha256)"
        console.print(_rows(title, RERUN_HEADERS, [_rerun_row(r) for r in report["reruns"]], top))


#: How the lines a reader skipped are named in one line (keys: ``router.forensics.reader``'s reasons).
_SKIPPED = {
    "not_json": "not JSON events",
    "unknown_event": "events of unknown names",
    "malformed_event": "events missing fields or with fields of the wrong type",
}


def skipped_line(skipped: dict[str, int]) -> str:
    """``skipped 3 lines: 2 not JSON events, 1 ...`` (each is on stderr with its file and line)."""
    parts = ", ".join(f"{count} {_SKIPPED.get(why, why)}" for why, count in skipped.items())
    return f"skipped {sum(skipped.values())} lines: {parts} (the warnings name them)"


def _pivot(title: str, counts: dict[str, dict[str, int]]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    columns = sorted({c for row in counts.values() for c in row})
    table = Table(title=title, title_justify="left")
    for column in ["tier", *columns, "total"]:
        table.add_column(column, justify="left" if column == "tier" else "right")
    for tier, row in counts.items():
        table.add_row(escape(tier), *[str(row.get(c, "")) for c in columns], str(sum(row.values())))
    return table


BRIEF_HEADERS = ["ts", "router", "tier", "event", "detail"]
HOST_HEADERS = ["host (node id)", "routers (pid)", "requests", "unfinished", "failed", "re-runs"]
RERUN_HEADERS = ["ts", "router", "event", "why", "request", "key", "crashes", "outcome"]


def _where(item: dict[str, Any]) -> str:
    """The router process of a row: ``node:pid`` on a cluster (pids collide across nodes), else the pid."""
    from router.forensics.reader import process_name

    return process_name(item.get("host"), item.get("pid"))


def _host(host: str | None) -> str:
    """A Ray node id as tables show it (--json has the whole id)."""
    from router.forensics.reader import HOST_CHARS

    return host[:HOST_CHARS] if host else "(none)"


def _briefs(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [[i["ts"], _where(i), i["tier"] or "", i["event"], _detail(i["detail"])] for i in items]


def _host_rows(hosts: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            _host(h["host"]),
            ", ".join(map(str, h["routers"])),
            h["requests"],
            h["unfinished"],
            h["failed"],
            h["reruns"],
        ]
        for h in hosts
    ]


def _rerun_row(rerun: dict[str, Any]) -> list[Any]:
    outcome = f"{rerun['status']} {rerun['tier'] or rerun['error_class'] or ''}".strip()
    return [
        rerun["ts"],
        _where(rerun),
        rerun["event"],
        rerun["reason"],
        rerun["request_id"][:12],
        rerun["key"][:16],
        rerun["crashes"],
        outcome,
    ]


#: Fields a timeline line leaves out: the JSON report has them.
_QUIET = frozenset({"backend", "stop_ms", "spawn_ms", "import_ms", "load_ms", "canary_ms", "signature", "generation"})


def _detail(detail: dict[str, Any]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in detail.items() if v is not None and k not in _QUIET)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _requests(title: str, requests: list[dict[str, Any]], top: int) -> Any:
    rows = [
        [
            r["request_id"][:12],
            _where(r),
            (r["sha256"] or "")[:12],
            r["status"],
            r["tier"] or r["error_class"] or "",
            r["duration_ms"] if r["duration_ms"] is not None else "",
            " > ".join(r["path"]),
        ]
        for r in requests
    ]
    return _rows(title, ["request", "router", "sha256", "status", "tier/class", "ms", "path"], rows, top)


def _rows(title: str, headers: list[str], rows: list[list[Any]], top: int) -> Any:
    from rich.markup import escape
    from rich.table import Table

    more = len(rows) - top
    table = Table(title=title, title_justify="left", caption=f"... {more} more (--top, --json)" if more > 0 else None)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows[:top]:
        table.add_row(*[escape(str(cell)) for cell in row])
    if not rows:
        table.add_row("none", *[""] * (len(headers) - 1))
    return table
