-- Share of tweets per detected language (null counted as 'und'), tweets posted in the last 7 days.
SELECT
  coalesce(lang, 'und') AS lang,
  count(*) AS tweets,
  round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS pct
FROM tweets
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
GROUP BY 1
ORDER BY tweets DESC, lang
