-- Nexmark q1 (currency conversion): every bid with its price converted from
-- dollars to euros (x 0.908). Same text as Flink's q1.
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

SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid;
