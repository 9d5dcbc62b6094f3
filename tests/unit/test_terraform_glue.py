"""The curated table Terraform declares is the envelope schema's, laid out where Firehose writes.

Three readings of the same Glue columns must agree: chalicelib.envelope.schema.glue_columns()
(Python), this repository's evaluation of the HCL in terraform/modules/glue_columns,
and, where a terraform binary is installed, Terraform's own evaluation. The view analysts
query (sql/views/tweets.sql) declares the same columns in Trino's spelling.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from chalicelib.envelope.schema import SCHEMA_PATH, FieldSpec, glue_columns, lake_fields
from tests.paths import REPO_ROOT
from tests.support.child_clock import child_now
from tests.terraform.binary import run, terraform_binary
from tests.terraform.evaluate import Ref
from tests.terraform.model import TERRAFORM_DIR, attributes, load_module, tfvars
from tweetlake_local.firehose import (
    CREATED_AT_PATTERN,
    FIRST_TWEET_DAY,
    FUTURE_TOLERANCE,
    UNKNOWN_TIME_PARTITION,
    StreamRecord,
    creation_partition,
)

GLUE_MODULE = TERRAFORM_DIR / "modules" / "glue_columns"
PARTITIONS = "dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
CREATION_PARTITIONS = "dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/"


def _module_outputs(schema_file: Path, kind: str = "tweet") -> dict[str, Any]:
    module = load_module(str(GLUE_MODULE))
    evaluator = module.evaluator({"schema_file": str(schema_file), "kind": kind})
    return {
        name: evaluator.eval(attributes(body)["value"], {}) for name, body in module.outputs.items()
    }


def _deeper_schema(tmp_path: Path) -> Path:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["kinds"]["tweet"]["fields"].append(
        {
            "name": "place",
            "type": "struct",
            "description": "nested one level too deep",
            "fields": [{"name": "bbox", "type": "array", "items": {"type": "bigint"}}],
        }
    )
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


def test_the_root_module_feeds_the_schema_file_to_the_column_module() -> None:
    evaluator = load_module().evaluator(tfvars("prod"))
    columns = evaluator.modules["glue_columns"]()["columns"]
    assert [(c["name"], c["type"]) for c in columns] == glue_columns()


def test_hcl_derivation_equals_chalicelib_glue_columns() -> None:
    columns = _module_outputs(SCHEMA_PATH)["columns"]
    assert [(c["name"], c["type"]) for c in columns] == glue_columns()
    assert "raw" not in {c["name"] for c in columns}  # "lake": false stays out
    by_name = {f["name"]: f for f in lake_fields()}
    for column in columns:
        assert column["comment"] == by_name[column["name"]]["description"][:255]


# Trino's names for the schema's primitives, as an Athena (engine 3) view records them:
# Hive strings are unbounded varchar, timestamps are read at millisecond precision.
PRESTO_PRIMITIVES = {
    "string": "varchar",
    "bigint": "bigint",
    "boolean": "boolean",
    "timestamp": "timestamp(3)",
}


def presto_type(spec: FieldSpec) -> str:
    """A field's Trino type, spelled the way Trino parses a view's column types."""
    if spec["type"] == "array":
        return f"array({presto_type(spec['items'])})"
    if spec["type"] == "struct":
        return "row(" + ",".join(f"{f['name']} {presto_type(f)}" for f in spec["fields"]) + ")"
    return PRESTO_PRIMITIVES[spec["type"]]


def test_hcl_derivation_spells_each_type_for_trino_too() -> None:
    columns = _module_outputs(SCHEMA_PATH)["columns"]
    assert [(c["name"], c["presto_type"]) for c in columns] == [
        (f["name"], presto_type(f)) for f in lake_fields()
    ]
    by_name = {c["name"]: c["presto_type"] for c in columns}
    assert by_name["created_at"] == "timestamp(3)"
    assert by_name["hashtags"] == "array(varchar)"
    assert by_name["mentions"] == "array(row(id varchar,screen_name varchar))"
    assert by_name["author"].startswith("row(id varchar,screen_name varchar,")


def test_hcl_derivation_follows_a_changed_schema(tmp_path: Path) -> None:
    """GIVEN a schema with a new field WHEN the HCL is evaluated THEN the column appears."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["kinds"]["tweet"]["fields"].insert(
        3,
        {
            "name": "coordinates",
            "type": "array",
            "description": "x",
            "items": {"type": "struct", "fields": [{"name": "lon", "type": "bigint"}]},
        },
    )
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    columns = _module_outputs(path)["columns"]
    assert columns[3]["name"] == "coordinates"
    assert columns[3]["type"] == "array<struct<lon:bigint>>"
    assert columns[3]["presto_type"] == "array(row(lon bigint))"


