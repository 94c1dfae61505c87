"""A refused document explained from the schema's side only: the field's path and our limit.

jsonschema's own messages quote the instance ("'aaaa…' is too long", "'x' does not match …"), and
the instance is what a reporter sent: a description that may hold a child's name, a link to abuse
material. A 400 is returned to whoever sent it, but it is also logged by proxies, kept in browser
consoles and pasted into bug reports, so no message here ever quotes a sent value. Each one is made
of what is ours: the path of the field (property names the schema declares, and array indexes),
the keyword's value (a limit, a pattern, the allowed values of an enum) and the schema's own
`examples`.

An unknown property's *name* is sent data as well (`{"Placeholder Person": ...}`), so it is not
repeated either: the message says a field is unknown and lists the ones the object takes, with a
"did you mean" when the sent name is close to one of ours (the suggestion is our name, not theirs).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# A path step is shown only when it looks like one of our property names (or is an index): the
# schemas descend into declared properties only, so this is a guard, not a filter that ever bites.
_SAFE_STEP = re.compile(r"[A-Za-z0-9_]{1,40}")

_TYPES = {"string": "a string", "number": "a number", "integer": "a whole number", "boolean": "true or false",
          "object": "an object", "array": "an array", "null": "null"}

# What a value in each format looks like, for the formats a schema of ours may name.
_FORMATS = {"date-time": "a date-time with a time zone, e.g. 2026-03-02T09:00:00Z", "date": "a date, e.g. 2026-03-02",
            "time": "a time with a time zone, e.g. 09:00:00Z", "email": "an e-mail address, e.g. someone@example.com",
            "uri": "an absolute URI, e.g. https://example.com/page", "uuid": "a UUID"}

CODES = {"additionalProperties": "unknown_field", "unevaluatedProperties": "unknown_field", "type": "invalid_type",
         "required": "missing_field", "dependentRequired": "missing_field"}


def number(n: Any) -> str:
    """4000 as "4,000": a limit is read by people."""
    return f"{n:,}" if isinstance(n, (int, float)) and not isinstance(n, bool) else str(n)


def field(path: Iterable[Any]) -> str:
    """The path as the API documents it ("where_seen/platform", "urls/0"), "body" for the document."""
    steps = [str(p) if isinstance(p, int) or _SAFE_STEP.fullmatch(str(p)) else "(field)" for p in path]
    return "/".join(steps) or "body"


def _listed(values: Sequence[Any], last: str = "or") -> str:
    words = [v if isinstance(v, str) else json.dumps(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _plural(n: Any, one: str, many: str) -> str:
    return f"{number(n)} {one if n == 1 else many}"


def _example(schema: Mapping[str, Any]) -> str | None:
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return _listed(examples)
    return None


def explain(keyword: str | None, value: Any, schema: Mapping[str, Any], path: Sequence[Any],
            instance: Any) -> tuple[str, str]:
    """(code, message) for a failed `keyword` whose schema value is `value`, in the subschema
    `schema`, at `path`. `instance` is read for its keys only (which required names are absent,
    how many are unknown, which of ours is close), never written into the message."""
    code = CODES.get(keyword or "", "invalid_field")
    where = field(path)
    if keyword in ("required", "dependentRequired"):
        wanted = value if keyword == "required" else [n for names in value.values() for n in names]
        missing = [n for n in wanted if not isinstance(instance, dict) or n not in instance] or ["(field)"]
        return code, f"{field([*path, missing[0]])}: is missing"
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        return code, _unknown(where, schema, instance)
    return code, f"{where}: {_rule(keyword, value, schema)}"


def _rule(keyword: str | None, value: Any, schema: Mapping[str, Any]) -> str:  # noqa: C901 - one line per keyword
    if keyword == "maxLength":
        return f"at most {_plural(value, 'character', 'characters')}"
    if keyword == "minLength":
        return f"at least {_plural(value, 'character', 'characters')}"
    if keyword == "maxItems":
        return f"at most {_plural(value, 'item', 'items')}"
    if keyword == "minItems":
        return f"at least {_plural(value, 'item', 'items')}"
    if keyword == "maxProperties":
        return f"at most {_plural(value, 'field', 'fields')}"
    if keyword == "minProperties":
        return f"at least {_plural(value, 'field', 'fields')}"
    if keyword == "minimum":
        return f"must be at least {number(value)}"
    if keyword == "maximum":
        return f"must be at most {number(value)}"
    if keyword == "exclusiveMinimum":
        return f"must be more than {number(value)}"
    if keyword == "exclusiveMaximum":
        return f"must be less than {number(value)}"
    if keyword == "multipleOf":
        return f"must be a multiple of {number(value)}"
    if keyword == "type":
        kinds = value if isinstance(value, list) else [value]
        return f"must be {_listed([_TYPES.get(k, k) for k in kinds])}"
    if keyword == "enum":
        return f"must be one of {_listed(list(value))}" if len(value) > 1 else f"must be {_listed(list(value))}"
    if keyword == "const":
        return f"must be {json.dumps(value)}"
    if keyword == "pattern":  # the schema's short description (what the form is) and examples, else the pattern
        said = schema.get("description")
        parts = [said] if isinstance(said, str) and len(said) <= 80 else []
        example = _example(schema)
        parts.append(f"e.g. {example}" if example else f"the pattern is {value}")
        return f"not in the expected form ({', '.join(parts)})"
    if keyword == "format":
        example = _example(schema)
        return f"must be {_FORMATS.get(value, value)}" + (f" (e.g. {example})" if example and value not in _FORMATS else "")
    if keyword == "uniqueItems":
        return "must not list the same item twice"
    if keyword in ("anyOf", "oneOf"):
        return "matches none of the forms this field takes" if keyword == "anyOf" or not value else \
            "must match exactly one of the forms this field takes"
    return "is not accepted here"  # not, contains, a false schema: rare enough for one sentence


def _unknown(where: str, schema: Mapping[str, Any], instance: Any) -> str:
    ours = list(schema.get("properties", {}))
    sent = [k for k in instance if k not in ours] if isinstance(instance, dict) else []
    what = "a field" if len(sent) <= 1 else f"{number(len(sent))} fields"
    close = [m for k in sent for m in difflib.get_close_matches(str(k)[:100], ours, n=1, cutoff=0.75)]
    hint = f" (did you mean {_listed(sorted(set(close)))}?)" if close else ""
    takes = f"; it takes {_listed(ours, 'and')}" if ours else "; it takes no fields"
    return f"{where}: has {what} it does not take{hint}{takes}"
