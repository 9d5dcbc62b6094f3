"""IAM: each function's role grants exactly the AWS calls its code makes.

The calls come from the code itself (tests/terraform/aws_calls.py walks app.py
and chalicelib with the AST); the grants come from the policy documents in
terraform/iam.tf. One list completes the picture, BASELINE: what the platform
calls with the function's role, not the code (writing logs; the Kinesis event
source mapping's reads). Operations the code names by string (the store's
``getattr(client, "batch_write_item")``) or hands on as a bound method (the
credentials loader's ``client.get_secret_value``) are found too.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.aws_calls import action_sets, discover, iam_actions
from tests.terraform.model import load_module, tfvars

# Chalice function -> the role (and policy document) Terraform gives it.
ROLES = {
    "ingest": "ingest",
    "consume": "consume",
    "compliance": "compliance",
    "api_handler": "api",
    "purge": "purge",
}

LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
BASELINE: dict[str, set[str]] = {
    "ingest": LOGS,
    "consume": LOGS
    | {
        # Lambda's event source mapping reads the stream with the function's role.
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    },
    "compliance": LOGS,
    "api_handler": LOGS,
    # DeleteObject with a VersionId (the purge destroys old versions of what it
    # rewrites) is authorized as s3:DeleteObjectVersion; the AST sees only the method.
    "purge": LOGS | {"s3:DeleteObjectVersion"},
}


def _statements(document: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = load_module().data_dict("aws_iam_policy_document", document)[
        "statement"
    ]
    return statements


def _granted(document: str) -> set[str]:
    actions: set[str] = set()
    for statement in _statements(document):
        assert statement.get("effect", "Allow") == "Allow"
        actions |= set(statement["actions"])
    return actions


@pytest.fixture(scope="module")
def code_calls() -> Any:
    calls = discover()
    assert not calls.problems, calls.problems
    return calls


def test_discovery_sees_every_chalice_function(code_calls: Any) -> None:
    assert set(code_calls.actions) == set(ROLES)


def test_discovery_finds_the_health_check(code_calls: Any) -> None:
    """A call present on main today: the API's health check describes the tweets table."""
    assert "dynamodb:DescribeTable" in code_calls.actions["api_handler"]


@pytest.mark.parametrize("function", sorted(ROLES))
def test_role_grants_exactly_what_the_code_calls(function: str, code_calls: Any) -> None:
    needed = action_sets(code_calls)[function] | BASELINE[function]
    granted = _granted(ROLES[function])
    missing = {a: sorted(code_calls.actions[function].get(a, [])) for a in needed - granted}
    assert not missing, f"{function}: code calls these, the role does not grant them: {missing}"
    extra = granted - needed
    assert not extra, f"{function}: granted but never called (remove from iam.tf): {sorted(extra)}"


def test_no_allow_statement_uses_a_wildcard_action_or_resource() -> None:
    module = load_module()
    documents = [name for kind, name in module.data if kind == "aws_iam_policy_document"]
    assert len(documents) >= 8
    for document in documents:
        for statement in _statements(document):
            if statement.get("effect", "Allow") != "Allow":
                continue
            for action in statement["actions"]:
                assert "*" not in action, f"{document}: wildcard action {action}"
            for resource in statement.get("resources", []):
                assert resource != "*", f"{document}: resource *"


def test_object_actions_are_scoped_to_their_lake_prefix() -> None:
    evaluator = load_module().evaluator(tfvars("prod"))
    for document in ("ingest", "consume", "firehose_raw", "firehose_curated", "crawler", "purge"):
        for statement in _statements(document):
            object_actions = {"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"}
            if not object_actions & set(statement["actions"]):
                continue
            for resource in statement["resources"]:
                value = evaluator.eval_text(json.dumps(resource))
                assert value.startswith("${aws_s3_bucket.lake.arn}/"), value
                assert value.endswith("/*") and value.count("/") == 2, value


def test_table_actions_name_the_tables() -> None:
    for document in ("ingest", "consume", "compliance", "api", "purge"):
        for statement in _statements(document):
            if not any(a.startswith("dynamodb:") for a in statement["actions"]):
                continue
            for resource in statement["resources"]:
                assert resource.startswith("${aws_dynamodb_table."), resource


