-- Tweets per hour of posting (UTC), over the last 7 days.
-- dt is the day of posting (UTC), so the predicate prunes the scan to 7 days of files.
SELECT
  date_trunc('hour', created_at) AS hour_utc,
  count(*) AS tweets
FROM tweets
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
GROUP BY 1
ORDER BY 1
