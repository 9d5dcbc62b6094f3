"""Lambda-shaped Kinesis records for tests and benchmarks, from envelopes, text or bytes.

Built on :func:`tweetlake_local.kinesis_events.lambda_record`, the shape the local
mode's poller delivers, with the conveniences a test wants: an envelope dict is
encoded as the producer writes it, and ``encoded`` sends text that is not base64.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.envelope.normalize import envelope_bytes
from tweetlake_local.kinesis_events import lambda_record, stream_arn


def kinesis_record(
    data: bytes | str | Mapping[str, Any],
    *,
    sequence: int | str,
    stream: str,
    shard: str = "shardId-000000000000",
    partition_key: str = "0",
    arrival: float = 1_764_000_000.0,
    region: str = "us-east-1",
    encoded: str | None = None,
) -> dict[str, Any]:
    """One record as Lambda delivers it; ``data`` may be an envelope dict, text or bytes.

    ``encoded`` overrides the base64 text (to send something that is not base64).
    """
    if isinstance(data, Mapping):
        data = envelope_bytes(data)  # as the producer writes it
    if isinstance(data, str):
        data = data.encode("utf-8")
    record = lambda_record(
        data,
        shard=shard,
        sequence=sequence,
        partition_key=partition_key,
        arrival=arrival,
        stream_arn=stream_arn(stream, region),
        role="tweetlake-consume",
    )
    if encoded is not None:
        record["kinesis"]["data"] = encoded
    return record


def kinesis_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


@dataclass
class RecordingConsumer:
    """A consumer handler that records every event and fails the first ``fail`` calls
    (as a throttled table would), so readers' retries and checkpoints can be seen."""

    fail: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any]) -> dict[str, int]:
        self.events.append(event)
        if self.fail > 0:
            self.fail -= 1
            raise RuntimeError("DynamoDB throttled")
        return {"ok": len(event["Records"])}

    def seen(self) -> list[bytes]:
        """Every record's data, in the order the handler was given them."""
        return [base64.b64decode(r["kinesis"]["data"]) for e in self.events for r in e["Records"]]


class ChaliceAppHandler:
    """Invoke ``app.consume_tweets`` through ``chalice.test.Client``, which sets the
    stage's environment variables during the call, as Lambda would."""

    def __init__(self, stage: str = "dev", function_name: str = "consume") -> None:
        from chalice.test import Client

        import app

        self._client = Client(app.app, stage_name=stage)
        self._client.__enter__()
        self.function_name = function_name

    def __call__(self, event: dict[str, Any]) -> Any:
        response = self._client.lambda_.invoke(self.function_name, event)
        return response.payload

    def close(self) -> None:
        self._client.__exit__(None, None, None)