@pytest.mark.parametrize(
    "role", sorted({*ROLES.values(), "firehose_raw", "firehose_curated", "crawler"})
)
def test_each_role_carries_its_own_policy_document(role: str) -> None:
    module = load_module()
    attachment = module.resource_dict("aws_iam_role_policy", role)
    assert attachment["role"] == f"${{aws_iam_role.{role}.id}}"
    assert attachment["policy"] == f"${{data.aws_iam_policy_document.{role}.json}}"
    attached = [k for k in module.resources if k[0] == "aws_iam_role_policy_attachment"]
    assert not attached, "managed policies would grant more than the code calls"


def _by_service(document: str) -> dict[str, set[str]]:
    """The document's actions grouped by service prefix, with the resources they name."""
    grouped: dict[str, set[str]] = {}
    for statement in _statements(document):
        for action in statement["actions"]:
            grouped.setdefault(action.split(":")[0], set()).update(statement["resources"])
    return grouped


def test_each_firehose_role_reaches_only_what_its_stream_needs() -> None:
    """raw reads the stream and writes raw/; curated reads the Glue schema and writes
    curated/; neither reaches the other's zone or source, and only the consumer puts
    into the curated stream."""
    raw, curated = _by_service("firehose_raw"), _by_service("firehose_curated")
    assert set(raw) == {"kinesis", "s3", "logs"}
    assert raw["kinesis"] == {"${aws_kinesis_stream.tweets.arn}"}
    assert "${local.lake_objects.raw}" in raw["s3"]
    assert "${local.lake_objects.curated}" not in raw["s3"]
    assert raw["logs"] == {'${aws_cloudwatch_log_group.firehose["raw"].arn}:*'}
    assert set(curated) == {"glue", "s3", "logs"}
    assert "${aws_glue_catalog_table.tweet_versions.arn}" in curated["glue"]
    assert "${local.lake_objects.curated}" in curated["s3"]
    assert "${local.lake_objects.raw}" not in curated["s3"]
    assert curated["logs"] == {'${aws_cloudwatch_log_group.firehose["curated"].arn}:*'}
    (publish,) = [s for s in _statements("consume") if "firehose:PutRecordBatch" in s["actions"]]
    assert publish["actions"] == ["firehose:PutRecordBatch"]
    assert publish["resources"] == ["${aws_kinesis_firehose_delivery_stream.curated.arn}"]
    module = load_module()
    for name, role in (("raw", "firehose_raw"), ("curated", "firehose_curated")):
        stream = module.resource_dict("aws_kinesis_firehose_delivery_stream", name)
        (s3,) = stream["extended_s3_configuration"]
        assert s3["role_arn"] == f"${{aws_iam_role.{role}.arn}}"


def test_lambda_roles_trust_only_lambda_and_reach_chalice_by_function_name() -> None:
    module = load_module()
    trust = module.data_dict("aws_iam_policy_document", "lambda_assume")["statement"]
    assert trust[0]["principals"][0]["identifiers"] == ["lambda.amazonaws.com"]
    evaluator = module.evaluator(tfvars("prod"))
    from tests.terraform.model import attributes

    outputs = evaluator.eval(attributes(module.outputs["lambda_role_arns"])["value"], {})
    assert {k: str(v) for k, v in outputs.items()} == {
        f: f"${{aws_iam_role.{r}.arn}}" for f, r in ROLES.items()
    }


def test_the_method_to_action_mapping() -> None:
    assert iam_actions("kinesis", "put_records") == ("kinesis:PutRecords",)
    assert iam_actions("dynamodb", "batch_write_item") == ("dynamodb:BatchWriteItem",)
    assert iam_actions("s3", "list_objects_v2") == ("s3:ListBucket",)
    assert iam_actions("s3", "upload_file") == ("s3:PutObject",)
    assert iam_actions("secretsmanager", "get_secret_value") == ("secretsmanager:GetSecretValue",)


