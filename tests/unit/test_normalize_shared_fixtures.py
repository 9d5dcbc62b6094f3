"""Every real payload in ../shared/fixtures/twitter normalizes to what we expect.

GIVEN a public API payload (read in place), WHEN it goes through
``normalize_line``, THEN ids are exact to the digit, times are UTC ISO-8601,
the full text is chosen, the author is found (in ``user`` or
``includes.users``), and control messages are classified, never stored.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.envelope.normalize import Normalized, normalize_line
from chalicelib.envelope.schema import validate
from tests.paths import SHARED_TWITTER, shared_lines

INGESTED = "2026-11-24T00:00:00.000Z"


def normalize_file(name: str) -> list[Normalized]:
    out: list[Normalized] = []
    for line in shared_lines(name):
        out.extend(normalize_line(line, ingested_at=INGESTED))
    return out


def only_tweet(name: str) -> dict[str, Any]:
    results = normalize_file(name)
    assert [r.kind for r in results] == ["tweet"]
    envelope = results[0].envelope
    assert envelope is not None
    return envelope


# file → (tweet_id, created_at, author id, text length, first chars)
TWEETS = {
    "v1_status_extended_media_entities.json": (
        "972472962799603712",
        "2018-03-10T14:03:16.000Z",
        "3654517647",
        159,
        "Connect w/ @FloatHarder",
    ),
    "v1_status_extended_quote_zwj_emoji_gnip.json": (
        "867479301360205824",
        "2017-05-24T20:35:57.000Z",
        "815279070241955840",
        164,
        'Try using "xxd"',
    ),
    "v1_status_extended_stream.json": (
        "971726741583605760",
        "2018-03-08T12:38:03.000Z",
        "2319610428",
        207,
        "HIV_AIDS_Bio",
    ),
    "v1_status_geo_place_coordinates.json": (
        "972473004738338816",
        "2018-03-10T14:03:26.000Z",
        "189534922",
        152,
        "We're #hiring!",
    ),
    "v1_status_poll_gnip.json": (
        "867503895978754048",
        "2017-05-24T22:13:40.000Z",
        "815279070241955840",
        43,
        "I) I almost",
    ),
    "v1_status_quote_of_quote.json": (
        "867475261532459008",
        "2017-05-24T20:19:53.000Z",
        "815279070241955840",
        38,
        "Quote-ception.",
    ),
    "v1_status_reply_48_mentions_long_full_text.json": (
        "972472983779528704",
        "2018-03-10T14:03:21.000Z",
        "2314229087",
        620,
        "@BrettCateley",
    ),
    "v1_status_reply_rtl_arabic_display_range.json": (
        "972472992163942400",
        "2018-03-10T14:03:23.000Z",
        "928204976949776384",
        298,
        "@H1am1",
    ),
    "v1_status_rest_extended_mode.json": (
        "777915304261193728",
        "2016-09-19T17:00:36.000Z",
        "783214",
        163,
        "Say more about",
    ),
    "v1_status_retweet_of_manual_rt_api2021.json": (
        "1349969223154606081",
        "2021-01-15T06:38:38.000Z",
        "1072250532645998596",
        139,
        "RT @Twitter: RT",
    ),
    "v1_status_same_tweet_rest_compat_truncated.json": (
        "867479301360205824",
        "2017-05-24T20:35:57.000Z",
        "815279070241955840",
        140,
        'Try using "xxd"',
    ),
    "v1_status_user_null_fields_cyrillic.json": (
        "972473004755169281",
        "2018-03-10T14:03:26.000Z",
        "904270638721978368",
        273,
        "идва летният",
    ),
    "v2_lookup_edited_tweet.json": (
        "1576994789110992896",
        "2022-10-03T17:57:11.000Z",
        "337119125",
        30,
        "hey :)",
    ),
    "v2_lookup_geo_place_expansions.json": (
        "1501963039859363843",
        "2022-03-10T16:47:48.000Z",
        "495430242",
        299,
        "@j2bryson @Twitter",
    ),
    "v2_lookup_media_expansion.json": (
        "1558553189766631429",
        "2022-08-13T20:36:51.000Z",
        "495430242",
        46,
        "She's GOING",
    ),
    "v2_lookup_partial_error_missing_reference.json": (
        "506695756406095872",
        "2014-09-02T06:50:56.000Z",
        "425674827",
        105,
        "@ru_yarosh",
    ),
}


@pytest.mark.parametrize("name", sorted(TWEETS))
def test_tweet_fixture_normalizes_to_a_valid_envelope(name: str) -> None:
    tweet_id, created_at, author_id, length, start = TWEETS[name]
    envelope = only_tweet(name)
    assert envelope["tweet_id"] == tweet_id
    assert envelope["created_at"] == created_at
    assert envelope["author"]["id"] == author_id
    assert len(envelope["text"]) == length
    assert envelope["text"].startswith(start)
    assert envelope["ingested_at"] == INGESTED
    assert validate(envelope) == []
    # The raw payload travels verbatim, so re-normalizing it gives the same envelope.
    again = normalize_line(envelope["raw"], ingested_at=INGESTED)
    assert [r.envelope for r in again] == [envelope]


def test_v1_entities_come_from_extended_tweet() -> None:
    envelope = only_tweet("v1_status_extended_media_entities.json")
    assert envelope["hashtags"] == ["portlandme"]
    assert [m["screen_name"] for m in envelope["mentions"]] == [
        "FloatHarder",
        "mainedoulas",
        "JadeIntegrated",
    ]
    assert envelope["mentions"][0]["id"] == "2861921269"
    assert envelope["urls"] == ["http://www.portlandmomandbabyexpo.com"]


def test_v1_reply_keeps_all_48_mentions_and_reply_ids() -> None:
    envelope = only_tweet("v1_status_reply_48_mentions_long_full_text.json")
    assert len(envelope["mentions"]) == 48
    assert envelope["in_reply_to_tweet_id"] == "972454931939635200"
    assert envelope["in_reply_to_user_id"] == "2314229087"


def test_v1_user_null_fields_stay_null_and_empty_strings_stay_empty() -> None:
    author = only_tweet("v1_status_user_null_fields_cyrillic.json")["author"]
    assert (author["description"], author["location"], author["url"]) == (None, None, None)
    author = only_tweet("v1_status_retweet_of_manual_rt_api2021.json")["author"]
    assert author["location"] == ""


def test_v1_quote_and_retweet_references() -> None:
    assert only_tweet("v1_status_quote_of_quote.json")["quoted_tweet_id"] == "867475201482661888"
    manual = only_tweet("v1_status_retweet_of_manual_rt_api2021.json")
    assert manual["retweeted_tweet_id"] == "266367358078169089"


def test_compat_and_extended_renderings_are_the_same_tweet() -> None:
    compat = only_tweet("v1_status_same_tweet_rest_compat_truncated.json")
    extended = only_tweet("v1_status_extended_quote_zwj_emoji_gnip.json")
    assert compat["tweet_id"] == extended["tweet_id"]
    assert len(compat["text"]) < len(extended["text"])


def test_gnip_rule_without_tag_or_id_is_dropped() -> None:
    assert only_tweet("v1_status_poll_gnip.json")["matching_rules"] == []


@pytest.mark.parametrize("name", ["v1_status_rest_compat_mode.json", "v1_status_retweet.json"])
def test_twython_fixtures_without_user_id_fail_validation_with_a_reason(name: str) -> None:
    envelope = only_tweet(name)
    assert "author.id: required" in validate(envelope)


def test_retweet_fixture_keeps_the_retweeted_id() -> None:
    envelope = only_tweet("v1_status_retweet.json")
    assert envelope["retweeted_tweet_id"] == "917459832885653506"
    assert envelope["mentions"] == [{"id": "14475268", "screen_name": "samuelpepys"}]


def test_v1_stream_sample_lines_all_valid_and_exact() -> None:
    results = normalize_file("v1_stream_sample_lines.jsonl")
    assert len(results) == 72
    assert all(r.kind == "tweet" for r in results)
    envelopes = [r.envelope for r in results if r.envelope]
    assert all(validate(e) == [] for e in envelopes)
    ids = [e["tweet_id"] for e in envelopes]
    # Lines 32 and 55 are the same tweet, byte for byte.
    assert ids[31] == ids[54] == "972473017333899264"
    assert len(set(ids)) == 71
    assert {e["lang"] for e in envelopes} >= {"ar", "iw", "th", "ja", "ko", "ru", "bg", "el"}


def test_2009_capture_without_id_str() -> None:
    results = normalize_file("v1_stream_capture_2009_mixed.jsonl")
    assert [(r.kind, r.control) for r in results] == [
        ("delete", None),
        ("tweet", None),
        ("tweet", None),
        ("control", "limit"),
        ("tweet", None),
        ("control", "scrub_geo"),
    ]
    delete = results[0].envelope
    assert delete is not None
    assert (delete["tweet_id"], delete["author_id"]) == ("6832057002", "18378841")
    tweet = results[1].envelope
    assert tweet is not None
    assert tweet["tweet_id"] == "6832063504"
    assert tweet["created_at"] == "2009-12-19T16:01:35.000Z"
    assert tweet["author"]["created_at"] == "2009-11-02T20:19:26.000Z"
    assert all(validate(r.envelope) == [] for r in results if r.envelope)


@pytest.mark.parametrize(
    ("name", "tweet_id", "author_id"),
    [
        ("v1_delete_notice_2009.json", "6832057002", "18378841"),
        ("v1_delete_notice_docs_2012.json", "1234", "3"),
    ],
)
def test_v1_delete_notices(name: str, tweet_id: str, author_id: str) -> None:
    [result] = normalize_file(name)
    assert result.kind == "delete"
    assert result.envelope is not None
    assert (result.envelope["tweet_id"], result.envelope["author_id"]) == (tweet_id, author_id)
    assert result.envelope["deleted_at"] == INGESTED
    assert validate(result.envelope) == []


@pytest.mark.parametrize(
    ("name", "control"),
    [
        ("v1_disconnect_notice_docs.json", "disconnect"),
        ("v1_limit_notice_2009.json", "limit"),
        ("v1_scrub_geo_notice.json", "scrub_geo"),
        ("v1_stall_warning.json", "warning"),
        ("v1_status_withheld_notice_docs.json", "status_withheld"),
        ("v2_stream_operational_disconnect.json", "operational_disconnect"),
        ("http_401_v1_could_not_authenticate.json", "errors"),
        ("http_401_v2_unauthorized.json", "errors"),
        ("http_429_v1_rate_limit_exceeded.json", "errors"),
        ("http_429_v2_stream_too_many_connections.json", "errors"),
        ("http_503_v1_over_capacity.json", "errors"),
    ],
)
def test_control_messages_are_classified_not_stored(name: str, control: str) -> None:
    [result] = normalize_file(name)
    assert (result.kind, result.control, result.envelope) == ("control", control, None)


def test_v1_user_object_alone_is_not_a_tweet() -> None:
    [result] = normalize_file("v1_user_empty_location_null_profile_location.json")
    assert result.kind == "invalid"
    assert "unrecognised payload" in (result.reason or "")


def test_v2_filtered_stream_lines_and_truncated_tail() -> None:
    results = normalize_file("v2_filtered_stream_lines_truncated_tail.jsonl")
    assert [r.kind for r in results] == ["tweet"] * 7 + ["invalid"]
    assert (results[-1].reason or "").startswith("not JSON")
    first = results[0].envelope
    assert first is not None
    assert first["author"]["screen_name"] == "blackheart_265"  # from includes.users
    assert first["author"]["followers_count"] is not None
    assert first["quoted_tweet_id"] == "1377640162566496258"
    # The rule id is a JSON number > 2^53: kept exact.
    assert first["matching_rules"] == ["1377649934414049282"]
    reply = results[1].envelope
    assert reply is not None
    assert (reply["in_reply_to_tweet_id"], reply["in_reply_to_user_id"]) == (
        "1377266697850257410",
        "601852746",
    )
    assert all(validate(r.envelope) == [] for r in results if r.envelope)


def test_v2_sample_stream_default_fields_are_stored_without_author() -> None:
    """A real default-fields sample: valid tweets, author null, time derived from the id."""
    results = normalize_file("v2_sample_stream_default_fields.jsonl")
    assert len(results) == 70
    assert all(r.kind == "tweet" for r in results)
    for result in results:
        envelope = result.envelope
        assert envelope is not None
        assert validate(envelope) == []
        assert envelope["author"] is None and envelope["created_at_derived"] is True


def test_v2_default_lookup_emoji_escape_pair_decodes() -> None:
    results = normalize_file("v2_tweets_lookup_default_fields.json")
    assert [r.envelope["tweet_id"] for r in results if r.envelope] == [
        "1293593516040269825",
        "1293595870563381249",
    ]
    first = results[0].envelope
    assert first is not None
    assert "\U0001f941" in first["text"]


def test_v2_compliance_deletes_and_blank_first_line() -> None:
    results = normalize_file("v2_compliance_tweet_deletes.jsonl")
    assert [r.kind for r in results] == ["control", "delete", "delete"]
    assert results[0].control == "keep_alive"
    second = results[2].envelope
    assert second is not None
    assert second["tweet_id"] == "1170147183095664640"
    assert second["deleted_at"] == "2021-08-17T17:26:15.788Z"
    assert second["author_id"] is None
    assert validate(second) == []


def test_every_shared_fixture_file_is_covered() -> None:
    if not SHARED_TWITTER.exists():
        pytest.skip(f"{SHARED_TWITTER} not found (fresh clone without ../shared)")
    covered = set(TWEETS) | {
        "v1_status_rest_compat_mode.json",
        "v1_status_retweet.json",
        "v1_stream_sample_lines.jsonl",
        "v1_stream_capture_2009_mixed.jsonl",
        "v1_delete_notice_2009.json",
        "v1_delete_notice_docs_2012.json",
        "v1_disconnect_notice_docs.json",
        "v1_limit_notice_2009.json",
        "v1_scrub_geo_notice.json",
        "v1_stall_warning.json",
        "v1_status_withheld_notice_docs.json",
        "v2_stream_operational_disconnect.json",
        "http_401_v1_could_not_authenticate.json",
        "http_401_v2_unauthorized.json",
        "http_429_v1_rate_limit_exceeded.json",
        "http_429_v2_stream_too_many_connections.json",
        "http_503_v1_over_capacity.json",
        "v1_user_empty_location_null_profile_location.json",
        "v2_filtered_stream_lines_truncated_tail.jsonl",
        "v2_sample_stream_default_fields.jsonl",
        "v2_tweets_lookup_default_fields.json",
        "v2_compliance_tweet_deletes.jsonl",
    }
    present = {p.name for p in SHARED_TWITTER.iterdir() if p.suffix in (".json", ".jsonl")}
    assert present - covered == set(), "add a normalization test for each new fixture"
