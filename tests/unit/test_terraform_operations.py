"""The bucket's guards, the stream's retention, the secret's absence from state, the alarms."""

from __future__ import annotations

from typing import Any

from chalicelib.ingest.budget import CYCLE_METRIC, PAY_PER_USE_CAP
from tests.terraform.model import attributes, load_module, tfvars


def _resource(rtype: str, name: str) -> dict[str, Any]:
    return load_module().resource_dict(rtype, name)


def test_the_bucket_is_private_encrypted_and_tls_only() -> None:
    block = _resource("aws_s3_bucket_public_access_block", "lake")
    assert all(
        block[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    sse = _resource("aws_s3_bucket_server_side_encryption_configuration", "lake")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
    (statement,) = load_module().data_dict("aws_iam_policy_document", "lake_bucket")["statement"]
    assert statement["effect"] == "Deny"
    assert statement["condition"][0]["variable"] == "aws:SecureTransport"
    assert statement["condition"][0]["values"] == ["false"]


def test_lifecycle_expires_scratch_zones_and_cools_raw() -> None:
    evaluator = load_module().evaluator(tfvars("prod"))
    rules = _resource("aws_s3_bucket_lifecycle_configuration", "lake")["rule"]
    by_prefix = {}
    for rule in rules:
        prefix = (rule.get("filter") or [{}])[0].get("prefix")
        if prefix:
            by_prefix[evaluator.eval_text(prefix.removeprefix("${").removesuffix("}"))] = rule
    assert set(by_prefix) == {"raw/", "quarantine/", "athena-results/", "firehose-errors/"}
    assert by_prefix["raw/"]["transition"][0]["storage_class"] == "STANDARD_IA"
    for scratch in ("quarantine/", "athena-results/", "firehose-errors/"):
        assert "expiration" in by_prefix[scratch]
    assert "curated/" not in by_prefix  # the table's data is kept


def test_the_stream_is_one_shard_keeps_a_day_and_is_encrypted() -> None:
    """The cheapest stream that takes pay-per-use's 250 posts/s (docs/cost.md); 24 h is
    in the shard price, and what expires is still in raw/ for a backfill."""
    stream = _resource("aws_kinesis_stream", "tweets")
    assert stream["encryption_type"] == "KMS"
    defaults = load_module().variable_defaults()
    assert defaults["stream_retention_hours"] == 24
    assert (defaults["stream_mode"], defaults["stream_shard_count"]) == ("PROVISIONED", 1)


def test_the_secret_value_never_enters_terraform() -> None:
    module = load_module()
    assert ("aws_secretsmanager_secret", "twitter") in module.resources
    assert not [k for k in module.resources if k[0] == "aws_secretsmanager_secret_version"]
    assert not [
        v
        for v in module.variables
        if "token" in v or ("secret" in v and v != "secret_recovery_window_days")
    ]


def _alarms() -> dict[str, dict[str, Any]]:
    module = load_module()
    return {
        name: module.resource_dict(rtype, name)
        for rtype, name in module.resources
        if rtype == "aws_cloudwatch_metric_alarm"
    }


def test_every_alarm_notifies_the_topic() -> None:
    alarms = _alarms()
    assert len(alarms) >= 8
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == "${local.alarm_actions}", name
        assert "alarm_description" in alarm, name


def test_the_alarms_watch_lag_functions_lake_and_quarantine() -> None:
    alarms = _alarms()
    metrics = {(a.get("namespace"), a.get("metric_name")) for a in alarms.values()}
    assert {
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"),
        ("AWS/Firehose", "DeliveryToS3.DataFreshness"),
        ("AWS/Firehose", "DeliveryToS3.Success"),
        ("AWS/Firehose", "FailedConversion.Records"),
    } <= metrics
    # Each Firehose alarm watches the stream its failure belongs to. raw has one: a
    # failing delivery holds its records back, so it shows as staleness (alarms.tf).
    watched = {
        (a["metric_name"], a["dimensions"]["DeliveryStreamName"])
        for a in alarms.values()
        if a.get("namespace") == "AWS/Firehose"
    }
    raw = "${aws_kinesis_firehose_delivery_stream.raw.name}"
    curated = "${aws_kinesis_firehose_delivery_stream.curated.name}"
    assert watched == {
        ("DeliveryToS3.DataFreshness", raw),
        ("DeliveryToS3.Success", curated),
        ("FailedConversion.Records", curated),
    }
    # Errors and throttles: one alarm each over the account-level metric (no dimension),
    # which sums every function, so each function of local.lambda_functions (and any
    # added later) is covered; the description names them for the operator.
    for name, metric in (("lambda_errors", "Errors"), ("lambda_throttles", "Throttles")):
        alarm = alarms[name]
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Lambda", metric)
        assert "dimensions" not in alarm and "for_each" not in alarm
        assert "values(local.lambda_functions)" in alarm["alarm_description"]
    lambda_alarms = [a for a in alarms.values() if a.get("metric_name") in {"Errors", "Throttles"}]
    assert len(lambda_alarms) == 2
    evaluator = load_module().evaluator(tfvars("prod"))
    (query,) = alarms["quarantine"]["metric_query"]
    expression = evaluator.eval_text(f'"{query["expression"]}"')
    assert expression == "SELECT SUM(Quarantined) FROM tweetlake"


def test_the_post_budget_alarm_fires_at_80_percent_of_the_budget_the_run_uses() -> None:
    alarm = _alarms()["x_post_budget"]
    assert (alarm["namespace"], alarm["metric_name"]) == (
        "${local.metrics_namespace}",
        "XPostsReadThisCycle",
    )
    evaluator = load_module().evaluator(tfvars("prod"))
    assert evaluator.eval_text(f'"{alarm["threshold"]}"') == 2_400_000
    assert alarm["dimensions"] == {"stage": "${var.stage}"}  # the run's EMF dimension
    assert load_module().variable_defaults()["x_post_budget"] == PAY_PER_USE_CAP
    assert CYCLE_METRIC == "XPostsReadThisCycle"


def test_log_groups_exist_for_every_chalice_function() -> None:
    module = load_module()
    group = _resource("aws_cloudwatch_log_group", "lambda")
    assert group["for_each"] == "${local.lambda_functions}"
    evaluator = module.evaluator(tfvars("prod"))
    assert set(evaluator.local("lambda_functions")) == {
        "ingest",
        "consume",
        "compliance",
        "api",
        "purge",
    }
    assert "retention_in_days" in attributes(
        module.resources[("aws_cloudwatch_log_group", "lambda")]
    )


def test_the_purge_alarm_fires_when_a_request_is_older_than_24_hours_or_the_purge_stops() -> None:
    from chalicelib.config import PURGE_EVERY_MINUTES, PURGE_MAX_AGE_S
    from chalicelib.purge.engine import PurgeSummary, ScanResult

    alarm = _alarms()["purge_overdue"]
    metrics = PurgeSummary(0, 0, 0, 0.0, ScanResult()).metrics()
    assert alarm["metric_name"] in metrics and metrics[alarm["metric_name"]][1] == "Seconds"
    assert alarm["namespace"] == "${local.metrics_namespace}"
    assert alarm["dimensions"] == {"stage": "${var.stage}"}  # the handler's EMF dimension
    assert alarm["threshold"] == PURGE_MAX_AGE_S == 24 * 3600
    assert (
        alarm["statistic"] == "Maximum" and alarm["comparison_operator"] == "GreaterThanThreshold"
    )
    # Missing data means the purge did not run: a period always holds a scheduled run.
    assert alarm["treat_missing_data"] == "breaching"
    assert alarm["period"] >= 2 * PURGE_EVERY_MINUTES * 60
