-- Nexmark q19 (auction top-N): the 10 highest bids of each auction with
-- their rank. An unbounded Top-N: an updating query whose rows move rank
-- (-U/+U) as higher bids arrive. Same text as Flink's q19 except for the
-- tie-breaker: two bids on one auction can have the same price, and
-- ROW_NUMBER ranks such ties in arrival order, which is not deterministic
-- across parallel sources; ORDER BY price DESC, date_time makes the ranking
-- total (the generator gives every event its own millisecond at this rate)
-- so that the result can be compared with an oracle.
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

SELECT * FROM
(SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, date_time) AS rank_number FROM bid)
WHERE rank_number <= 10;