def test_hcl_derivation_flags_nesting_it_cannot_express(tmp_path: Path) -> None:
    module = load_module(str(GLUE_MODULE))
    evaluator = module.evaluator({"schema_file": str(_deeper_schema(tmp_path)), "kind": "tweet"})
    assert evaluator.local("unsupported") == ["place"]
    assert (
        load_module(str(GLUE_MODULE))
        .evaluator({"schema_file": str(SCHEMA_PATH), "kind": "tweet"})
        .local("unsupported")
        == []
    )


def _terraform_columns(tmp_path: Path, schema: Path) -> Any:
    work = tmp_path / "glue_columns"
    shutil.copytree(GLUE_MODULE, work)
    init = run(["init", "-input=false"], cwd=work)
    assert init.returncode == 0, init.stderr
    apply = run(["apply", "-auto-approve", "-input=false", f"-var=schema_file={schema}"], cwd=work)
    if apply.returncode != 0:
        return apply
    out = run(["output", "-json", "columns"], cwd=work)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_terraform_itself_derives_the_same_columns(tmp_path: Path) -> None:
    """Terraform's evaluation (the module creates nothing: apply only computes outputs)."""
    columns = _terraform_columns(tmp_path, SCHEMA_PATH)
    assert [(c["name"], c["type"]) for c in columns] == glue_columns()
    assert columns == _module_outputs(SCHEMA_PATH)["columns"]


def test_terraform_itself_refuses_nesting_it_cannot_express(tmp_path: Path) -> None:
    result = _terraform_columns(tmp_path, _deeper_schema(tmp_path))
    assert not isinstance(result, list)
    assert "nest deeper" in result.stderr and "place" in result.stderr


# --- the table, the layout and the Firehose that writes it ----------------------


def _table() -> dict[str, Any]:
    return load_module().resource_dict("aws_glue_catalog_table", "tweet_versions")


def _eval(text: str) -> Any:
    return load_module().evaluator(tfvars("prod")).eval_text(json.dumps(text))


def test_the_table_is_external_parquet_partitioned_by_dt_and_hour() -> None:
    table = _table()
    assert table["table_type"] == "EXTERNAL_TABLE"
    assert [(k["name"], k["type"]) for k in table["partition_keys"]] == [
        ("dt", "string"),
        ("hour", "string"),
    ]
    (storage,) = table["storage_descriptor"]
    assert storage["input_format"].endswith("MapredParquetInputFormat")
    assert storage["output_format"].endswith("MapredParquetOutputFormat")
    assert storage["ser_de_info"][0]["serialization_library"].endswith("ParquetHiveSerDe")
    (dynamic,) = storage["dynamic"]
    assert dynamic["columns"]["for_each"] == "${module.glue_columns.columns}"
    assert _eval(storage["location"]) == "s3://${aws_s3_bucket.lake.bucket}/curated/"


