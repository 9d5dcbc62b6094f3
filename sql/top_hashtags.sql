-- The 20 most used hashtags (case-insensitive) in tweets posted in the last 7 days.
SELECT
  lower(h) AS hashtag,
  count(DISTINCT tweet_id) AS tweets
FROM tweets
CROSS JOIN UNNEST(hashtags) AS t(h)
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND kind = 'tweet'
GROUP BY 1
ORDER BY tweets DESC, hashtag
LIMIT 20
