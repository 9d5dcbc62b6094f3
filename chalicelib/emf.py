"""CloudWatch Embedded Metric Format: one JSON log line that is also a set of metrics.

A Lambda function's stdout goes to CloudWatch Logs; a line carrying an ``_aws``
member is turned into metrics there, with no API call and no extra latency,
and stays an ordinary structured log line for Logs Insights. Writing the
document by hand is ~30 lines; Powertools' ``Metrics`` would add ~30 ms of
cold import and ~1 MB to every function of the shared package for the same
JSON (see docs/consumer.md).

Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

NAMESPACE = "tweetlake"
# EMF allows 100 metrics per document and 30 dimensions per set.
MAX_METRICS = 100


def emf_document(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    properties: Mapping[str, Any] | None = None,
    *,
    namespace: str = NAMESPACE,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """The EMF document: ``metrics`` maps a name to ``(value, unit)``."""
    if len(metrics) > MAX_METRICS:
        raise ValueError(f"EMF takes at most {MAX_METRICS} metrics, got {len(metrics)}")
    clash = set(metrics) & (set(dimensions) | set(properties or {}))
    if clash:
        raise ValueError(f"names used twice in one EMF document: {sorted(clash)}")
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": n, "Unit": unit} for n, (_, unit) in metrics.items()],
                }
            ],
        },
        **dimensions,
        **(properties or {}),
    }
    for name, (value, _) in metrics.items():
        document[name] = value
    return document


def stdout_line(line: str) -> None:
    """Default sink: Lambda forwards stdout lines to CloudWatch Logs as they are."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def emit(document: Mapping[str, Any], sink: Callable[[str], None] = stdout_line) -> None:
    sink(json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True))
