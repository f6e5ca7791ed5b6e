-- Nexmark q11 (user sessions): how many bids each bidder makes in each of
-- its sessions (a session ends after 10 s without a bid by that bidder).
-- Same text as Flink's q11. 20 000 events at 100 events/s (200 s of event
-- time), so bidders that are not hot have several sessions.
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
    SESSION_START(B.date_time, INTERVAL '10' SECOND) AS starttime,
    SESSION_END(B.date_time, INTERVAL '10' SECOND) AS endtime
FROM bid B
GROUP BY B.bidder, SESSION(B.date_time, INTERVAL '10' SECOND);
