-- Share of tweets per detected language (null counted as 'und'), tweets posted in the last 7 days.
SELECT
  coalesce(lang, 'und') AS lang,
  count(DISTINCT tweet_id) AS tweets,
  round(100.0 * count(DISTINCT tweet_id) / sum(count(DISTINCT tweet_id)) OVER (), 2) AS pct
FROM tweets
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND kind = 'tweet'
GROUP BY 1
ORDER BY tweets DESC, lang
