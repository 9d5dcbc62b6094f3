"""The batch log line is valid Embedded Metric Format."""

from __future__ import annotations

import json

import pytest

from chalicelib.emf import emf_document, emit


def test_document_declares_every_metric_and_carries_values() -> None:
    lines: list[str] = []
    doc = emf_document(
        {"stored": (3, "Count"), "batch_duration": (12, "Milliseconds")},
        {"stage": "dev"},
        {"counts": {"stored": 3}},
        timestamp_ms=1,
    )
    emit(doc, lines.append)
    parsed = json.loads(lines[0])
    directive = parsed["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "tweetlake"
    assert directive["Dimensions"] == [["stage"]]
    for metric in directive["Metrics"]:
        assert isinstance(parsed[metric["Name"]], int | float)
    assert parsed["stage"] == "dev" and parsed["_aws"]["Timestamp"] == 1
    assert "\n" not in lines[0]


def test_name_clash_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        emf_document({"stage": (1, "Count")}, {"stage": "dev"})
