"""The bridge: Terraform's outputs become a Chalice stage that Chalice itself reads as intended."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import load_settings
from tests.paths import REPO_ROOT
from tests.support import terraform_outputs as support_outputs
from tests.terraform.model import load_module, tfvars
from tweetlake_local.stage import stage_environment
from tweetlake_ops import chalice_config

ACCOUNT = support_outputs.ACCOUNT
BUCKET = support_outputs.lake_bucket("prod")


def _outputs(stage: str = "prod") -> dict[str, Any]:
    return support_outputs.terraform_outputs(stage)


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / ".chalice").mkdir(parents=True)
    shutil.copy(REPO_ROOT / ".chalice" / "config.json", project / ".chalice" / "config.json")
    shutil.copy(REPO_ROOT / "app.py", project / "app.py")
    shutil.copytree(REPO_ROOT / "chalicelib", project / "chalicelib")
    return project


def _run(project: Path, tmp_path: Path, outputs: dict[str, Any], *extra: str) -> int:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return chalice_config.main(
        [
            "--stage",
            "prod",
            "--tf-output",
            str(path),
            "--config",
            str(project / ".chalice" / "config.json"),
            *extra,
        ]
    )


def test_the_bridge_reads_only_outputs_terraform_declares() -> None:
    declared = set(load_module().outputs)
    assert set(chalice_config.REQUIRED_OUTPUTS) <= declared
    assert set(_outputs()) <= declared


def test_writes_the_stage_and_keeps_dev_intact(tmp_path: Path) -> None:
    project = _project(tmp_path)
    config_path = project / ".chalice" / "config.json"
    dev_before = json.loads(config_path.read_text())["stages"]["dev"]
    assert _run(project, tmp_path, _outputs()) == 0
    config = json.loads(config_path.read_text())
    assert config["stages"]["dev"] == dev_before
    prod = config["stages"]["prod"]
    assert prod["manage_iam_role"] is False
    assert prod["environment_variables"]["TWEETLAKE_LAKE_BUCKET"] == BUCKET
    assert prod["environment_variables"]["TWEETLAKE_SOURCE"] == "v2"
    functions = prod["lambda_functions"]
    assert functions["ingest"]["iam_role_arn"].endswith(":role/tweetlake-prod-ingest")
    assert functions["ingest"]["reserved_concurrency"] == 1  # carried over from dev
    assert functions["api_handler"]["reserved_concurrency"] == 5  # the API's bill bound
    assert prod["environment_variables"]["TWEETLAKE_API_ACCESS"] == "iam"
    assert functions["ingest"]["environment_variables"]["TWEETLAKE_TWITTER_SECRET"].startswith(
        "arn:aws:secretsmanager:"
    )
    assert "TWEETLAKE_TWITTER_SECRET" not in functions["consume"].get("environment_variables", {})
    # The compliance run asks X with the same credentials as the ingest.
    compliance_env = functions["compliance"]["environment_variables"]
    assert compliance_env["TWEETLAKE_TWITTER_SECRET"].startswith("arn:aws:secretsmanager:")
    assert functions["compliance"]["iam_role_arn"].endswith(":role/tweetlake-prod-compliance")
    # The run's post budget is the number the 80 % alarm was built from.
    assert functions["ingest"]["environment_variables"]["TWEETLAKE_X_POST_BUDGET"] == "1000000"
    api_env = functions["api_handler"]["environment_variables"]
    assert api_env["TWEETLAKE_CURSOR_KEY_PARAMETER"] == "/tweetlake/prod/api-cursor-key"
    # pyarrow reaches the purge function only, through the pandas layer.
    assert functions["purge"]["layers"] == [_outputs()["purge_layer_arn"]["value"]]
    assert [f for f, s in functions.items() if "layers" in s] == ["purge"]
    assert functions["purge"]["reserved_concurrency"] == 1  # one purge at a time
    # The functions run on the instruction set the layer was picked for.
    assert prod["lambda_architecture"] == "arm64"
    env = stage_environment("prod", config_path)
    settings = load_settings({**env, "AWS_REGION": "eu-west-1"})
    assert settings.lake_bucket == BUCKET and settings.stage == "prod"
    # The consumer's lake: the Direct PUT Firehose Terraform created for the stage.
    assert settings.curated_firehose == "tweetlake-prod-curated"


def test_the_architecture_is_terraforms_for_the_stage_and_the_files_by_default(
    tmp_path: Path,
) -> None:
    """Terraform picks the pandas layer for its lambda_architecture; the stage follows it.
    Its default is the file's own top-level setting (dev, and the cost model's)."""
    default = load_module().variable_defaults()["lambda_architecture"]
    assert (
        json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())["lambda_architecture"]
        == default
        == "arm64"
    )
    project = _project(tmp_path)
    outputs = _outputs()
    outputs["lambda_architecture"]["value"] = "x86_64"
    assert _run(project, tmp_path, outputs) == 0
    config = json.loads((project / ".chalice" / "config.json").read_text())
    assert config["stages"]["prod"]["lambda_architecture"] == "x86_64"
    assert "lambda_architecture" not in config["stages"]["dev"]


def test_rerunning_is_idempotent_and_keeps_hand_tuned_settings(tmp_path: Path) -> None:
    project = _project(tmp_path)
    config_path = project / ".chalice" / "config.json"
    _run(project, tmp_path, _outputs())
    config = json.loads(config_path.read_text())
    config["stages"]["prod"]["lambda_functions"]["consume"]["lambda_memory_size"] = 1024
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    _run(project, tmp_path, _outputs())
    first = config_path.read_text()
    _run(project, tmp_path, _outputs())
    assert config_path.read_text() == first
    assert (
        json.loads(first)["stages"]["prod"]["lambda_functions"]["consume"]["lambda_memory_size"]
        == 1024
    )


@pytest.mark.parametrize(("written", "kept"), [("public", "public"), ("iam", "iam")])
def test_a_stage_made_public_on_purpose_stays_public(
    tmp_path: Path, written: str, kept: str
) -> None:
    project = _project(tmp_path)
    config_path = project / ".chalice" / "config.json"
    _run(project, tmp_path, _outputs())
    config = json.loads(config_path.read_text())
    config["stages"]["prod"]["environment_variables"]["TWEETLAKE_API_ACCESS"] = written
    config_path.write_text(json.dumps(config))
    _run(project, tmp_path, _outputs())
    stage = json.loads(config_path.read_text())["stages"]["prod"]
    assert stage["environment_variables"]["TWEETLAKE_API_ACCESS"] == kept


def test_a_misspelt_access_mode_is_refused_before_writing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    config_path = project / ".chalice" / "config.json"
    _run(project, tmp_path, _outputs())
    config = json.loads(config_path.read_text())
    config["stages"]["prod"]["environment_variables"]["TWEETLAKE_API_ACCESS"] = "Public"
    config_path.write_text(json.dumps(config))
    before = config_path.read_text()
    with pytest.raises(SystemExit, match="TWEETLAKE_API_ACCESS"):
        _run(project, tmp_path, _outputs())
    assert config_path.read_text() == before


def test_refuses_outputs_of_another_stage(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with pytest.raises(SystemExit, match="outputs are for stage 'staging'"):
        _run(project, tmp_path, _outputs("staging"))


def test_refuses_incomplete_outputs_naming_what_is_missing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    outputs = _outputs()
    del outputs["lake_bucket"]
    with pytest.raises(SystemExit, match="lack lake_bucket"):
        _run(project, tmp_path, outputs)


def test_refuses_names_the_app_would_reject(tmp_path: Path) -> None:
    project = _project(tmp_path)
    outputs = _outputs()
    outputs["lake_bucket"]["value"] = "Not_A_Bucket"
    with pytest.raises(SystemExit, match="TWEETLAKE_LAKE_BUCKET"):
        _run(project, tmp_path, outputs)


def test_refuses_a_curated_firehose_name_the_app_would_reject(tmp_path: Path) -> None:
    project = _project(tmp_path)
    outputs = _outputs()
    outputs["curated_firehose"]["value"] = "tweetlake prod curated"
    with pytest.raises(SystemExit, match="TWEETLAKE_CURATED_FIREHOSE"):
        _run(project, tmp_path, outputs)
    del outputs["curated_firehose"]
    with pytest.raises(SystemExit, match="lack curated_firehose"):
        _run(project, tmp_path, outputs)


def test_the_dev_stage_names_terraforms_dev_curated_firehose() -> None:
    """The dev stage in the repository points at the stream Terraform's dev stage creates."""
    env = stage_environment("dev")
    names = load_module().evaluator(tfvars("dev")).local("firehose_names")
    assert env["TWEETLAKE_CURATED_FIREHOSE"] == names["curated"] == "tweetlake-dev-curated"


