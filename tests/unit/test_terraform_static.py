"""terraform/ is well-formed: it parses, references resolve, inputs and outputs are documented."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import hcl2
import pytest
from lark import Tree

from tests.paths import REPO_ROOT
from tests.terraform.binary import run, terraform_binary
from tests.terraform.evaluate import _trees
from tests.terraform.model import (
    TERRAFORM_DIR,
    Module,
    attributes,
    blocks,
    load_module,
    stages,
    tfvars,
)
from tests.terraform.references import file_refs

MODULE_DIRS = [
    TERRAFORM_DIR,
    *sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir()),
]
ALWAYS_KNOWN = {"path", "terraform", "each", "count", "self"}


def _ids(dirs: list[Path]) -> list[str]:
    return [str(d.relative_to(TERRAFORM_DIR.parent)) for d in dirs]


def test_every_tf_file_parses() -> None:
    files = sorted(TERRAFORM_DIR.rglob("*.tf"))
    assert len(files) >= 10
    for path in files:
        hcl2.parses_to_tree(path.read_text(encoding="utf-8"))


def test_the_layout_is_one_file_per_concern() -> None:
    names = {p.name for p in TERRAFORM_DIR.glob("*.tf")}
    assert {"versions.tf", "variables.tf", "outputs.tf"} <= names
    module = load_module()
    # Variables and outputs live only in their own files.
    for kind, home in (("variable", "variables.tf"), ("output", "outputs.tf")):
        elsewhere = [f for _, _, f in module.top_blocks(kind) if f != home]
        assert not elsewhere, f"{kind} blocks outside {home}: {elsewhere}"


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=_ids(MODULE_DIRS))
def test_every_reference_resolves(directory: Path) -> None:
    module = load_module(str(directory))
    variables, locals_ = set(module.variables), set(module.locals)
    resources, data, calls = set(module.resources), set(module.data), module.module_calls
    unresolved = []
    seen = 0
    for file, tree in module.trees.items():
        for ref in file_refs(tree, file):
            seen += 1
            root, path = ref.root, ref.path
            if root in ALWAYS_KNOWN:
                ok = True
            elif root == "var":
                ok = bool(path) and path[0] in variables
            elif root == "local":
                ok = bool(path) and path[0] in locals_
            elif root == "data":
                ok = len(path) >= 2 and (path[0], path[1]) in data
            elif root == "module":
                ok = bool(path) and path[0] in calls and _module_has_output(module, path)
            elif "_" in root:
                ok = bool(path) and (root, path[0]) in resources
            else:
                ok = False
            if not ok:
                unresolved.append(str(ref))
    assert seen > 0
    assert not unresolved, "references to nothing:\n" + "\n".join(unresolved)


def _module_has_output(module: Module, path: tuple[str, ...]) -> bool:
    source = module.evaluator({}).eval(attributes(module.module_calls[path[0]])["source"], {})
    child = Module.load((module.directory / source).resolve())
    return len(path) < 2 or path[1] in child.outputs


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=_ids(MODULE_DIRS))
def test_every_variable_has_a_type_and_description(directory: Path) -> None:
    module = load_module(str(directory))
    assert module.variables
    for name, body in module.variables.items():
        attrs = attributes(body)
        assert "type" in attrs, f"variable {name} has no type"
        assert "description" in attrs, f"variable {name} has no description"
        description = module.evaluator({}).eval(attrs["description"], {})
        assert isinstance(description, str) and len(description) > 10, name


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=_ids(MODULE_DIRS))
def test_every_output_has_a_description(directory: Path) -> None:
    module = load_module(str(directory))
    assert module.outputs
    for name, body in module.outputs.items():
        assert "description" in attributes(body), f"output {name} has no description"


def test_the_module_pins_terraform_and_the_aws_provider() -> None:
    versions = load_module().dicts["versions.tf"]["terraform"][0]
    assert versions["required_version"].startswith(">=")
    aws = versions["required_providers"][0]["aws"]
    assert aws["source"] == "hashicorp/aws"
    assert "<" in aws["version"] and ">=" in aws["version"]


@pytest.mark.parametrize("stage", stages())
def test_each_stage_sets_only_declared_variables_and_every_required_one(stage: str) -> None:
    module = load_module()
    values = tfvars(stage)
    assert values["stage"] == stage
    assert set(values) <= set(module.variables), set(values) - set(module.variables)
    required = {n for n, body in module.variables.items() if "default" not in attributes(body)}
    assert required <= set(values), f"{stage}.tfvars misses {required - set(values)}"


def test_there_is_a_dev_and_a_prod_stage() -> None:
    assert {"dev", "prod"} <= set(stages())


@pytest.mark.parametrize("stage", stages())
def test_each_stage_passes_the_variable_validations(stage: str) -> None:
    """GIVEN a stage's tfvars WHEN every validation block is evaluated THEN all hold."""
    module = load_module()
    evaluator = module.evaluator(tfvars(stage))
    checked = 0
    for name, body in module.variables.items():
        for _, block in _validation_blocks(body):
            condition = attributes(block)["condition"]
            assert evaluator.eval(condition, {}) is True, (
                f"{stage}: var.{name} fails its validation"
            )
            checked += 1
    assert checked >= 10


