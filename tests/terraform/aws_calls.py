"""Which AWS API calls each Chalice function's code makes, read from the source (AST).

How a call is found, so a new module needs no registration:

1. ``app.py``: each decorated function is a Chalice function (``name=`` of a
   schedule or Kinesis handler; every route belongs to ``api_handler``); the
   ``chalicelib`` modules its body refers to are its roots. A ``chalicelib``
   module that declares routes itself (a Blueprint) is a root of ``api_handler``.
2. Everything a root imports inside ``chalicelib`` (at any depth, lazy
   imports included) is reachable from that function.
3. A reachable module that builds a client with a literal service name
   (``aws.client("kinesis", ...)``, ``session.client("s3")``, ``.resource(...)``)
   adds that service; a non-literal name is reported, since it cannot be checked.
4. Every ``x.method(...)`` call in a reachable module whose name is an operation
   of one of those services (botocore's service model), or a paginator/waiter
   over one, is a call the function makes. So is a bound method handed on
   without a call (``client.get_secret_value`` passed as a callable) and an
   operation named by a string argument (``getattr(client, "batch_get_item")``,
   ``self._drain("batch_write_item", ...)``).

It over-approximates on purpose: a module reachable from a function counts
whole, even if that function uses only part of it. It never misses a direct
boto3 call in reachable code, which is the direction that breaks a deploy.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

from tests.paths import REPO_ROOT

# IAM action prefix per boto3 service name (where they differ, say so here).
IAM_PREFIX = {
    "kinesis": "kinesis",
    "dynamodb": "dynamodb",
    "s3": "s3",
    "secretsmanager": "secretsmanager",
    "ssm": "ssm",
    "cloudwatch": "cloudwatch",
    "logs": "logs",
    "firehose": "firehose",
    "sts": "sts",
    "glue": "glue",
    "athena": "athena",
}

# boto3 methods whose IAM action is not <prefix>:<OperationName>, and the
# transfer helpers boto3 adds to the S3 client (not in the service model).
SPECIAL_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "list_objects"): ("s3:ListBucket",),
    ("s3", "list_objects_v2"): ("s3:ListBucket",),
    ("s3", "head_object"): ("s3:GetObject",),
    ("s3", "head_bucket"): ("s3:ListBucket",),
    ("s3", "list_object_versions"): ("s3:ListBucketVersions",),
    ("s3", "delete_objects"): ("s3:DeleteObject",),
    ("s3", "copy_object"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "upload_file"): ("s3:PutObject",),
    ("s3", "upload_fileobj"): ("s3:PutObject",),
    ("s3", "download_file"): ("s3:GetObject",),
    ("s3", "download_fileobj"): ("s3:GetObject",),
    ("s3", "get_object_attributes"): ("s3:GetObject", "s3:GetObjectAttributes"),
}


@cache
def operations(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name, from botocore's model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


@cache
def waiter_operation(service: str, waiter: str) -> str | None:
    session = botocore.session.get_session()
    try:
        model = session.get_waiter_model(service)
        return str(model.get_waiter(_camel(waiter)).operation)
    except Exception:
        return None


def _camel(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))


def iam_actions(service: str, method: str) -> tuple[str, ...]:
    """IAM actions one boto3 client method needs."""
    if (service, method) in SPECIAL_ACTIONS:
        return SPECIAL_ACTIONS[(service, method)]
    prefix = IAM_PREFIX.get(service, service)
    return (f"{prefix}:{operations(service)[method]}",)


@dataclass
class ModuleFacts:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    dynamic_clients: list[str] = field(default_factory=list)
    methods: set[str] = field(default_factory=set)
    paginated: set[str] = field(default_factory=set)
    waited: set[str] = field(default_factory=set)
    declares_routes: bool = False


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _scan(path: Path, root: Path, package: str) -> ModuleFacts:
    scanner = _Scanner(ModuleFacts(_module_name(path, root), path), package)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        visit = _VISITORS.get(type(node))
        if visit is not None:
            visit(scanner, node)
    return scanner.facts


@dataclass
class _Scanner:
    """Collects one module's facts, one handler per kind of AST node that carries any."""

    facts: ModuleFacts
    package: str

    def imported(self, node: ast.Import) -> None:
        package = self.package
        self.facts.imports |= {a.name for a in node.names if a.name.split(".")[0] == package}

    def imported_from(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            base = self._relative(node.level, base)
        if base.split(".")[0] == self.package:
            self.facts.imports.add(base)
            self.facts.imports |= {f"{base}.{a.name}" for a in node.names}

    def _relative(self, level: int, base: str) -> str:
        """``from ..x import y`` inside this module → the absolute module name."""
        anchor = self.facts.name.split(".")
        anchor = anchor if self.facts.path.name == "__init__.py" else anchor[:-1]
        anchor = anchor[: len(anchor) - (level - 1)]
        return ".".join([*anchor, base] if base else anchor)

    def called(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            self._method_call(node, node.func.attr)
        # An operation named by a string: getattr(client, "op"), a helper("op", ...).
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            text = _literal(arg)
            if text and text.isidentifier():
                self.facts.methods.add(text)

    def _method_call(self, node: ast.Call, attr: str) -> None:
        facts = self.facts
        first = node.args[0] if node.args else None
        if attr in ("client", "resource") and (first is not None or node.keywords):
            self._client(node, attr, first)
        elif attr == "get_paginator" and _literal(first):
            facts.paginated.add(str(_literal(first)))
        elif attr == "get_waiter" and _literal(first):
            facts.waited.add(str(_literal(first)))
        elif attr == "route":
            facts.declares_routes = True
        else:
            facts.methods.add(attr)

    def _client(self, node: ast.Call, attr: str, first: ast.expr | None) -> None:
        service = _literal(first) or _literal(
            next((k.value for k in node.keywords if k.arg == "service_name"), None)
        )
        if service:
            self.facts.services.add(service)
        elif not (self.facts.name == f"{self.package}.aws" and attr == "client"):
            self.facts.dynamic_clients.append(f"{self.facts.path.name}:{node.lineno}")

    def attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self.facts.methods.add(node.attr)  # a bound method passed on, called elsewhere

    def function(self, node: ast.FunctionDef) -> None:
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if isinstance(target, ast.Attribute) and target.attr == "route":
                self.facts.declares_routes = True


_VISITORS: dict[type[ast.AST], Callable[[_Scanner, Any], None]] = {
    ast.Import: _Scanner.imported,
    ast.ImportFrom: _Scanner.imported_from,
    ast.Call: _Scanner.called,
    ast.Attribute: _Scanner.attribute,
    ast.FunctionDef: _Scanner.function,
}


@dataclass
class CodeCalls:
    """Per Chalice function: the IAM actions its reachable code needs, and why."""

    actions: dict[str, dict[str, set[str]]]  # function -> action -> {module:method}
    modules: dict[str, set[str]]  # function -> reachable modules
    problems: list[str]


def _resolve(imported: str, known: set[str]) -> set[str]:
    """Modules an import statement loads: the target (if a module) and its parents."""
    found = set()
    parts = imported.split(".")
    for i in range(1, len(parts) + 1):
        candidate = ".".join(parts[:i])
        if candidate in known:
            found.add(candidate)
    return found


def _aliases(nodes: Iterable[ast.AST], package: str, known: set[str]) -> dict[str, str]:
    """Local name -> module of ``package`` for the import statements among ``nodes``."""
    aliases: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                aliases[alias.asname or alias.name] = full if full in known else str(node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package:
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name
    return aliases


def _function_name(node: ast.FunctionDef, deco: ast.Call) -> str:
    """The Lambda function a Chalice decorator puts ``node`` in."""
    assert isinstance(deco.func, ast.Attribute)
    if deco.func.attr == "route":
        return "api_handler"
    named = next((k.value for k in deco.keywords if k.arg == "name"), None)
    return _literal(named) or node.name


def _app_functions(app_path: Path, package: str, known: set[str]) -> dict[str, set[str]]:
    """Each Lambda function's starting modules: what its handlers name, imported at the
    top of app.py or inside the handler (a lazy import keeps it off the others' cold start)."""
    tree = ast.parse(app_path.read_text(encoding="utf-8"))
    top = _aliases(tree.body, package, known)
    roots: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        aliases = {**top, **_aliases(ast.walk(node), package, known)}
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute):
                roots.setdefault(_function_name(node, deco), set()).update(
                    aliases[u] for u in used if u in aliases
                )
    return roots


def discover(root: Path = REPO_ROOT, package: str = "chalicelib") -> CodeCalls:
    files = sorted((root / package).rglob("*.py"))
    facts = {f.name: f for f in (_scan(p, root, package) for p in files)}
    known = set(facts)
    roots = _app_functions(root / "app.py", package, known)
    route_modules = {name for name, f in facts.items() if f.declares_routes}
    if route_modules:
        roots.setdefault("api_handler", set()).update(route_modules)

    problems: list[str] = []
    actions: dict[str, dict[str, set[str]]] = {}
    reachable_by_function: dict[str, set[str]] = {}
    for function, starts in roots.items():
        reachable: set[str] = set()
        todo = [m for s in starts for m in _resolve(s, known)]
        while todo:
            current = todo.pop()
            if current in reachable:
                continue
            reachable.add(current)
            for imported in facts[current].imports:
                todo.extend(_resolve(imported, known) - reachable)
        reachable_by_function[function] = reachable
        services = set().union(*(facts[m].services for m in reachable))
        found: dict[str, set[str]] = {}
        for module in sorted(reachable):
            f = facts[module]
            problems += [
                f"{function}: client with a non-literal service at {d}" for d in f.dynamic_clients
            ]
            for service in sorted(services):
                if service not in IAM_PREFIX:
                    problems.append(f"{function}: service {service!r} has no IAM prefix mapping")
                    continue
                ops = operations(service)
                calls = {m for m in f.methods if m in ops or (service, m) in SPECIAL_ACTIONS}
                calls |= {p for p in f.paginated if p in ops}
                calls |= {
                    xform_name(op)
                    for w in f.waited
                    if (op := waiter_operation(service, w)) is not None
                }
                for method in calls:
                    for action in iam_actions(service, method):
                        found.setdefault(action, set()).add(f"{module}:{method}")
        actions[function] = found
    return CodeCalls(actions, reachable_by_function, problems)


def action_sets(calls: CodeCalls) -> dict[str, set[str]]:
    return {function: set(found) for function, found in calls.actions.items()}


def flatten(values: Iterable[Iterable[str]]) -> set[str]:
    return {v for group in values for v in group}
