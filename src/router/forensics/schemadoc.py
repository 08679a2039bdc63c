"""Render the event registry (``router.observe.events``) as docs/log-schema.md.

    python -m router.forensics.schemadoc          # rewrite docs/log-schema.md
    python -m router.forensics.schemadoc --check  # exit 1 if it is out of date

A test checks that the file in the repository is what this renders.
"""

from __future__ import annotations

import sys
from pathlib import Path

from router.observe.events import COMMON, CONTEXT, EVENTS, SCHEMA_VERSION, Field

INTRO = f"""# Decision log schema (version {SCHEMA_VERSION})

docroute logs every routing decision as one JSON object per line (the file set by
`logging.json_path` or `--log-json`, rotated at `logging.rotate_bytes`; and stderr, as JSON or for
people). This page lists every event and every field. It is generated from `src/router/observe/events.py`
(`python -m router.forensics.schemadoc`); a test checks that the events of real runs match it,
allowed values included.

Destinations: each `Router` writes its own file (its policy's `logging.json_path`, or `log_json`)
with its own `log_content` setting, then hands each event to its host's structlog logger (the one
passed as `Router(logger=...)`, else `structlog.get_logger("docroute")` where the host configured
structlog, else the stdlib logger `docroute`); a router never configures
its host's logging. The CLI and the service configure their own process to print events on stderr:
for a person (a terminal, or `format: console`) one line per event, otherwise JSON; `policy_spec` is
never printed there. `docroute extract` prints warnings only unless `--verbose`. `docroute serve
--log-json` is the service process's file: its router's events and the service's own (`service.*`).

Stability: event and field names are stable within a schema version; every event carries
`schema_version`. New events and new optional fields may appear without a new version; a renamed,
removed or redefined field means a new version. Readers skip what they do not know.

Privacy: no event holds document text or extracted values unless the policy sets
`logging.log_content: true` (then `attempt.succeeded` carries `fields`). Documents are identified by
the SHA-256 of their bytes.

OpenTelemetry: where a field has a `gen_ai.*` semantic-convention name it uses it
(`gen_ai.request.model` on `attempt.started`). Error classes are docroute's own (`error_class`).

Processes: worker processes do not write the log; the router logs `worker.*` events about them,
with the worker's pid (`worker_pid`, `old_pid`, `new_pid`), and `pid` is always the router's.

Reading: `docroute incidents`, `docroute trail` and `docroute replay` read these files, rotated ones
(`log.jsonl.1`, ...) included, and skip a torn last line (a process killed mid-write) with a warning.
"""


def _table(fields: tuple[Field, ...]) -> list[str]:
    lines = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for f in fields:
        kind = f.type.rstrip("?") + (" or null" if f.type.endswith("?") else "")
        allowed = f" One of: {', '.join(f'`{v}`' for v in f.values)}." if f.values else ""
        lines.append(f"| `{f.name}` | {kind} | {'yes' if f.required else 'no'} | {f.doc}{allowed} |")
    return lines


def render() -> str:
    lines = [INTRO, "## Fields of every event", "", *_table(COMMON), ""]
    lines += ["## Context fields", "", "Bound once by the logger that emits the event, by its scope:", ""]
    for scope, fields in CONTEXT.items():
        lines += [f"- **{scope}**: " + (", ".join(f"`{f.name}`" for f in fields) or "none")]
    lines += ["", *_table(tuple({f.name: f for fs in CONTEXT.values() for f in fs}.values())), ""]
    lines += ["## Events", ""]
    for event in EVENTS:
        level = "error" if event.level == "exception" else event.level
        lines += [f"### `{event.name}`", "", f"{event.doc} Scope: {event.scope}. Level: {level}.", ""]
        lines += [*_table(event.fields), ""] if event.fields else ["No fields of its own.", ""]
    return "\n".join(lines).rstrip() + "\n"


DOC = Path(__file__).resolve().parents[3] / "docs" / "log-schema.md"


def main(argv: list[str]) -> int:
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != render():
            print(f"{DOC} is out of date: run python -m router.forensics.schemadoc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