def test_partition_projection_covers_every_partition_the_firehose_writes() -> None:
    params = _table()["parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date"
    assert params["projection.dt.format"] == "yyyy-MM-dd"
    # From the first tweet's day to a day ahead (the JQ query's tolerance for fast clocks).
    assert _eval(params["projection.dt.range"]) == f"{FIRST_TWEET_DAY},NOW+1DAYS"
    assert params["projection.hour.type"] == "enum"
    assert params["projection.hour.values"].split(",") == [f"{h:02d}" for h in range(24)]
    template = _eval(params["storage.location.template"])
    assert template == "s3://${aws_s3_bucket.lake.bucket}/curated/dt=${dt}/hour=${hour}/"


def _firehose(name: str = "curated") -> dict[str, Any]:
    firehose = load_module().resource_dict("aws_kinesis_firehose_delivery_stream", name)
    (s3,) = firehose["extended_s3_configuration"]
    return {"stream": firehose, "s3": s3}


def test_firehose_prefixes_match_the_table_and_keep_errors_outside_it() -> None:
    s3, raw_s3 = _firehose()["s3"], _firehose("raw")["s3"]
    curated = _eval(s3["prefix"])
    raw = _eval(raw_s3["prefix"])
    assert curated == "curated/" + CREATION_PARTITIONS
    assert raw == "raw/" + PARTITIONS
    # The JQ query's dt and hour keys become the projection's ${dt}/${hour}.
    template = _eval(_table()["parameters"]["storage.location.template"])
    as_template = curated.replace("!{partitionKeyFromQuery:dt}", "${dt}").replace(
        "!{partitionKeyFromQuery:hour}", "${hour}"
    )
    assert template.endswith("/" + as_template)
    for config, zone in ((s3, "curated"), (raw_s3, "raw")):
        errors = _eval(config["error_output_prefix"])
        assert errors.startswith(f"firehose-errors/{zone}/")
        assert errors.startswith("firehose-errors/")
        assert "!{firehose:error-output-type}" in errors
        assert "partitionKeyFromQuery" not in errors  # Firehose refuses it in error prefixes


def test_firehose_partitions_curated_by_creation_time_like_the_local_emulation() -> None:
    """The JQ query Firehose runs applies the local emulation's rules, constant for
    constant: the canonical-form pattern, the first tweet's day, a day of tolerance."""
    s3 = _firehose()["s3"]
    assert s3["dynamic_partitioning_configuration"][0]["enabled"] is True
    (processing,) = s3["processing_configuration"]
    assert processing["enabled"] is True
    (processor,) = processing["processors"]
    assert processor["type"] == "MetadataExtraction"
    params = {p["parameter_name"]: p["parameter_value"] for p in processor["parameters"]}
    assert params["JsonParsingEngine"] == "JQ-1.6"
    query = load_module().evaluator(tfvars("prod")).local("creation_partition_query")
    assert f'test("{CREATED_AT_PATTERN}")' in query
    assert f'$t[0:10] < "{FIRST_TWEET_DAY}"' in query
    assert f"now + {int(FUTURE_TOLERANCE.total_seconds())}" in query
    unknown = dict(part.split("=") for part in UNKNOWN_TIME_PARTITION.strip("/").split("/"))
    assert query.count(f'{{dt: "{unknown["dt"]}", hour: "{unknown["hour"]}"}}') == 3
    assert "{dt: $t[0:10], hour: $t[11:13]}" in query
    assert params["MetadataExtractionQuery"] == "${local.creation_partition_query}"
    default = load_module().evaluator({}).eval_text("var.projection_start_date")
    assert default == FIRST_TWEET_DAY


def test_firehose_converts_to_snappy_parquet_with_the_declared_table() -> None:
    s3 = _firehose()["s3"]
    (conversion,) = s3["data_format_conversion_configuration"]
    assert conversion["enabled"] is True
    deserializer = conversion["input_format_configuration"][0]["deserializer"][0]
    assert "open_x_json_ser_de" in deserializer
    serializer = conversion["output_format_configuration"][0]["serializer"][0]
    assert serializer["parquet_ser_de"][0]["compression"] == "SNAPPY"
    schema = conversion["schema_configuration"][0]
    assert schema["table_name"] == "${aws_glue_catalog_table.tweet_versions.name}"
    assert schema["database_name"] == "${aws_glue_catalog_table.tweet_versions.database_name}"
    assert s3["compression_format"] == "UNCOMPRESSED"  # Parquet compresses itself


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_firehose_buffers_meet_the_conversion_minimum(stage: str) -> None:
    evaluator = load_module().evaluator(tfvars(stage))
    s3 = _firehose()["s3"]
    size = evaluator.eval_text(s3["buffering_size"].removeprefix("${").removesuffix("}"))
    assert 64 <= size <= 128


def test_raw_copies_the_stream_and_curated_takes_the_consumers_rows() -> None:
    """Two delivery streams: raw reads the Kinesis stream (the only reader besides the
    consumer) and keeps it as gzip JSON lines; curated is Direct PUT (the consumer's
    PutRecordBatch), encrypted at rest, and the only one converting."""
    module = load_module()
    firehoses = {k[1] for k in module.resources if k[0] == "aws_kinesis_firehose_delivery_stream"}
    assert firehoses == {"raw", "curated"}
    raw, curated = _firehose("raw"), _firehose("curated")
    (source,) = raw["stream"]["kinesis_source_configuration"]
    assert source["kinesis_stream_arn"] == "${aws_kinesis_stream.tweets.arn}"
    assert raw["s3"]["compression_format"] == "GZIP"
    assert raw["s3"]["buffering_size"] == "${var.raw_buffer_size_mb}"
    for absent in (
        "data_format_conversion_configuration",
        "dynamic_partitioning_configuration",
        "processing_configuration",
        "s3_backup_mode",
    ):
        assert absent not in raw["s3"], absent
    assert "kinesis_source_configuration" not in curated["stream"]
    assert curated["stream"]["server_side_encryption"][0]["enabled"] is True
    assert curated["s3"].get("s3_backup_mode", "Disabled") == "Disabled"
    evaluator = load_module().evaluator(tfvars("dev"))
    names = {k: evaluator.eval_text(f"local.firehose_names.{k}") for k in ("raw", "curated")}
    # The local emulation's delivery names (tweetlake_local/firehose.py).
    assert names == {"raw": "tweetlake-dev-raw", "curated": "tweetlake-dev-curated"}
    for key in ("raw", "curated"):
        assert _firehose(key)["stream"]["name"] == f"${{local.firehose_names.{key}}}"


# --- the view analysts query -----------------------------------------------------

VIEW_SQL = REPO_ROOT / "sql" / "views" / "tweets.sql"


def _view() -> dict[str, Any]:
    return load_module().resource_dict("aws_glue_catalog_table", "tweets")


def _view_definition() -> dict[str, Any]:
    """The JSON Athena reads back from the view's original text."""
    evaluator = load_module().evaluator(tfvars("prod"))
    text = evaluator.eval_text(json.dumps(_view()["view_original_text"]))
    match = re.fullmatch(r"/\* Presto View: ([A-Za-z0-9+/=]+) \*/", text)
    assert match, text[:80]
    decoded: dict[str, Any] = json.loads(base64.b64decode(match.group(1)))
    return decoded


def test_the_view_is_an_athena_view_of_the_sql_file() -> None:
    view = _view()
    assert view["table_type"] == "VIRTUAL_VIEW"
    assert view["parameters"]["presto_view"] == "true"
    assert view["view_expanded_text"] == "/* Presto View */"
    assert view["database_name"] == "${aws_glue_catalog_database.lake.name}"
    evaluator = load_module().evaluator(tfvars("prod"))
    assert evaluator.eval_text(json.dumps(view["name"])) == "tweets"
    definition = _view_definition()
    assert definition["originalSql"] == VIEW_SQL.read_text(encoding="utf-8")
    assert definition["catalog"] == "awsdatacatalog"
    assert definition["schema"] == "tweetlake_prod"
    expected = [(f["name"], presto_type(f)) for f in lake_fields()]
    expected += [("dt", "varchar"), ("hour", "varchar")]
    assert [(c["name"], c["type"]) for c in definition["columns"]] == expected


def test_the_view_lists_the_hive_columns_of_the_same_names() -> None:
    """The catalog's own column list (what consoles show) matches the view's."""
    evaluator = load_module().evaluator(tfvars("prod"))
    columns = evaluator.local("tweets_view_columns")
    assert [(c["name"], c["type"]) for c in columns] == [
        *glue_columns(),
        ("dt", "string"),
        ("hour", "string"),
    ]
    (storage,) = _view()["storage_descriptor"]
    assert storage["dynamic"][0]["columns"]["for_each"] == "${local.tweets_view_columns}"


@pytest.mark.slow
def test_terraform_itself_encodes_the_same_view_definition(tmp_path: Path) -> None:
    """Terraform's own jsonencode of the view (what base64encode wraps) decodes to the
    definition the checks above read from this repository's evaluation."""
    mirror = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
    if not (mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no local mirror of the hashicorp/aws provider at {mirror}")
    config = tmp_path / "terraformrc"
    config.write_text(f'provider_installation {{ filesystem_mirror {{ path = "{mirror}" }} }}\n')
    root = tmp_path / "repo"
    shutil.copytree(TERRAFORM_DIR, root / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    for folder in ("chalicelib", "sql"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    init = run(
        ["init", "-backend=false", "-input=false"], cwd=root / "terraform", cli_config=config
    )
    assert init.returncode == 0, init.stdout + init.stderr
    console = subprocess.run(
        [terraform_binary(), "console", "-var-file=stages/prod.tfvars", "-no-color"],
        cwd=root / "terraform",
        input="local.tweets_view_definition\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            **os.environ,
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": str(config),
            "AWS_ACCESS_KEY_ID": "offline",
            "AWS_SECRET_ACCESS_KEY": "offline",
        },
    )
    assert console.returncode == 0, console.stderr
    printed = json.loads(console.stdout.strip())  # the console quotes the string
    assert json.loads(printed) == _view_definition()


def _select_list(sql: str) -> list[str]:
    tree = sqlglot.parse_one(sql, read="athena")
    assert isinstance(tree, exp.Select)
    return [e.alias_or_name for e in tree.expressions]


def test_the_view_sql_selects_the_lake_columns_then_the_partitions_in_order() -> None:
    """Athena calls a view stale when its SQL returns other columns than it declares: the
    outer SELECT must list the schema's lake columns, then dt and hour, nothing else."""
    sql = VIEW_SQL.read_text(encoding="utf-8")
    assert _select_list(sql) == [f["name"] for f in lake_fields()] + ["dt", "hour"]
    tables = {t.name for t in sqlglot.parse_one(sql, read="athena").find_all(exp.Table)}
    assert tables == {"tweet_versions"}
    assert _select_list("SELECT a, b AS c FROM t") == ["a", "c"]  # the checker reads aliases


def test_the_view_sql_is_not_a_named_query() -> None:
    """fileset() in athena.tf does not descend into sql/views/."""
    evaluator = load_module().evaluator(tfvars("prod"))
    names = evaluator.eval_text('fileset("${path.module}/../sql", "*.sql")')
    assert names and all("/" not in n for n in names)
    assert "views/tweets.sql" not in names and VIEW_SQL.is_file()


def test_the_lake_names_follow_the_stage_convention() -> None:
    evaluator = load_module().evaluator(tfvars("prod"))
    assert evaluator.local("glue_database") == "tweetlake_prod"
    assert evaluator.local("stream_name") == "tweetlake-prod-tweets"
    bucket = evaluator.local("lake_bucket_name")
    assert re.fullmatch(
        r"tweetlake-prod-lake-\$\{data\.aws_caller_identity\.current\.account_id\}-us-east-1",
        bucket,
    )
    override = load_module().evaluator({**tfvars("prod"), "lake_bucket_name": "my-lake"})
    assert override.local("lake_bucket_name") == "my-lake"
    assert not isinstance(evaluator.local("glue_database"), Ref)


def _jq_cases(now: datetime) -> list[object]:
    return [
        "2018-12-31T23:59:59.000Z",
        None,
        7,
        "2006-03-20T23:59:59.000Z",
        "2006-03-21T00:00:00.000Z",
        "Wed Oct 10 20:19:24 +0000 2018",
        "2026-13-01T00:00:00.000Z",
        (now + timedelta(hours=22)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        (now + timedelta(hours=26)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    ]


@pytest.mark.skipif(shutil.which("jq") is None, reason="no jq binary to run the query with")
def test_the_jq_query_partitions_as_the_local_emulation_does() -> None:
    """GIVEN envelopes with good, missing, non-string, too old, non-canonical, invalid and
    future times WHEN jq 1.6 runs the Terraform query on them THEN each gets the partition
    the local emulation gives it (arrival = now, as Firehose's now is)."""
    query = load_module().evaluator(tfvars("prod")).local("creation_partition_query")
    now = child_now()  # jq runs as a child, on the real clock
    for created_at in _jq_cases(now):
        envelope = {"kind": "tweet"} if created_at is None else {"created_at": created_at}
        data = json.dumps(envelope).encode()
        result = subprocess.run(
            ["jq", "-c", query], input=data, capture_output=True, check=True, timeout=10
        )
        keys = json.loads(result.stdout)
        local = creation_partition(StreamRecord(data, "shardId-0", "1", now))
        assert f"dt={keys['dt']}/hour={keys['hour']}/" == local, created_at
