"""Write a Chalice stage from Terraform's outputs: the bridge between the two halves.

    terraform -chdir=terraform output -json > outputs.json
    python -m tweetlake_ops.chalice_config --stage prod --tf-output outputs.json

Terraform owns the names (the lake bucket carries the account id) and the IAM
roles; Chalice owns the functions. This copies the names into the stage's
environment variables and each function's role ARN into ``lambda_functions``
with ``manage_iam_role: false``, so ``chalice deploy --stage prod`` creates no
IAM of its own. Settings already in the stage (memory, timeouts) are kept; a
new stage starts from the dev stage's function settings (the API's reserved
concurrency included) and is private (``TWEETLAKE_API_ACCESS=iam``) unless it
already says otherwise. The result is checked with the app's own settings
loader before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalicelib.config import API_ACCESS_VARIABLE, ConfigError, api_access, load_settings
from tweetlake_local.stage import CHALICE_CONFIG

# Chalice function name -> key of the lambda_role_arns output.
FUNCTIONS = ("ingest", "consume", "compliance", "api_handler", "purge")

# Environment variable -> Terraform output it comes from.
ENVIRONMENT = {
    "TWEETLAKE_STREAM": "stream_name",
    "TWEETLAKE_TWEETS_TABLE": "tweets_table",
    "TWEETLAKE_AUTHORS_TABLE": "authors_table",
    "TWEETLAKE_STATE_TABLE": "state_table",
    "TWEETLAKE_LAKE_BUCKET": "lake_bucket",
    # The consumer publishes its accepted rows there (the curated zone, Parquet).
    "TWEETLAKE_CURATED_FIREHOSE": "curated_firehose",
}
# Only the ingest and compliance functions read the Twitter credentials.
INGEST_ENVIRONMENT = {"TWEETLAKE_TWITTER_SECRET": "twitter_secret_arn"}
TWITTER_FUNCTIONS = ("ingest", "compliance")
# Copied when Terraform has it (older state lacks it): the run's budget is the alarm's.
OPTIONAL_INGEST_ENVIRONMENT = {"TWEETLAKE_X_POST_BUDGET": "x_post_budget"}
# Only the API signs cursors.
API_ENVIRONMENT = {"TWEETLAKE_CURSOR_KEY_PARAMETER": "cursor_key_parameter"}
# Only the purge rewrites Parquet: pyarrow comes from this layer (terraform/purge.tf).
PURGE_LAYER = "purge_layer_arn"
# The functions' instruction set: it must match the layer's, so Terraform picks both.
# Copied when Terraform has it (older state lacks it: the file's own setting stays).
ARCHITECTURE = "lambda_architecture"
REQUIRED_OUTPUTS = (
    "stage",
    "region",
    "lambda_role_arns",
    *ENVIRONMENT.values(),
    *INGEST_ENVIRONMENT.values(),
    *API_ENVIRONMENT.values(),
    PURGE_LAYER,
)
TEMPLATE_STAGE = "dev"


class BridgeError(SystemExit):
    """A problem with the inputs, said in one line with what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(f"chalice_config: {message}")


