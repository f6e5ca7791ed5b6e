-- Nexmark q0 (pass through): every bid, unchanged. Measures the cost of
-- reading the source. Same text as Flink's q0 (which writes to a blackhole
-- sink); here the SELECT's rows are the result. 20 000 events, 100 events/s.
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

SELECT auction, bidder, price, date_time, extra FROM bid;
