-- Sessions per bidder: a new session starts when the gap to the bidder's
-- previous bid is at least 10 s; a session ends 10 s after its last bid.
WITH a AS (
    SELECT bidder, date_time,
           CASE WHEN date_time - LAG(date_time) OVER (PARTITION BY bidder ORDER BY date_time) < 10000
                THEN 0 ELSE 1 END AS brk
    FROM bid
), b AS (
    SELECT bidder, date_time,
           SUM(brk) OVER (PARTITION BY bidder ORDER BY date_time ROWS UNBOUNDED PRECEDING) AS sid
    FROM a
)
SELECT bidder, COUNT(*) AS bid_count, MIN(date_time) AS starttime, MAX(date_time) + 10000 AS endtime
FROM b GROUP BY bidder, sid;
