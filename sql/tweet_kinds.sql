-- Shares of retweets, quotes, replies and original tweets, tweets posted in the last 7 days.
-- A tweet counts once, as the first of retweet > quote > reply that applies.
SELECT
  CASE
    WHEN retweeted_tweet_id IS NOT NULL THEN 'retweet'
    WHEN quoted_tweet_id IS NOT NULL THEN 'quote'
    WHEN in_reply_to_tweet_id IS NOT NULL THEN 'reply'
    ELSE 'original'
  END AS tweet_kind,
  count(*) AS tweets,
  round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS pct
FROM tweets
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
GROUP BY 1
ORDER BY tweets DESC, tweet_kind
