"""tweetlake's Chalice app: wiring only.

Each decorated function hands its input to one call in ``chalicelib`` and shapes
the result; the logic, and every heavy import, lives there. All functions share
this module, so whatever it imports at the top is paid by the API, the consumer
and the scheduler alike on every cold start: the ingest and consumer handlers
are imported inside their functions (``import app`` takes about 44 ms instead of
73 ms), and the IAM test follows those imports too.
"""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, Rate

from chalicelib import api
from chalicelib.config import (
    COMPLIANCE_EVERY_MINUTES,
    CONSUMER_BATCH_SIZE,
    CONSUMER_BATCHING_WINDOW_S,
    INGEST_EVERY_MINUTES,
    PURGE_EVERY_MINUTES,
    trigger_stream_name,
)

app = Chalice(app_name="tweetlake")
app.debug = False


@app.schedule(Rate(INGEST_EVERY_MINUTES, unit=Rate.MINUTES), name="ingest")
def ingest_tweets(event: Any) -> dict[str, Any]:
    from chalicelib.ingest.handler import run_ingest  # off the API's and consumer's cold start

    return run_ingest(event.to_dict(), event.context)


@app.on_kinesis_record(
    stream=trigger_stream_name(),
    batch_size=CONSUMER_BATCH_SIZE,
    starting_position="TRIM_HORIZON",
    maximum_batching_window_in_seconds=CONSUMER_BATCHING_WINDOW_S,
    name="consume",
)
def consume_tweets(event: Any) -> dict[str, int]:
    from chalicelib.consume.handler import handle_batch  # off the API's cold start

    return handle_batch(event.to_dict())


@app.schedule(Rate(PURGE_EVERY_MINUTES, unit=Rate.MINUTES), name="purge")
def purge_lake(event: Any) -> dict[str, Any]:
    # Off every other cold start; pyarrow comes from this function's layer only.
    from chalicelib.purge.handler import run_purge_lake

    return run_purge_lake(event.to_dict(), event.context)


@app.schedule(Rate(COMPLIANCE_EVERY_MINUTES, unit=Rate.MINUTES), name="compliance")
def check_compliance(event: Any) -> dict[str, Any]:
    from chalicelib.compliance.handler import run_compliance  # off the other cold starts

    return run_compliance(event.to_dict(), event.context)


# Read-only REST API. Each route passes its path and query parameters to one
# function in chalicelib.api.views; no route accepts a write method. On a deployed
# stage the data routes need a SigV4-signed caller unless the stage is public.
DATA = api.data_authorizer(os.environ)


@app.route("/tweets", methods=["GET"], cors=api.CORS, authorizer=DATA)
def list_tweets() -> Any:
    return api.list_tweets(app.current_request.query_params)


@app.route("/tweets/{tweet_id}", methods=["GET"], cors=api.CORS, authorizer=DATA)
def get_tweet(tweet_id: str) -> Any:
    return api.get_tweet(tweet_id, app.current_request.query_params)


@app.route("/users/{user_id}", methods=["GET"], cors=api.CORS, authorizer=DATA)
def get_user(user_id: str) -> Any:
    return api.get_user(user_id, app.current_request.query_params)


@app.route("/users/{user_id}/tweets", methods=["GET"], cors=api.CORS, authorizer=DATA)
def list_user_tweets(user_id: str) -> Any:
    return api.list_user_tweets(user_id, app.current_request.query_params)


@app.route("/openapi.json", methods=["GET"], cors=api.CORS)
def openapi_json() -> Any:
    return api.openapi_document()


@app.route("/docs", methods=["GET"])
def docs() -> Any:
    return api.docs_page()


@app.route("/health", methods=["GET"], authorizer=DATA)
def health() -> Any:
    return api.health()
