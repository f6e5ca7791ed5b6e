-- Nexmark q14 (calculation): bids whose euro price is between 1 000 000 and
-- 50 000 000, with the euro price, the time of day of the bid and the
-- number of 'c' characters in extra. Differs from Flink's q14: the UDF
-- count_char(extra, 'c') is written CHAR_LENGTH(extra) -
-- CHAR_LENGTH(REPLACE(extra, 'c', '')). The events start at 06:00 and come
-- 2 per second (about 2.8 h), so all three bidTimeType values occur.
CREATE TABLE bid (
    auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'nexmark.table' = 'bid',
    'nexmark.events' = '20000',
    'nexmark.events-per-second' = '2',
    'nexmark.base-time' = '2026-01-01 06:00:00'
);

SELECT
    auction,
    bidder,
    0.908 * price AS price,
    CASE
        WHEN HOUR(date_time) >= 8 AND HOUR(date_time) <= 18 THEN 'dayTime'
        WHEN HOUR(date_time) <= 6 OR HOUR(date_time) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    date_time,
    extra,
    CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