def test_discovery_follows_imports_clients_passed_around_and_paginators(tmp_path: Path) -> None:
    """GIVEN a small app whose helper gets its client as an argument WHEN discovered THEN
    each function gets the calls of the modules it reaches, and only those."""
    pkg = tmp_path / "chalicelib"
    (pkg / "api").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "aws.py").write_text("def client(service, region):\n    return service\n")
    (pkg / "store.py").write_text(
        "def put(s3, key):\n    s3.put_object(Bucket='b', Key=key, Body=b'')\n"
    )
    (pkg / "ingest.py").write_text(
        textwrap.dedent(
            """
            from chalicelib import aws
            from . import store

            def run():
                k = aws.client("kinesis", "us-east-1")
                k.put_records(StreamName="s", Records=[])
                store.put(aws.client("s3", "us-east-1"), "quarantine/x")
                k.get_waiter("stream_exists").wait(StreamName="s")
            """
        )
    )
    (pkg / "api" / "__init__.py").write_text("")
    (pkg / "api" / "routes.py").write_text(
        textwrap.dedent(
            """
            from chalice import Blueprint
            from chalicelib import aws
            bp = Blueprint(__name__)

            @bp.route("/x")
            def x():
                ddb = aws.client("dynamodb", "us-east-1")
                for page in ddb.get_paginator("query").paginate(TableName="t"):
                    pass
                return {}
            """
        )
    )
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            from chalice import Chalice, Rate
            from chalicelib import ingest
            from chalicelib.api import routes
            app = Chalice(app_name="x")
            app.register_blueprint(routes.bp)

            @app.schedule(Rate(1, unit=Rate.MINUTES), name="ingest")
            def tick(event):
                return ingest.run()
            """
        )
    )
    calls = discover(tmp_path)
    assert calls.problems == []
    assert set(calls.actions["ingest"]) == {
        "kinesis:PutRecords",
        "kinesis:DescribeStream",
        "s3:PutObject",
    }
    assert set(calls.actions["api_handler"]) == {"dynamodb:Query"}


def test_discovery_reports_a_client_it_cannot_name(tmp_path: Path) -> None:
    pkg = tmp_path / "chalicelib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "ingest.py").write_text(
        "import boto3\n\ndef run(svc):\n    return boto3.client(svc).list_streams()\n"
    )
    (tmp_path / "app.py").write_text(
        "from chalicelib import ingest\n\n@app.schedule('rate(1 minute)', name='ingest')\n"
        "def t(e):\n    return ingest.run('kinesis')\n"
    )
    calls = discover(tmp_path)
    assert calls.problems and "non-literal" in calls.problems[0]


def test_discovery_sees_operations_named_by_string_or_passed_as_methods(tmp_path: Path) -> None:
    """The store calls ``getattr(client, operation)`` and the credentials loader takes
    ``client.get_secret_value`` as a callable: neither is a plain ``client.op(...)``."""
    pkg = tmp_path / "chalicelib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "consumer.py").write_text(
        textwrap.dedent(
            """
            import boto3

            def drain(client, operation, **kwargs):
                return getattr(client, operation)(**kwargs)

            def run(read):
                ddb = boto3.client("dynamodb")
                drain(ddb, "batch_write_item", RequestItems={})
                secrets = boto3.client("secretsmanager")
                return read(secrets.get_secret_value)
            """
        )
    )
    (tmp_path / "app.py").write_text(
        "from chalicelib import consumer\n\n@app.on_kinesis_record(stream='s', name='consume')\n"
        "def c(e):\n    return consumer.run(print)\n"
    )
    calls = discover(tmp_path)
    assert calls.problems == []
    assert set(calls.actions["consume"]) == {
        "dynamodb:BatchWriteItem",
        "secretsmanager:GetSecretValue",
    }


def test_the_api_reader_policy_grants_get_on_one_stage_of_one_api_only() -> None:
    """Analysts' policy: execute-api:Invoke, GET, this API's id and stage; attached to nobody."""
    module = load_module()
    (statement,) = _statements("api_reader")
    assert statement.get("effect", "Allow") == "Allow"
    assert statement["actions"] == ["execute-api:Invoke"]
    assert statement["resources"] == ["${local.api_stage_arn}/GET/*"]
    (arn,) = [
        entry["api_stage_arn"]
        for parsed in module.dicts.values()
        for entry in parsed.get("locals", [])
        if "api_stage_arn" in entry
    ]
    assert ":execute-api:${var.region}:${local.account_id}:" in arn
    assert arn.endswith(':${var.api_id}/${var.api_gateway_stage}"}') and "*" not in arn
    policy = module.resource_dict("aws_iam_policy", "api_reader")
    assert policy["policy"] == "${data.aws_iam_policy_document.api_reader[0].json}"
    assert "api_reader_policy_arn" in module.outputs
    for kind in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
        assert not [k for k in module.resources if k[0] == kind]
