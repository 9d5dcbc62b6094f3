-- The tweets analysts query: one row per tweet the consumer accepted, none once deleted.
-- tweet_versions holds what the consumer published, at least once: each stored copy
-- and, for a deleted tweet, a tombstone row (kind = 'delete') in the tweet's own
-- dt/hour partition. Per tweet_id the tombstone ranks first, then the newest revision
-- (rev: a Bluesky post's edits; X tweets have none), then the latest ingest, and only
-- a tweet row that ranks first is kept. A tweet and its tombstone share a
-- partition, so ranking within (dt, hour, tweet_id) is ranking per tweet, and a
-- predicate on dt or hour still prunes partitions through the view.
SELECT
  kind, schema_version, tweet_id, rev, created_at, created_at_derived, text, lang,
  source_api, payload_format, ingested_at, author, hashtags, mentions, urls,
  in_reply_to_tweet_id, in_reply_to_user_id, retweeted_tweet_id, quoted_tweet_id,
  unresolved_tweet_ids, matching_rules, dt, hour
FROM (
  SELECT
    *,
    row_number() OVER (
      PARTITION BY dt, hour, tweet_id
      ORDER BY CASE WHEN kind = 'delete' THEN 0 ELSE 1 END, rev DESC NULLS LAST,
        ingested_at DESC
    ) AS version_rank
  FROM tweet_versions
)
WHERE version_rank = 1 AND kind = 'tweet'
