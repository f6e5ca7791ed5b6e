-- Nexmark q5 (hot items): the auctions with the most bids in each 10 s
-- window sliding by 2 s. Flink's q5 joins the per-auction counts with
-- their per-window maximum (num >= maxn); here the same result is a
-- per-window Top-N without a join: RANK() keeps every auction tied for the
-- most bids. The Top-N is partitioned by the window's bounds, so it emits
-- each window once, when the window closes (append-only).
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

SELECT auction, num
FROM (
    SELECT auction, num,
           RANK() OVER (PARTITION BY starttime, endtime ORDER BY num DESC) AS bid_rank
    FROM (
        SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime
        FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
        GROUP BY auction, window_start, window_end
    )
)
WHERE bid_rank = 1;
