-- Nexmark q13 (bounded side input join): every bid with the value the side
-- table holds for its auction id modulo 10 000. A lookup join: the file
-- table is read once, when the job starts, into an index, and each bid is
-- looked up as it arrives. Same text as Flink's q13, except that key is a
-- MySQL reserved word and is backquoted; the side table is a CSV file of
-- 10 000 keys without the keys k with k % 13 = 5 (so some bids find
-- nothing). The path is relative to the repository root (the tests run the
-- query from sql/ with '../' added).
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

CREATE TABLE side_input (
    `key` BIGINT,
    `value` VARCHAR
) WITH (
    'connector' = 'file',
    'path' = 'testdata/nexmark/side_input.csv',
    'format' = 'csv'
);

SELECT
    B.auction,
    B.bidder,
    B.price,
    B.date_time,
    S.`value`
FROM (SELECT *, PROCTIME() AS p_time FROM bid) B
JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S
ON MOD(B.auction, 10000) = S.`key`;
