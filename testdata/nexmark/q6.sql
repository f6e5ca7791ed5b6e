-- Nexmark q6 (average selling price by seller): for each auction's
-- winning bid, the average price of the winning bids of the seller's last
-- 10 auctions before it and of its own, in the order of the winning bids'
-- times. Q is q9's core: a Top-1 per auction over a regular join, an
-- updating result (a higher bid replaces the winner). Flink does not run
-- q6 (its OVER aggregation takes no retractions); Weir runs an OVER over
-- an updating input by keeping every row of each seller and, when a row
-- comes or goes, computing again the rows whose 11-row frames it is in.
-- Flink's text, written so that it parses: the filter on rownum in a
-- query of its own around the ranking, the ranking's columns by their
-- names in its FROM, and date_time as a tie-breaker of equal prices (as
-- in q9). Flink's column dateTime is date_time here.
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
    Q.seller,
    AVG(Q.price) OVER
        (PARTITION BY Q.seller ORDER BY Q.date_time ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price
FROM (
    SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY id, seller ORDER BY price DESC, date_time) AS rownum
        FROM (SELECT A.id, A.seller, B.price, B.date_time
            FROM auction AS A,
                bid AS B
            WHERE A.id = B.auction
                and B.date_time between A.date_time and A.expires))
    WHERE rownum <= 1
) AS Q;
