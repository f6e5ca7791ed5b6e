-- Nexmark q7 (highest bid): the bids that carry the highest price of a
-- 10-second window, within the 10 seconds up to the window's end. Flink's
-- earlier q7 text, which joins on TUMBLE_ROWTIME (the window's last
-- millisecond, an event-time attribute): the BETWEEN on the two event
-- times makes it an interval join, whose state is dropped as the watermark
-- passes. (Flink's current q7 takes window_end, which is not a time
-- attribute, and runs as a regular join with the same result shape.)
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

SELECT B.auction, B.price, B.bidder, B.date_time, B.extra
FROM bid B
JOIN (
    SELECT MAX(B1.price) AS maxprice, TUMBLE_ROWTIME(B1.date_time, INTERVAL '10' SECOND) AS date_time
    FROM bid B1
    GROUP BY TUMBLE(B1.date_time, INTERVAL '10' SECOND)
) B1
ON B.price = B1.maxprice
WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time;
