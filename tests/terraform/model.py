"""``terraform/`` as data: every file parsed twice, as dicts and as parse trees.

The dict form (python-hcl2's serializer) is convenient for literal settings;
the tree form keeps expressions exact for :mod:`tests.terraform.evaluate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions
from lark import Token, Tree

from tests.paths import REPO_ROOT
from tests.terraform.evaluate import Evaluator, _trees

TERRAFORM_DIR = REPO_ROOT / "terraform"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def _block_labels(block: Tree) -> list[str]:
    labels = []
    for child in block.children:
        if isinstance(child, Token):
            if child.type == "LBRACE":
                break
            continue
        if child.data == "identifier":
            labels.append(str(child.children[0]))
        elif child.data == "string":
            labels.append(
                "".join(str(p.children[0]) for p in child.children if isinstance(p, Tree))
            )
        elif child.data == "body":
            break
    return labels


def _body(block: Tree) -> Tree:
    return next(c for c in block.children if isinstance(c, Tree) and c.data == "body")


def blocks(body: Tree) -> Iterator[tuple[list[str], Tree]]:
    """(labels, body) of each block directly inside ``body``."""
    for child in body.children:
        if isinstance(child, Tree) and child.data == "block":
            yield _block_labels(child), _body(child)


def attributes(body: Tree) -> dict[str, Tree]:
    """name -> expression tree of each attribute directly inside ``body``."""
    found = {}
    for child in body.children:
        if isinstance(child, Tree) and child.data == "attribute":
            parts = _trees(child)
            found[str(parts[0].children[0])] = parts[-1]
    return found


@dataclass
class Module:
    directory: Path
    dicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    trees: dict[str, Tree] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> Module:
        module = cls(directory)
        for path in sorted(directory.glob("*.tf")):
            text = path.read_text(encoding="utf-8")
            module.dicts[path.name] = hcl2.loads(text, serialization_options=OPTIONS)
            module.trees[path.name] = hcl2.parses_to_tree(text)
        return module

    # --- blocks by kind ------------------------------------------------------------

    def top_blocks(self, kind: str) -> Iterator[tuple[list[str], Tree, str]]:
        for name, tree in self.trees.items():
            for labels, body in blocks(tree.children[0]):
                if labels and labels[0] == kind:
                    yield labels[1:], body, name

    def labelled(self, kind: str, depth: int) -> dict[tuple[str, ...], Tree]:
        found: dict[tuple[str, ...], Tree] = {}
        for labels, body, file in self.top_blocks(kind):
            key = tuple(labels[:depth])
            if key in found:
                raise AssertionError(f"{kind} {'.'.join(key)} declared twice ({file})")
            found[key] = body
        return found

    @property
    def variables(self) -> dict[str, Tree]:
        return {k[0]: v for k, v in self.labelled("variable", 1).items()}

    @property
    def outputs(self) -> dict[str, Tree]:
        return {k[0]: v for k, v in self.labelled("output", 1).items()}

    @property
    def resources(self) -> dict[tuple[str, ...], Tree]:
        return self.labelled("resource", 2)

    @property
    def data(self) -> dict[tuple[str, ...], Tree]:
        return self.labelled("data", 2)

    @property
    def module_calls(self) -> dict[str, Tree]:
        return {k[0]: v for k, v in self.labelled("module", 1).items()}

    @property
    def locals(self) -> dict[str, Tree]:
        found: dict[str, Tree] = {}
        for _, body, file in self.top_blocks("locals"):
            for name, expr in attributes(body).items():
                if name in found:
                    raise AssertionError(f"local.{name} declared twice ({file})")
                found[name] = expr
        return found

    def resource_dict(self, rtype: str, name: str) -> dict[str, Any]:
        """The serializer's dict of one resource (literal settings read easily)."""
        for parsed in self.dicts.values():
            for entry in parsed.get("resource", []):
                if name in entry.get(rtype, {}):
                    body: dict[str, Any] = entry[rtype][name]
                    return body
        raise KeyError(f"{rtype}.{name}")

    def data_dict(self, dtype: str, name: str) -> dict[str, Any]:
        for parsed in self.dicts.values():
            for entry in parsed.get("data", []):
                if name in entry.get(dtype, {}):
                    body: dict[str, Any] = entry[dtype][name]
                    return body
        raise KeyError(f"data.{dtype}.{name}")

    # --- evaluation ----------------------------------------------------------------

    def variable_defaults(self) -> dict[str, Any]:
        defaults = {}
        plain = Evaluator(self.directory, {})
        for name, body in self.variables.items():
            attrs = attributes(body)
            if "default" in attrs:
                defaults[name] = plain.eval(attrs["default"], {})
        return defaults

    def evaluator(self, values: dict[str, Any]) -> Evaluator:
        """Evaluator with the variables' defaults overridden by ``values``."""
        variables = {**self.variable_defaults(), **values}
        calls = {}
        for name, body in self.module_calls.items():
            calls[name] = self._child_outputs(name, body, variables)
        return Evaluator(self.directory, variables, self.locals, calls)

    def _child_outputs(self, name: str, body: Tree, parent_vars: dict[str, Any]) -> Any:
        def outputs() -> dict[str, Any]:
            parent = Evaluator(self.directory, parent_vars, self.locals)
            attrs = attributes(body)
            source = parent.eval(attrs["source"], {})
            child = load_module(str((self.directory / source).resolve()))
            args = {k: parent.eval(v, {}) for k, v in attrs.items() if k != "source"}
            evaluator = child.evaluator(args)
            return {
                out: evaluator.eval(attributes(obody)["value"], {})
                for out, obody in child.outputs.items()
            }

        return outputs


@cache
def load_module(directory: str = str(TERRAFORM_DIR)) -> Module:
    return Module.load(Path(directory))


def tfvars(stage: str) -> dict[str, Any]:
    """A stage's tfvars file, evaluated (literals only)."""
    path = TERRAFORM_DIR / "stages" / f"{stage}.tfvars"
    tree = hcl2.parses_to_tree(path.read_text(encoding="utf-8"))
    plain = Evaluator(TERRAFORM_DIR, {})
    return {name: plain.eval(expr, {}) for name, expr in attributes(tree.children[0]).items()}


def stages() -> list[str]:
    return sorted(p.stem for p in (TERRAFORM_DIR / "stages").glob("*.tfvars"))
