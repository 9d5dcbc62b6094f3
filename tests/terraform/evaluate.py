"""A small evaluator for the HCL expressions ``terraform/`` uses.

There is no Terraform binary in CI, yet tests must know what an expression
*yields* (the Glue columns, resource names), not only that it parses. This
walks python-hcl2's parse tree and evaluates the subset of the language the
configuration uses, with Terraform's semantics where they matter here:

* ``try(a, b)`` returns the first argument that evaluates without error;
  reading a missing attribute or index is such an error;
* a conditional evaluates only the branch it selects; ``&&`` and ``||``
  evaluate both sides (HCL does not short-circuit);
* a template that is exactly one interpolation (``"${x}"``) yields the value
  itself, not its string form; ``$${`` is a literal ``${``.

Anything outside the subset raises :class:`Unsupported`, so a construct this
file does not know fails the test instead of evaluating to something wrong.
References to resources and data sources (known only after apply) evaluate to
:class:`Ref`, which renders as ``${<address>}`` inside strings.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree


class EvalError(Exception):
    """A dynamic error, as Terraform would report it (``try`` catches these)."""


class Unsupported(Exception):
    """An expression form this evaluator does not implement (never caught by ``try``)."""


@dataclass(frozen=True)
class Ref:
    """A value Terraform only knows after apply, e.g. ``aws_s3_bucket.lake.arn``."""

    address: str

    def attr(self, name: str) -> Ref:
        return Ref(f"{self.address}.{name}")

    def index(self, key: Any) -> Ref:
        return Ref(f"{self.address}[{json.dumps(key)}]")

    def __str__(self) -> str:
        return "${" + self.address + "}"


def _children(node: Tree) -> list[Any]:
    """Meaningful children: subtrees and literal tokens, minus newlines and comments."""
    return [
        c
        for c in node.children
        if not (isinstance(c, Tree) and c.data == "new_line_or_comment")
        and not (isinstance(c, Token) and c.type == "NL_OR_COMMENT")
    ]


def _trees(node: Tree) -> list[Tree]:
    return [c for c in _children(node) if isinstance(c, Tree)]


def _attributes_of(body: Tree) -> list[Tree]:
    return [_trees(c)[-1] for c in body.children if isinstance(c, Tree) and c.data == "attribute"]


def _name(node: Tree) -> str:
    if node.data != "identifier":
        raise Unsupported(f"expected an identifier, got {node.data}")
    return str(node.children[0])


def _unescape(chars: str) -> str:
    # HCL string escapes (the subset JSON shares) plus literal newlines/tabs.
    return json.loads('"' + chars.replace("\n", "\\n").replace("\t", "\\t") + '"')


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str | Ref):
        return str(value)
    if value is None:
        raise EvalError("cannot interpolate null")
    raise EvalError(f"cannot interpolate a {type(value).__name__}")


def _format(spec: str, *args: Any) -> str:
    """Terraform's format() for the verbs used here: %s, %d, %0Nd, %%."""
    values = list(args)

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if not values:
            raise EvalError("format: too few arguments")
        value = values.pop(0)
        verb = match.group(2)
        if verb == "s":
            return _to_string(value)
        width = match.group(1) or ""
        return f"{int(value):{width}d}"

    return re.sub(r"%%|%(0?\d*)([sd])", one, spec)


