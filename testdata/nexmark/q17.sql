-- Nexmark q17 (auction statistics report): per auction and day, the number
-- of bids overall and in three price ranks, and the min, max, average and
-- sum of the prices. An updating query. Differs from Flink's q17: FILTER
-- clauses are rewritten as COUNT(CASE WHEN c THEN 1 END); and AVG(price)
-- over BIGINT is fractional in Weir (Flink truncates it to BIGINT).
CREATE TABLE bid (
    auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'nexmark.table' = 'bid',
    'nexmark.events' = '20000',
    'nexmark.events-per-second' = '2',
    'nexmark.base-time' = '2026-01-01 22:00:00'
);

SELECT
    auction,
    DATE_FORMAT(date_time, 'yyyy-MM-dd') AS `day`,
    COUNT(*) AS total_bids,
    COUNT(CASE WHEN price < 10000 THEN 1 END) AS rank1_bids,
    COUNT(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 END) AS rank2_bids,
    COUNT(CASE WHEN price >= 1000000 THEN 1 END) AS rank3_bids,
    MIN(price) AS min_price,
    MAX(price) AS max_price,
    AVG(price) AS avg_price,
    SUM(price) AS sum_price
FROM bid
GROUP BY auction, DATE_FORMAT(date_time, 'yyyy-MM-dd');
