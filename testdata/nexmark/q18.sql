-- Nexmark q18 (find last bid): the last bid of each bidder on each auction,
-- a deduplication keeping the last row (ROW_NUMBER ... ORDER BY the
-- event-time column DESC, rank 1). An updating query: a later bid replaces
-- the earlier one with -U/+U. Same text as Flink's q18 (Flink's column
-- dateTime is date_time here).
CREATE TABLE bid (
    auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'nexmark.table' = 'bid',
    'nexmark.events' = '20000',
    'nexmark.events-per-second' = '100'
);

SELECT auction, bidder, price, channel, url, date_time, extra
FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC) AS rank_number
      FROM bid)
WHERE rank_number <= 1;