def test_chalice_builds_functions_named_as_terraform_expects_with_its_roles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chalice's own deploy planner (offline) sees the roles and the function names that
    Terraform's log groups and alarms are named after."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import models
    from chalice.deploy.appgraph import ApplicationGraphBuilder

    project = _project(tmp_path)
    _run(project, tmp_path, _outputs())
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    config = CLIFactory(str(project)).create_config_obj(chalice_stage_name="prod")
    application = ApplicationGraphBuilder().build(config, "prod")
    functions = {}
    for resource in _walk(application):
        if isinstance(resource, models.LambdaFunction):
            role = resource.role
            assert isinstance(role, models.PreCreatedIAMRole), resource.function_name
            functions[resource.function_name] = role.role_arn
    expected_names = load_module().evaluator(tfvars("prod")).local("lambda_functions")
    roles = _outputs()["lambda_role_arns"]["value"]
    assert functions == {
        expected_names["ingest"]: roles["ingest"],
        expected_names["consume"]: roles["consume"],
        expected_names["compliance"]: roles["compliance"],
        expected_names["api"]: roles["api_handler"],
        expected_names["purge"]: roles["purge"],
    }


def _walk(resource: Any) -> list[Any]:
    from chalice.deploy import models

    found = [resource]
    for dependency in resource.dependencies():
        if isinstance(dependency, models.Model):
            found += _walk(dependency)
    return found
