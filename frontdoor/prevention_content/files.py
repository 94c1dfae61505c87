"""Reading the content files: strict YAML, then each file's JSON Schema.

Problems come back as strings "file: item: what is wrong" rather than as an exception,
so `content check` can list every problem in one run and loading can stop at the first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jsonschema
import yaml

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
# file name -> (its schema, the top-level key holding its items)
FILES: Final[dict[str, tuple[str, str]]] = {
    "resources.yaml": ("resources.v1.json", "resources"),
    "helplines.yaml": ("helplines.v1.json", "countries"),
    "hotlines.yaml": ("hotlines.v1.json", "hotlines"),
    "safeguarding.yaml": ("safeguarding.v1.json", "locales"),
}


class _StrictLoader(yaml.SafeLoader):
    """YAML 1.1 reads the country code NO as false, 2026-11-26 as a date and lets a repeated
    key silently win; content files get strings for the first two and an error for the third."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


def parse_yaml(text: str) -> Any:
    """YAML as the content files mean it (see _StrictLoader); raises yaml.YAMLError."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class Documents:
    """The parsed files that passed their schema, and every problem found on the way."""

    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@cache
def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(resources.files(__package__).joinpath("schemas", name).read_text())
    return schema


def read(directory: Path) -> Documents:
    docs = Documents()
    for name, (schema_name, list_key) in FILES.items():
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            docs.problems.append(f"{name}: -: cannot be read ({exc.strerror or exc})")
            continue
        try:
            document = parse_yaml(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f"line {where.line + 1}" if where is not None else "-"
            docs.problems.append(f"{name}: {line}: not valid YAML ({getattr(exc, 'problem', None) or exc})")
            continue
        errors = _schema_problems(name, schema_name, list_key, document)
        if errors:
            docs.problems.extend(errors)
        else:
            docs.data[name] = document
    return docs


def _schema_problems(name: str, schema_name: str, list_key: str, document: Any) -> list[str]:
    schema = _schema(schema_name)
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]):
        item, rest = _item_name(document, list_key, list(error.absolute_path))
        where = ".".join(str(p) for p in rest)
        problems.append(f"{name}: {item}: {where + ': ' if where else ''}{error.message}")
    return problems


def _item_name(document: Any, list_key: str, path: list[Any]) -> tuple[str, list[Any]]:
    """The item an error is in, named as an editor would search for it: an id, a country, a locale."""
    if len(path) < 2 or path[0] != list_key or not isinstance(document, dict):
        return ("-", path)
    container = document.get(list_key)
    key = path[1]
    if isinstance(container, dict):  # safeguarding: locales are keys
        return (str(key), path[2:])
    if not isinstance(container, list) or not isinstance(key, int) or not 0 <= key < len(container):
        return (f"{list_key}[{key}]", path[2:])
    entry = container[key]
    if isinstance(entry, dict):
        label = entry.get("id") or entry.get("country")
        if list_key == "hotlines" and entry.get("name"):
            label = f"{entry.get('country')} {entry['name']}"
        if isinstance(label, str) and label:
            return (label, path[2:])
    return (f"{list_key}[{key}]", path[2:])
