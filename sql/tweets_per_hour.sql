-- Tweets and distinct authors per arrival hour over the last 7 days.
-- The dt predicate prunes partitions (projection), so the scan stays small.
SELECT
    dt,
    hour,
    count(*) AS tweets,
    approx_distinct(author.id) AS authors
FROM tweets
WHERE kind = 'tweet'
    AND dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
GROUP BY dt, hour
ORDER BY dt, hour
