-- Nexmark q7 (highest bid): the bids with the highest price in each 10 s
-- window. Flink's q7 joins the bids with the per-window MAX(price) and keeps
-- the bids whose date_time lies in [rowtime - 10 s, rowtime] of the window;
-- here the same bids come from a per-window Top-N without a join: RANK() = 1
-- keeps every bid tied for the highest price of its TUMBLE window, emitted
-- once when the window closes. (Flink's interval also takes in the last
-- millisecond of the previous window; the generator's events are 10 ms apart
-- on a 10 ms grid at this rate, so no bid falls there.)
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

SELECT auction, price, bidder, date_time, extra
FROM (
    SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS price_rank
    FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
)
WHERE price_rank = 1;