def read_outputs(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Values of ``terraform output -json`` (each output is {"value": ..., ...})."""
    values = {
        name: entry["value"] if isinstance(entry, Mapping) and "value" in entry else entry
        for name, entry in raw.items()
    }
    missing = [name for name in REQUIRED_OUTPUTS if name not in values]
    if missing:
        raise BridgeError(
            f"Terraform outputs lack {', '.join(missing)}: run `terraform apply` with this"
            " repository's terraform/ first, then `terraform output -json`"
        )
    roles = values["lambda_role_arns"]
    if not isinstance(roles, Mapping) or set(FUNCTIONS) - set(roles):
        raise BridgeError(f"output lambda_role_arns must name {', '.join(FUNCTIONS)}")
    return values


def stage_entry(
    outputs: Mapping[str, Any],
    existing: Mapping[str, Any],
    template: Mapping[str, Any],
    source: str,
) -> dict[str, Any]:
    """The stage's config: ``existing`` (or the template) with Terraform's values on top."""
    base = existing or {
        "api_gateway_stage": template.get("api_gateway_stage", "api"),
        "lambda_functions": json.loads(json.dumps(template.get("lambda_functions", {}))),
    }
    entry: dict[str, Any] = json.loads(json.dumps(base))
    entry["manage_iam_role"] = False
    env = dict(entry.get("environment_variables", {}))
    env.update({"TWEETLAKE_STAGE": outputs["stage"], "TWEETLAKE_SOURCE": source})
    env.setdefault(API_ACCESS_VARIABLE, "iam")
    env.update({variable: outputs[name] for variable, name in ENVIRONMENT.items()})
    entry["environment_variables"] = env
    functions = entry.setdefault("lambda_functions", {})
    for function in FUNCTIONS:
        settings = functions.setdefault(function, {})
        settings["iam_role_arn"] = outputs["lambda_role_arns"][function]
    for function in TWITTER_FUNCTIONS:
        function_env = functions[function].setdefault("environment_variables", {})
        function_env.update(
            {variable: outputs[name] for variable, name in INGEST_ENVIRONMENT.items()}
        )
    ingest_env = functions["ingest"]["environment_variables"]
    ingest_env.update(
        {
            variable: str(outputs[name])
            for variable, name in OPTIONAL_INGEST_ENVIRONMENT.items()
            if name in outputs
        }
    )
    api_env = functions["api_handler"].setdefault("environment_variables", {})
    api_env.update({variable: outputs[name] for variable, name in API_ENVIRONMENT.items()})
    functions["purge"]["layers"] = [outputs[PURGE_LAYER]]
    if ARCHITECTURE in outputs:
        entry[ARCHITECTURE] = outputs[ARCHITECTURE]
    return entry


def update_config(
    config: Mapping[str, Any], stage: str, outputs: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """A copy of the whole Chalice config with ``stage`` written from ``outputs``."""
    if outputs["stage"] != stage:
        raise BridgeError(
            f"the outputs are for stage {outputs['stage']!r}, not {stage!r}: select the"
            f" matching Terraform workspace or pass --stage {outputs['stage']}"
        )
    updated: dict[str, Any] = json.loads(json.dumps(config))
    stages = updated.setdefault("stages", {})
    entry = stage_entry(outputs, stages.get(stage, {}), stages.get(TEMPLATE_STAGE, {}), source)
    env = {**updated.get("environment_variables", {}), **entry["environment_variables"]}
    try:
        load_settings({**env, "AWS_REGION": outputs["region"]})
        api_access(env)
    except ConfigError as exc:
        raise BridgeError(f"the stage would not start: {exc}") from exc
    stages[stage] = entry
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tweetlake_ops.chalice_config",
        description="Write a Chalice stage of .chalice/config.json from `terraform output -json`.",
    )
    parser.add_argument(
        "--stage", required=True, help="Chalice stage to write (= Terraform's stage)"
    )
    parser.add_argument(
        "--tf-output", required=True, help="file holding `terraform output -json`, or - for stdin"
    )
    parser.add_argument("--config", type=Path, default=CHALICE_CONFIG, help="Chalice config file")
    parser.add_argument(
        "--source",
        default="v2",
        choices=("v2", "v1.1", "synthetic", "replay", "bluesky"),
        help="tweet source of the stage (default v2: the live filtered stream;"
        " bluesky: Bluesky's Jetstream, no account)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the stage, write nothing")
    args = parser.parse_args(argv)

    try:
        text = sys.stdin.read() if args.tf_output == "-" else Path(args.tf_output).read_text()
        raw = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise BridgeError(f"cannot read Terraform outputs from {args.tf_output}: {exc}") from exc
    outputs = read_outputs(raw)
    config = json.loads(args.config.read_text(encoding="utf-8"))
    updated = update_config(config, args.stage, outputs, args.source)
    rendered = json.dumps(updated, indent=2) + "\n"
    if args.dry_run:
        print(json.dumps(updated["stages"][args.stage], indent=2))
        return 0
    args.config.write_text(rendered, encoding="utf-8")
    print(
        f"wrote stage {args.stage!r} to {args.config}: {len(FUNCTIONS)} function roles, lake"
        f" bucket {outputs['lake_bucket']}. Next: AWS_DEFAULT_REGION={outputs['region']}"
        f" chalice deploy --stage {args.stage}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
