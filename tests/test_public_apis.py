"""frontdoor uses other distributions only through their public API.

An AST scan of every .py file under frontdoor/ fails, naming file:line and the offending text, when
the package

(a) imports a private module of another distribution: `import x._y`, `from x._y import ...`,
    `from x import _y`, `import _y` (a leading underscore anywhere in the dotted name), or
    `importlib.import_module("x._y")` / `__import__("x._y")` with a literal name. Imports of
    frontdoor itself, absolute or relative, are ours and fine;
(b) reads or writes an underscore attribute (`obj._name`; dunders like `__dict__` are public) of an
    object that is not our own, or does so through `getattr`/`setattr`/`hasattr`/`delattr` with a
    literal name. Decided statically and simply, so anything this cannot prove ours is flagged:
    - `self._x` / `cls._x` are ours, except in a class with a base that is not a frontdoor class
      (a subclass of `email.message.EmailMessage`, say): there `_x` must be one the class or its
      frontdoor bases in the same file define (assigned through self/cls, or in the class body),
      else it is the foreign base's private attribute;
    - `name._x` is ours when every binding of `name` in the file is an import from frontdoor, or a
      class or function defined in frontdoor; any other binding (a parameter, an assignment, an
      import from elsewhere) makes it undecidable, so it is flagged.

ALLOW_LIST names the exceptions, "path:name" -> why; an entry that no longer matches anything fails
the scan too, so the list cannot rot.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "frontdoor"
ROOT = Path(__file__).resolve().parent.parent

# "frontdoor/some/module.py:_name" (or the private dotted module name) -> why it is allowed.
ALLOW_LIST: dict[str, str] = {}

_ACCESSORS = {"getattr", "setattr", "hasattr", "delattr"}
_IMPORTERS = {"import_module", "__import__"}
# Bases with no private attributes a subclass could lean on: plain classes, builtin types and exceptions.
_NEUTRAL_BASES = {name for name, value in vars(builtins).items() if isinstance(value, type)} | {
    "ABC", "Generic", "Protocol", "NamedTuple", "TypedDict",
}


def is_private(name: str) -> bool:
    """`_x` and `__x` are private; `__x__` is a dunder, public by convention."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__") and len(name) > 4)


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    name: str  # the private module's dotted name or the private attribute; "path:name" is the allow-list key
    text: str  # the offending source

    @property
    def key(self) -> str:
        return f"{self.path}:{self.name}"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def _private_module(dotted: str) -> bool:
    return any(is_private(part) for part in dotted.split("."))


def _ours(module: str | None, level: int) -> bool:
    return level > 0 or module == PACKAGE or (module or "").startswith(PACKAGE + ".")


def _own_names(tree: ast.AST) -> set[str]:
    """Names whose every binding in the file is a frontdoor import or a class or function defined here."""
    own: dict[str, bool] = {}

    def bind(name: str, ours: bool) -> None:
        own[name] = own.get(name, True) and ours

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bind(alias.asname or alias.name.split(".")[0], _ours(alias.name, 0))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bind(alias.asname or alias.name, _ours(node.module, node.level))
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            bind(node.name, True)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bind(node.id, False)
        elif isinstance(node, ast.arg):
            bind(node.arg, False)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bind(node.name, False)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bind(node.name, False)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bind(node.rest, False)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                bind(name, False)
    return {name for name, ours in own.items() if ours}


def _base_name(base: ast.expr) -> str | None:
    if isinstance(base, ast.Subscript):  # Generic[T], Protocol[T]
        base = base.value
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):  # typing.Protocol, abc.ABC
        return base.attr if base.attr in _NEUTRAL_BASES else None
    return None


