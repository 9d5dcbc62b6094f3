"""Every name an expression in ``terraform/`` refers to, for the resolution test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lark import Tree

from tests.terraform.evaluate import _name, _trees
from tests.terraform.model import attributes, blocks


@dataclass(frozen=True)
class Reference:
    root: str
    path: tuple[str, ...]  # attribute names after the root (indexes skipped)
    file: str
    line: int

    def __str__(self) -> str:
        return ".".join((self.root, *self.path)) + f" ({self.file}:{self.line})"


def _unwind(node: Tree) -> tuple[Tree, list[str], list[Tree]]:
    """Root term, attribute names and index expressions of a traversal."""
    names: list[str] = []
    indexes: list[Tree] = []
    while True:
        if node.data == "expr_term" and len(_trees(node)) == 1:
            inner = _trees(node)[0]
            if inner.data not in ("get_attr_expr_term", "index_expr_term"):
                return inner, list(reversed(names)), indexes
            node = inner
        if node.data == "get_attr_expr_term":
            base, get_attr = _trees(node)
            names.append(_name(_trees(get_attr)[0]))
        elif node.data == "index_expr_term":
            base, index = _trees(node)
            indexes.extend(_trees(index))
        else:
            return node, list(reversed(names)), indexes
        node = base


def _traversal_refs(node: Tree, scope: frozenset[str], file: str) -> Iterator[Reference]:
    """``a.b[c].d``: the root is the reference, the indexes are expressions of their own."""
    root, names, indexes = _unwind(node)
    if root.data == "identifier":
        name = _name(root)
        if name not in scope:
            line = getattr(root.meta, "line", 0) if not root.meta.empty else 0
            yield Reference(name, tuple(names), file, line)
    else:
        yield from expression_refs(root, scope, file)
    for index in indexes:
        yield from expression_refs(index, scope, file)


def _identifier_refs(node: Tree, scope: frozenset[str], file: str) -> Iterator[Reference]:
    name = _name(node)
    if name not in scope:
        line = node.meta.line if not node.meta.empty else 0
        yield Reference(name, (), file, line)


def _for_refs(node: Tree, scope: frozenset[str], file: str) -> Iterator[Reference]:
    """A ``for`` expression binds its names for the body, not for the collection."""
    parts = _trees(node)
    intro = parts[0]
    bound = frozenset(_name(t) for t in _trees(intro) if t.data == "identifier")
    for t in _trees(intro):
        if t.data != "identifier":
            yield from expression_refs(t, scope, file)
    for t in parts[1:]:
        yield from expression_refs(t, scope | bound, file)


def _call_refs(node: Tree, scope: frozenset[str], file: str) -> Iterator[Reference]:
    for t in _trees(node)[1:]:  # the first child is the function's name
        yield from expression_refs(t, scope, file)


def _object_elem_refs(node: Tree, scope: frozenset[str], file: str) -> Iterator[Reference]:
    """A bare key (``{ name = … }``) is a literal, not a reference."""
    key, value = _trees(node)
    key_expr = _trees(key)[0] if _trees(key) else key
    is_bare = key_expr.data == "identifier" or (
        key_expr.data == "expr_term" and _trees(key_expr)[0].data == "identifier"
    )
    if not is_bare:
        yield from expression_refs(key, scope, file)
    yield from expression_refs(value, scope, file)


_EXPRESSIONS = {
    "get_attr_expr_term": _traversal_refs,
    "index_expr_term": _traversal_refs,
    "identifier": _identifier_refs,
    "for_tuple_expr": _for_refs,
    "for_object_expr": _for_refs,
    "function_call": _call_refs,
    "object_elem": _object_elem_refs,
}


def expression_refs(node: Tree, scope: frozenset[str], file: str) -> Iterator[Reference]:
    handler = _EXPRESSIONS.get(node.data)
    if handler is not None:
        yield from handler(node, scope, file)
        return
    for child in _trees(node):
        yield from expression_refs(child, scope, file)


def body_refs(body: Tree, scope: frozenset[str], file: str) -> Iterator[Reference]:
    for expr in attributes(body).values():
        yield from expression_refs(expr, scope, file)
    for labels, inner in blocks(body):
        inner_scope = scope
        if labels[0] == "dynamic" and len(labels) > 1:
            iterator = attributes(inner).get("iterator")
            inner_scope = scope | {_name(_trees(iterator)[0]) if iterator else labels[1]}
        yield from body_refs(inner, inner_scope, file)


def file_refs(tree: Tree, file: str) -> Iterator[Reference]:
    top = tree.children[0]
    for expr in attributes(top).values():
        yield from expression_refs(expr, frozenset(), file)
    for labels, body in blocks(top):
        if labels[0] == "variable":
            # `type = string` is a type constraint, not a reference.
            for name, expr in attributes(body).items():
                if name != "type":
                    yield from expression_refs(expr, frozenset(), file)
            for _, inner in blocks(body):
                yield from body_refs(inner, frozenset(), file)
        else:
            yield from body_refs(body, frozenset(), file)
