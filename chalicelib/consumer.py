"""The Kinesis consumer: decode → validate → enrich → DynamoDB.

Filled in by the consumer work (issue 3); today it decodes and validates so the
wiring from ``app.py`` is exercised end to end. It takes the raw event dict,
not Chalice's ``KinesisEvent``: iterating that decodes base64 eagerly, so one
malformed record would raise and fail the whole batch.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from chalicelib.config import get_settings
from chalicelib.schema import validate


def handle_batch(event: Mapping[str, Any]) -> dict[str, int]:
    """Process one Lambda batch of Kinesis records; returns the batch counts."""
    get_settings()
    valid = invalid = 0
    for record in event.get("Records", []):
        try:
            envelope = json.loads(base64.b64decode(record["kinesis"]["data"], validate=True))
        except (binascii.Error, ValueError):
            invalid += 1
            continue
        if validate(envelope):
            invalid += 1
        else:
            valid += 1
    return {"valid": valid, "invalid": invalid}
