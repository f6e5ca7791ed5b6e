-- Nexmark q12 (processing-time windows): how many bids each bidder makes in
-- each 10 s window. Differs from Flink's q12: Flink tumbles on a
-- processing-time attribute (PROCTIME()), which is not deterministic; here
-- the window is an event-time TUMBLE on date_time so the result can be
-- checked against an oracle.
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

SELECT
    B.bidder,
    COUNT(*) AS bid_count,
    TUMBLE_START(B.date_time, INTERVAL '10' SECOND) AS starttime,
    TUMBLE_END(B.date_time, INTERVAL '10' SECOND) AS endtime
FROM bid B
GROUP BY B.bidder, TUMBLE(B.date_time, INTERVAL '10' SECOND);