class Evaluator:
    """Evaluates expressions of one module: its variables, locals and a few functions."""

    def __init__(
        self,
        module_dir: Path,
        variables: Mapping[str, Any],
        locals_: Mapping[str, Tree] | None = None,
        modules: Mapping[str, Callable[[], Mapping[str, Any]]] | None = None,
    ) -> None:
        self.module_dir = module_dir
        self.variables = dict(variables)
        self.locals = dict(locals_ or {})
        self.modules = dict(modules or {})
        self._local_values: dict[str, Any] = {}
        self._evaluating: set[str] = set()

    # --- entry points ----------------------------------------------------------

    def local(self, name: str) -> Any:
        if name in self._local_values:
            return self._local_values[name]
        if name not in self.locals:
            raise Unsupported(f"local.{name} is not declared")
        if name in self._evaluating:
            raise Unsupported(f"local.{name} refers to itself")
        self._evaluating.add(name)
        try:
            value = self.eval(self.locals[name], {})
        finally:
            self._evaluating.discard(name)
        self._local_values[name] = value
        return value

    def eval_text(self, text: str, scope: Mapping[str, Any] | None = None) -> Any:
        """Evaluate one expression given as HCL source text."""
        tree = hcl2.parses_to_tree(f"x = {text}\n")
        (expression,) = _attributes_of(tree.children[0])
        return self.eval(expression, dict(scope or {}))

    # --- the walk ----------------------------------------------------------------

    def eval(self, node: Any, scope: dict[str, Any]) -> Any:
        if isinstance(node, Token):
            raise Unsupported(f"bare token {node.type}")
        handler = getattr(self, f"_eval_{node.data}", None)
        if handler is None:
            raise Unsupported(f"expression form {node.data!r}")
        return handler(node, scope)

    def _eval_expr_term(self, node: Tree, scope: dict[str, Any]) -> Any:
        inner = _trees(node)
        if len(inner) != 1:
            raise Unsupported("expr_term with several parts")
        return self.eval(inner[0], scope)

    def _eval_int_lit(self, node: Tree, scope: dict[str, Any]) -> Any:
        return int(str(node.children[0]))

    def _eval_float_lit(self, node: Tree, scope: dict[str, Any]) -> Any:
        return float(str(node.children[0]))

    def _eval_literal_value(self, node: Tree, scope: dict[str, Any]) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _eval_string(self, node: Tree, scope: dict[str, Any]) -> Any:
        parts = [c for c in node.children if isinstance(c, Tree) and c.data == "string_part"]
        if len(parts) == 1 and isinstance(parts[0].children[0], Tree):
            only = parts[0].children[0]
            if only.data == "interpolation":
                return self.eval(_trees(only)[0], scope)
        out = []
        for part in parts:
            piece = part.children[0]
            if isinstance(piece, Token):
                if piece.type == "ESCAPED_INTERPOLATION":
                    out.append(str(piece)[1:])
                elif piece.type == "STRING_CHARS":
                    out.append(_unescape(str(piece)))
                else:
                    raise Unsupported(f"string part {piece.type}")
            elif piece.data == "interpolation":
                out.append(_to_string(self.eval(_trees(piece)[0], scope)))
            else:
                raise Unsupported(f"template directive {piece.data}")
        return "".join(out)

    def _eval_heredoc_template(self, node: Tree, scope: dict[str, Any]) -> Any:
        return _heredoc(str(node.children[0]), trim=False)

    def _eval_heredoc_template_trim(self, node: Tree, scope: dict[str, Any]) -> Any:
        return _heredoc(str(node.children[0]), trim=True)

    def _eval_tuple(self, node: Tree, scope: dict[str, Any]) -> Any:
        return [self.eval(c, scope) for c in _trees(node)]

    def _eval_object(self, node: Tree, scope: dict[str, Any]) -> Any:
        result: dict[str, Any] = {}
        for elem in _trees(node):
            key_node, value_node = _trees(elem)
            key_expr = _trees(key_node)[0] if _trees(key_node) else key_node
            if key_expr.data == "expr_term" and _trees(key_expr)[0].data == "identifier":
                key = _name(_trees(key_expr)[0])
            elif key_expr.data == "identifier":
                key = _name(key_expr)
            else:
                key = _to_string(self.eval(key_expr, scope))
            result[key] = self.eval(value_node, scope)
        return result

    def _eval_conditional(self, node: Tree, scope: dict[str, Any]) -> Any:
        condition, if_true, if_false = _trees(node)
        chosen = self.eval(condition, scope)
        if isinstance(chosen, Ref):
            return Ref(f"(conditional on {chosen.address})")
        if not isinstance(chosen, bool):
            raise EvalError(f"condition is not a bool: {chosen!r}")
        return self.eval(if_true if chosen else if_false, scope)

    def _eval_binary_op(self, node: Tree, scope: dict[str, Any]) -> Any:
        left_node, term = _trees(node)
        operator_node, right_node = _trees(term)
        operator = str(operator_node.children[0])
        left = self.eval(left_node, scope)
        right = self.eval(right_node, scope)
        if isinstance(left, Ref) or isinstance(right, Ref):
            return Ref(f"({operator} on an unknown value)")
        if operator in ("&&", "||"):
            if not isinstance(left, bool) or not isinstance(right, bool):
                raise EvalError(f"{operator} needs bools")
            return (left and right) if operator == "&&" else (left or right)
        if operator == "==":
            return left == right
        if operator == "!=":
            return left != right
        arithmetic: dict[str, Callable[[Any, Any], Any]] = {
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "/": lambda a, b: a / b,
            "%": lambda a, b: a % b,
            "<": lambda a, b: a < b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b,
        }
        if operator not in arithmetic:
            raise Unsupported(f"operator {operator}")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)):
            raise EvalError(f"{operator} needs numbers")
        return arithmetic[operator](left, right)

    def _eval_unary_op(self, node: Tree, scope: dict[str, Any]) -> Any:
        operator = str(node.children[0])
        value = self.eval(_trees(node)[0], scope)
        if isinstance(value, Ref):
            return Ref(f"({operator} on an unknown value)")
        if operator == "!":
            if not isinstance(value, bool):
                raise EvalError("! needs a bool")
            return not value
        return -value

    def _eval_identifier(self, node: Tree, scope: dict[str, Any]) -> Any:
        name = _name(node)
        if name in scope:
            return scope[name]
        raise Unsupported(f"bare identifier {name!r} (not a for-expression variable)")

    def _eval_index_expr_term(self, node: Tree, scope: dict[str, Any]) -> Any:
        return self._eval_traversal(node, scope)

    def _eval_get_attr_expr_term(self, node: Tree, scope: dict[str, Any]) -> Any:
        return self._eval_traversal(node, scope)

    def _steps(self, node: Tree, scope: dict[str, Any]) -> tuple[Tree, list[tuple[str, Any]]]:
        """Unwind ``a.b["c"].d`` into its root term and (kind, key) steps."""
        steps: list[tuple[str, Any]] = []
        while True:
            if node.data == "expr_term" and len(_trees(node)) == 1:
                inner = _trees(node)[0]
                if inner.data in ("get_attr_expr_term", "index_expr_term"):
                    node = inner
                    continue
                return inner, list(reversed(steps))
            if node.data == "get_attr_expr_term":
                base, get_attr = _trees(node)
                steps.append(("attr", _name(_trees(get_attr)[0])))
            elif node.data == "index_expr_term":
                base, index = _trees(node)
                if index.data == "short_index":
                    key: Any = int(str(index.children[-1]))
                else:
                    key = self.eval(_trees(index)[0], scope)
                steps.append(("index", key))
            else:
                return node, list(reversed(steps))
            node = base

    def _eval_traversal(self, node: Tree, scope: dict[str, Any]) -> Any:
        root, steps = self._steps(node, scope)
        if root.data == "identifier" and _name(root) not in scope:
            value, steps = self._root(_name(root), steps)
        else:
            value = self.eval(root, scope)
        for kind, key in steps:
            value = self._step(value, kind, key)
        return value

    def _root(self, name: str, steps: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
        def attr_at(i: int) -> str:
            if len(steps) <= i or steps[i][0] != "attr":
                raise Unsupported(f"{name} needs an attribute")
            return str(steps[i][1])

        if name == "var":
            variable = attr_at(0)
            if variable not in self.variables:
                raise Unsupported(f"var.{variable} has no value")
            return self.variables[variable], steps[1:]
        if name == "local":
            return self.local(attr_at(0)), steps[1:]
        if name == "path":
            if attr_at(0) not in ("module", "root"):
                raise Unsupported(f"path.{attr_at(0)}")
            return str(self.module_dir), steps[1:]
        if name == "module":
            module = attr_at(0)
            if module not in self.modules:
                return Ref(f"module.{module}"), steps[1:]
            return self.modules[module](), steps[1:]
        if name == "data":
            return Ref(f"data.{attr_at(0)}.{attr_at(1)}"), steps[2:]
        if "_" in name:  # a resource type, e.g. aws_s3_bucket
            return Ref(f"{name}.{attr_at(0)}"), steps[1:]
        raise Unsupported(f"reference root {name!r}")

    @staticmethod
    def _step(value: Any, kind: str, key: Any) -> Any:
        if isinstance(value, Ref):
            return value.attr(key) if kind == "attr" else value.index(key)
        if isinstance(value, dict):
            if key not in value:
                raise EvalError(f"no attribute {key!r}")
            return value[key]
        if isinstance(value, list) and kind == "index" and isinstance(key, int):
            if not 0 <= key < len(value):
                raise EvalError(f"index {key} out of range")
            return value[key]
        raise EvalError(f"cannot read {key!r} of a {type(value).__name__}")

    def _for_parts(self, node: Tree) -> tuple[list[str], Tree, list[Tree], Tree | None]:
        parts = _trees(node)
        intro = parts[0]
        names = [_name(t) for t in _trees(intro) if t.data == "identifier"]
        collection = next(t for t in _trees(intro) if t.data != "identifier")
        condition = None
        if parts[-1].data == "for_cond":
            condition = _trees(parts[-1])[0]
            parts = parts[:-1]
        return names, collection, parts[1:], condition

    def _iterate(self, node: Tree, scope: dict[str, Any]) -> list[dict[str, Any]]:
        names, collection_node, _, condition = self._for_parts(node)
        collection = self.eval(collection_node, scope)
        if isinstance(collection, dict):
            pairs = list(sorted(collection.items()))
        elif isinstance(collection, list | set | tuple):
            items = sorted(collection) if isinstance(collection, set) else collection
            pairs = list(enumerate(items))
        else:
            raise EvalError(f"cannot iterate over a {type(collection).__name__}")
        scopes = []
        for key, value in pairs:
            inner = dict(scope)
            if len(names) == 2:
                inner[names[0]], inner[names[1]] = key, value
            else:
                inner[names[0]] = value
            if condition is not None:
                keep = self.eval(condition, inner)
                if not isinstance(keep, bool):
                    raise EvalError("for-expression condition is not a bool")
                if not keep:
                    continue
            scopes.append(inner)
        return scopes

    def _eval_for_tuple_expr(self, node: Tree, scope: dict[str, Any]) -> Any:
        _, _, body, _ = self._for_parts(node)
        return [self.eval(body[0], inner) for inner in self._iterate(node, scope)]

    def _eval_for_object_expr(self, node: Tree, scope: dict[str, Any]) -> Any:
        _, _, body, _ = self._for_parts(node)
        if any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children):
            raise Unsupported("grouping for-expression (...)")
        result: dict[str, Any] = {}
        for inner in self._iterate(node, scope):
            key = _to_string(self.eval(body[0], inner))
            if key in result:
                raise EvalError(f"duplicate key {key!r}")
            result[key] = self.eval(body[1], inner)
        return result

    def _eval_function_call(self, node: Tree, scope: dict[str, Any]) -> Any:
        parts = _trees(node)
        name = _name(parts[0])
        arg_nodes = _trees(parts[1]) if len(parts) > 1 else []
        if name in ("try", "can"):
            for arg in arg_nodes if name == "try" else arg_nodes[:1]:
                try:
                    value = self.eval(arg, scope)
                except EvalError:
                    continue
                return True if name == "can" else value
            if name == "can":
                return False
            raise EvalError("try: no argument evaluated without error")
        args = [self.eval(a, scope) for a in arg_nodes]
        function = FUNCTIONS.get(name)
        if function is None:
            raise Unsupported(f"function {name}()")
        if any(isinstance(a, Ref) for a in args) and name not in ("coalesce", "format", "join"):
            return Ref(f"{name}(...)")
        if any(a is None for a in args) and name not in ("coalesce", "jsonencode"):
            raise EvalError(f"{name}(): an argument is null")
        try:
            return function(*args)
        except (TypeError, ValueError, KeyError, IndexError, OSError) as exc:
            raise EvalError(f"{name}(): {exc}") from exc