class _Checker(ast.NodeVisitor):
    def __init__(self, source: str, path: str, tree: ast.Module) -> None:
        self.source, self.path = source, path
        self.own = _own_names(tree)
        self.classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        self.class_stack: list[ast.ClassDef] = []
        self.found: list[Violation] = []

    def flag(self, node: ast.AST, name: str) -> None:
        text = ast.get_source_segment(self.source, node) or ast.unparse(node)
        self.found.append(Violation(self.path, getattr(node, "lineno", 0), name, " ".join(text.split())))

    # (a) private modules

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _ours(alias.name, 0) and _private_module(alias.name):
                self.flag(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if _ours(node.module, node.level):
            return
        if _private_module(node.module or ""):
            self.flag(node, node.module or "")
            return
        for alias in node.names:
            if is_private(alias.name):
                self.flag(node, f"{node.module}.{alias.name}")

    # (b) private attributes

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.class_stack.append(node)
        self.generic_visit(node)
        self.class_stack.pop()

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if is_private(node.attr) and not self.owner_is_ours(node.value, node.attr):
            self.flag(node, node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        literal = node.args[1] if called in _ACCESSORS and len(node.args) >= 2 else \
            node.args[0] if called in _IMPORTERS and node.args else None
        if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
            name = literal.value
            if called in _IMPORTERS:
                if not _ours(name, 0) and _private_module(name):
                    self.flag(node, name)
            elif is_private(name) and not self.owner_is_ours(node.args[0], name):
                self.flag(node, name)
        self.generic_visit(node)

    def owner_is_ours(self, value: ast.expr, attr: str) -> bool:
        if not isinstance(value, ast.Name):
            return False  # self.conn._x, super()._x, f()._x: not decidable simply
        if value.id in ("self", "cls"):
            return not self.class_stack or attr in self.defined_by(self.class_stack[-1], set()) \
                or not self.has_foreign_base(self.class_stack[-1], set())
        return value.id in self.own

    def has_foreign_base(self, cls: ast.ClassDef, seen: set[str]) -> bool:
        seen.add(cls.name)
        for base in cls.bases:
            name = _base_name(base)
            if name in self.classes and name not in seen:
                if self.has_foreign_base(self.classes[name], seen):
                    return True
            elif name is None or (name not in self.own and name not in _NEUTRAL_BASES):
                return True
        return False

    def defined_by(self, cls: ast.ClassDef, seen: set[str]) -> set[str]:
        """The attributes a class and its same-file bases define: in the class body, or through self/cls."""
        seen.add(cls.name)
        names: set[str] = set()
        for stmt in cls.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(stmt.name)
            elif isinstance(stmt, (ast.Assign, ast.AugAssign)) or isinstance(stmt, ast.AnnAssign) and stmt.value:
                # (a bare annotation, `_headers: list`, only declares the base class's attribute)
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
                if any(isinstance(t, ast.Name) and t.id == "__slots__" for t in targets) and stmt.value is not None:
                    names |= {n.value for n in ast.walk(stmt.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for node in ast.walk(cls):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                    and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
        for base in cls.bases:
            name = _base_name(base)
            if name in self.classes and name not in seen:
                names |= self.defined_by(self.classes[name], seen)
        return names


def find_violations(source: str, path: str) -> list[Violation]:
    """Every private import and foreign private attribute in one module's source."""
    tree = ast.parse(source, path)
    checker = _Checker(source, path, tree)
    checker.visit(tree)
    return checker.found


def scan(root: Path = ROOT) -> list[Violation]:
    found: list[Violation] = []
    for file in sorted((root / PACKAGE).rglob("*.py")):
        found += find_violations(file.read_text(encoding="utf-8"), file.relative_to(root).as_posix())
    return found


def _lines(violations: Iterator[Violation] | list[Violation]) -> str:
    return "\n".join(f"  {v}" for v in violations)


def test_frontdoor_uses_only_public_apis_of_other_distributions() -> None:
    assert len(list((ROOT / PACKAGE).rglob("*.py"))) > 50  # the scan sees the whole package
    found = scan()
    assert all(reason.strip() for reason in ALLOW_LIST.values()), "every allow-list entry names why"
    unused = sorted(set(ALLOW_LIST) - {v.key for v in found})
    assert not unused, f"allow-list entries that match nothing any more (remove them): {unused}"
    offending = [v for v in found if v.key not in ALLOW_LIST]
    assert not offending, "private APIs of other distributions (use a public API, or add to ALLOW_LIST" \
        " with a reason):\n" + _lines(offending)


def test_the_checker_catches_private_imports_and_foreign_private_attributes() -> None:
    source = '''
import email._header_value_parser
from redis._parsers import encoders
from aiohttp import _http_parser
from email.message import EmailMessage
import importlib
from frontdoor._internal import helper
from frontdoor import ids
from . import _sibling
from .storage import _keys


def touch(msg: EmailMessage, conn) -> None:
    msg._headers = []
    conn._writer.write(b"")
    getattr(msg, "_payload", None)
    importlib.import_module("aiohttp._websocket")
    ids._CROCKFORD, _sibling._x, _keys._y, helper._z, msg.__dict__, type(msg).__name__


class Mine:
    def __init__(self) -> None:
        self._mine = 1
        self.__mangled = 2

    def use(self) -> int:
        return self._mine + self.__mangled + Mine._secret() + getattr(self, "_mine")

    @staticmethod
    def _secret() -> int:
        return 0


class Part(EmailMessage):
    def __init__(self) -> None:
        super().__init__()
        self._cached = None

    _default_type: str

    def headers(self):
        return self._cached, self._headers, super()._payload, self._default_type
'''
    found = [(v.line, v.name) for v in find_violations(source, "frontdoor/example.py")]
    assert found == [
        (2, "email._header_value_parser"),
        (3, "redis._parsers"),
        (4, "aiohttp._http_parser"),
        (14, "_headers"),
        (15, "_writer"),
        (16, "_payload"),
        (17, "aiohttp._websocket"),
        (42, "_headers"),
        (42, "_payload"),
        (42, "_default_type"),
    ], found
    assert str(find_violations(source, "frontdoor/example.py")[4]) == "frontdoor/example.py:15: conn._writer"
    # A name bound to something foreign anywhere in the file is not decidably ours: ids shadowed here.
    shadowed = "from frontdoor import ids\n\ndef f(ids):\n    return ids._secret\n"
    assert [v.name for v in find_violations(shadowed, "frontdoor/x.py")] == ["_secret"]
    assert not find_violations("from frontdoor import ids\nids._CROCKFORD\nfrom .x import y\ny._z\n", "frontdoor/x.py")
