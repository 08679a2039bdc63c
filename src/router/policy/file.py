"""Reading a policy file's YAML: ``yaml.safe_load`` semantics, plus what a person needs to fix it.

- Every key's line is recorded, so a validation error names the line it is about.
- A key given twice in one mapping is an error naming the key and both lines (plain YAML lets the
  last one win silently).
- Booleans are YAML 1.2's (``true``/``false`` only): ``cuda: on`` means the string "on", as the
  person meant, not ``True``. Pydantic still reads ``yes``/``no``/``on``/``off`` for boolean fields.
- Limits, checked on the parsed nodes before anything is built: file size, number of tiers, length
  of any text value. A 20,000-tier file is refused in milliseconds.

Syntax errors name the file and the line, never ``<unicode string>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_POLICY_BYTES = 256 * 1024
MAX_TIERS = 32
MAX_TEXT_CHARS = 4096
TOO_DEEP = "<top level>: nested too deeply to be a policy"
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: fast
_BOOL = "tag:yaml.org,2002:bool"
_MERGE = "tag:yaml.org,2002:merge"


class PolicyLoader(_Base):
    """``SafeLoader`` (safe tags only) with YAML 1.2 booleans."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


PolicyLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

Path = tuple[str | int, ...]


@dataclass
class ParsedYaml:
    """The data, where each key and item sits (1-based lines), and what is wrong before validation."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest enclosing key that the file spells out."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


class PolicyYamlError(Exception):
    """The text is not a policy's YAML; ``problems`` say where and why."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def read_yaml(text: str, source: str) -> ParsedYaml:
    """Parse ``text`` (named ``source`` in messages); raise ``PolicyYamlError`` for what cannot be one."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_POLICY_BYTES:
        raise PolicyYamlError([too_big(size)])
    loader = PolicyLoader(text)
    loader.name = source  # marks name the file, not "<unicode string>"
    try:
        node = loader.get_single_node()
        parsed = ParsedYaml(None)
        if node is not None:
            _walk(node, (), parsed, set())
            if parsed.problems:
                raise PolicyYamlError(parsed.problems)
            parsed.data = loader.construct_document(node)
        return parsed
    except yaml.MarkedYAMLError as exc:
        raise PolicyYamlError([_syntax(exc)]) from None
    except yaml.YAMLError as exc:
        raise PolicyYamlError([f"not valid YAML: {exc}"]) from None
    except RecursionError:
        raise PolicyYamlError([TOO_DEEP]) from None
    finally:
        loader.dispose()


def too_big(size: int | None) -> str:
    """``size`` None: a stream read up to the limit, whose whole size is unknown."""
    if size is None:
        return f"<file>: more than {MAX_POLICY_BYTES} bytes, over the limit for a policy file"
    return f"<file>: {size} bytes, over the limit of {MAX_POLICY_BYTES} for a policy file"


def _syntax(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    return f"{where}{TOO_DEEP}" if "nesting depth" in what else f"{where}not valid YAML: {what}"


def _walk(node: yaml.Node, path: Path, parsed: ParsedYaml, seen: set[int]) -> None:
    """Record lines, find duplicate keys, and check limits, visiting each node once (aliases too)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        _walk_mapping(node, path, parsed, seen)
    elif isinstance(node, yaml.SequenceNode):
        if path == ("tiers",) and len(node.value) > MAX_TIERS:
            parsed.problems.append(
                f"line {node.start_mark.line + 1}: tiers: {len(node.value)} tiers, over the limit of {MAX_TIERS}"
            )
            return
        for index, item in enumerate(node.value):
            parsed.lines.setdefault((*path, index), item.start_mark.line + 1)
            _walk(item, (*path, index), parsed, seen)
    elif isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_TEXT_CHARS:
        parsed.problems.append(
            f"line {node.start_mark.line + 1}: {dotted(path)}: {len(node.value)} characters, over the limit of "
            f"{MAX_TEXT_CHARS} for a text value"
        )


def _walk_mapping(node: yaml.MappingNode, path: Path, parsed: ParsedYaml, seen: set[int]) -> None:
    first: dict[str, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
            _walk(value_node, path, parsed, seen)
            continue
        key, line = key_node.value, key_node.start_mark.line + 1
        if key in first:
            parsed.problems.append(
                f"line {line}: {dotted((*path, key))}: duplicate key `{key}` (first at line {first[key]}); "
                "YAML would silently keep only the last one"
            )
            continue
        first[key] = line
        parsed.lines[(*path, key)] = line
        _walk(value_node, (*path, key), parsed, seen)


def dotted(path: Path) -> str:
    """``("tiers", 0, "retry")`` -> ``tiers[0].retry``."""
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else ("." if text else "") + str(item)
    return text or "<top level>"