def _validation_blocks(body: Tree) -> list[tuple[list[str], Tree]]:
    return [(labels, b) for labels, b in blocks(body) if labels[0] == "validation"]


def test_a_bad_value_fails_its_validation() -> None:
    """The validations are live: a stage name the app would reject is refused here too."""
    module = load_module()
    evaluator = module.evaluator({**tfvars("dev"), "stage": "Prod_1"})
    body = module.variables["stage"]
    ((_, block),) = _validation_blocks(body)
    assert evaluator.eval(attributes(block)["condition"], {}) is False


def test_terraform_fmt_is_clean() -> None:
    result = run(["fmt", "-check", "-recursive", "-diff"], cwd=TERRAFORM_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def _plugin_mirror() -> Path:
    mirror = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
    if not (mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(
            f"no local mirror of the hashicorp/aws provider at {mirror} (set TF_PLUGIN_MIRROR):"
            " terraform validate needs the provider schema and the registry is not reachable"
        )
    return mirror


@pytest.mark.slow
def test_terraform_validate_with_the_aws_provider(tmp_path: Path) -> None:
    """Terraform's own validation (argument names, types, block shapes) against provider 5.x."""
    terraform_binary()
    mirror = _plugin_mirror()
    config = tmp_path / "terraformrc"
    config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
    )
    root = tmp_path / "repo"
    shutil.copytree(
        TERRAFORM_DIR,
        root / "terraform",
        ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"),
    )
    shutil.copytree(TERRAFORM_DIR.parent / "chalicelib", root / "chalicelib")
    if (TERRAFORM_DIR.parent / "sql").is_dir():
        shutil.copytree(TERRAFORM_DIR.parent / "sql", root / "sql")
    init = run(
        ["init", "-backend=false", "-input=false"], cwd=root / "terraform", cli_config=config
    )
    assert init.returncode == 0, init.stdout + init.stderr
    validate = run(["validate"], cwd=root / "terraform", cli_config=config)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "Success" in validate.stdout


def test_expressions_are_not_shadowed_by_unused_trees() -> None:
    """Sanity for the helpers: the evaluator sees the same locals as the serializer."""
    module = load_module()
    from_dicts = {
        k for parsed in module.dicts.values() for block in parsed.get("locals", []) for k in block
    }
    assert from_dicts == set(module.locals)
    assert all(_trees(expr) or expr.children for expr in module.locals.values())


def test_the_resolver_sees_what_a_reference_names() -> None:
    """The resolution test can fail: a snippet's references come out root and path intact."""
    tree = hcl2.parses_to_tree(
        "locals {\n  a = [for f in var.xs : f.name if try(f.on, local.b)]\n"
        '  c = "${aws_s3_bucket.lake.arn}/${data.aws_region.x.name}"\n}\n'
    )
    found = {(r.root, r.path) for r in file_refs(tree, "snippet.tf")}
    assert found == {
        ("var", ("xs",)),
        ("local", ("b",)),
        ("aws_s3_bucket", ("lake", "arn")),
        ("data", ("aws_region", "x", "name")),
    }


def test_the_api_stage_throttle_comes_from_variables_on_every_method() -> None:
    """The bill's bound: rate and burst on */* of the stage Chalice deploys to."""
    module = load_module()
    settings = module.resource_dict("aws_api_gateway_method_settings", "throttle")
    assert settings["method_path"] == "*/*"
    assert settings["rest_api_id"] == "${var.api_id}"
    assert settings["stage_name"] == "${var.api_gateway_stage}"
    (block,) = settings["settings"]
    assert block["throttling_rate_limit"] == "${var.api_throttle_rate_limit}"
    assert block["throttling_burst_limit"] == "${var.api_throttle_burst_limit}"
    defaults = module.variable_defaults()
    assert 0 < defaults["api_throttle_rate_limit"] <= defaults["api_throttle_burst_limit"]
    config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    assert {s["api_gateway_stage"] for s in config["stages"].values()} == {
        defaults["api_gateway_stage"]
    }
