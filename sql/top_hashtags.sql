-- The 20 most used hashtags (case-insensitive) in tweets posted in the last 7 days.
-- A tweet that repeats a tag (#Rust #rust) counts once for it.
SELECT
  h AS hashtag,
  count(*) AS tweets
FROM tweets
CROSS JOIN UNNEST(array_distinct(transform(hashtags, x -> lower(x)))) AS t(h)
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
GROUP BY 1
ORDER BY tweets DESC, hashtag
LIMIT 20
