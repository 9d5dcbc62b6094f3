-- The 20 most active authors by tweets posted in the last 7 days, with their latest handle.
SELECT
  author.id AS author_id,
  max_by(author.screen_name, created_at) AS screen_name,
  count(*) AS tweets
FROM tweets
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND author.id IS NOT NULL
GROUP BY author.id
ORDER BY tweets DESC, author_id
LIMIT 20