def _fileset(base: str, pattern: str) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in Path(base).glob(pattern) if p.is_file())


def _regex(pattern: str, text: str) -> Any:
    """Terraform's regex(): the match (or its groups); no match is an error."""
    match = re.search(pattern, text)
    if match is None:
        raise EvalError(f"regex {pattern!r} does not match {text!r}")
    if match.groupdict():
        return match.groupdict()
    return list(match.groups()) if match.groups() else match.group(0)


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise EvalError("coalesce: no non-null argument")


def _substr(text: str, offset: int, length: int) -> str:
    return text[offset:] if length < 0 else text[offset : offset + length]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "jsondecode": json.loads,
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":")),
    "base64encode": lambda text: base64.b64encode(text.encode("utf-8")).decode("ascii"),
    "file": lambda path: Path(path).read_text(encoding="utf-8"),
    "fileset": _fileset,
    "contains": lambda seq, value: value in seq,
    "alltrue": lambda seq: all(seq),
    "anytrue": lambda seq: any(seq),
    "length": len,
    "join": lambda sep, seq: sep.join(_to_string(v) for v in seq),
    "substr": _substr,
    "format": _format,
    "replace": lambda text, old, new: text.replace(old, new),
    "coalesce": _coalesce,
    "trimsuffix": lambda text, suffix: text[: -len(suffix)] if text.endswith(suffix) else text,
    "lower": str.lower,
    "regex": _regex,
    "floor": lambda n: int(n // 1),
    "upper": str.upper,
    "range": lambda *a: list(range(*a)),
    "tostring": _to_string,
    "concat": lambda *lists: [v for seq in lists for v in seq],
    "merge": lambda *maps: {k: v for m in maps for k, v in m.items()},
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[k] for k in sorted(m)],
}


def _heredoc(text: str, trim: bool) -> str:
    """A heredoc without templates: the lines between the markers, each ending in a
    newline, and for ``<<-`` the smallest indentation of the non-blank lines removed
    (as Terraform does)."""
    opening, *lines = text.rstrip("\n").split("\n")
    marker = opening.lstrip("<-").strip()
    if not lines or lines[-1].strip() != marker:
        raise Unsupported(f"heredoc without its closing {marker}")
    lines = lines[:-1]
    body = "\n".join(lines)
    if "${" in body.replace("$${", "") or "%{" in body.replace("%%{", ""):
        raise Unsupported("heredoc with a template")
    if trim:
        indent = min((len(x) - len(x.lstrip(" ")) for x in lines if x.strip()), default=0)
        lines = [x[indent:] for x in lines]
    return "".join(f"{x}\n" for x in lines).replace("$${", "${").replace("%%{", "%{")
