-- Nexmark q4 (average price for a category): the average closing price of
-- the auctions of each category, the closing price being an auction's
-- highest bid between its opening and its expiry. A regular inner join
-- (the bounds are on date_time and expires, and expires is not an event-time
-- column, so it is not an interval join), a per-auction MAX over the join,
-- and an AVG over that updating result: when an auction's maximum rises,
-- the AVG retracts the old value and adds the new one. Same text as
-- Flink's q4 (Flink's column dateTime is date_time here).
CREATE TABLE auction (
    id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
    date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'nexmark.table' = 'auction',
    'nexmark.events' = '20000',
    'nexmark.events-per-second' = '100'
);

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
    Q.category,
    AVG(Q.final)
FROM (
    SELECT MAX(B.price) AS final, A.category
    FROM auction A, bid B
    WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
    GROUP BY A.id, A.category
) Q
GROUP BY Q.category;
