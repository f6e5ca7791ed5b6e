-- Nexmark q10 (log to file system): every bid with its day and minute.
-- Differs from Flink's q10: Flink writes the rows with INSERT INTO a
-- filesystem sink partitioned by the day and the minute ('dt', 'hm');
-- Weir's file sink has no partitioned layout, so the query selects the
-- rows (INSERT INTO a file table writes them as they are). The events
-- start at 22:00 and come 2 per second, so there are two days.
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

SELECT auction, bidder, price, date_time, extra,
       DATE_FORMAT(date_time, 'yyyy-MM-dd') AS dt,
       DATE_FORMAT(date_time, 'HH:mm') AS hm
FROM bid;
