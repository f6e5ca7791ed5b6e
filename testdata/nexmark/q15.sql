-- Nexmark q15 (bidding statistics report): per day, the number of bids,
-- distinct bidders and distinct auctions, overall and in three price ranks.
-- An updating query (non-windowed GROUP BY). Differs from Flink's q15: Weir
-- has no FILTER clause, so COUNT(*) FILTER (WHERE c) is written
-- COUNT(CASE WHEN c THEN 1 END) and COUNT(DISTINCT x) FILTER (WHERE c) is
-- COUNT(DISTINCT CASE WHEN c THEN x END). The events start at 22:00 and come
-- 2 per second (about 2.8 h), so there are two days.
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
    DATE_FORMAT(date_time, 'yyyy-MM-dd') AS `day`,
    COUNT(*) AS total_bids,
    COUNT(CASE WHEN price < 10000 THEN 1 END) AS rank1_bids,
    COUNT(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 END) AS rank2_bids,
    COUNT(CASE WHEN price >= 1000000 THEN 1 END) AS rank3_bids,
    COUNT(DISTINCT bidder) AS total_bidders,
    COUNT(DISTINCT CASE WHEN price < 10000 THEN bidder END) AS rank1_bidders,
    COUNT(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN bidder END) AS rank2_bidders,
    COUNT(DISTINCT CASE WHEN price >= 1000000 THEN bidder END) AS rank3_bidders,
    COUNT(DISTINCT auction) AS total_auctions,
    COUNT(DISTINCT CASE WHEN price < 10000 THEN auction END) AS rank1_auctions,
    COUNT(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN auction END) AS rank2_auctions,
    COUNT(DISTINCT CASE WHEN price >= 1000000 THEN auction END) AS rank3_auctions
FROM bid
GROUP BY DATE_FORMAT(date_time, 'yyyy-MM-dd');
