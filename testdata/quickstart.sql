-- Weir quick start: a windowed query over the built-in Nexmark generator.
-- No Kafka needed. Run with:  go run ./cmd/weir run testdata/quickstart.sql

CREATE TABLE bid (
  auction   BIGINT,
  bidder    BIGINT,
  price     BIGINT,
  channel   VARCHAR,
  url       VARCHAR,
  date_time TIMESTAMP(3),
  extra     VARCHAR,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
  'connector'      = 'nexmark',
  'nexmark.table'  = 'bid',
  'nexmark.events' = '500000'
);

SET parallelism = 2;

-- Bids and total volume per channel in 10-second tumbling windows of event time.
SELECT
  channel,
  TUMBLE_START(date_time, INTERVAL '10' SECOND) AS window_start,
  COUNT(*)                                      AS bids,
  COUNT(DISTINCT bidder)                        AS bidders,
  SUM(price)                                    AS volume,
  MAX(price)                                    AS top_bid
FROM bid
WHERE channel IN ('Apple', 'Google', 'Facebook', 'Baidu')
GROUP BY channel, TUMBLE(date_time, INTERVAL '10' SECOND)
ORDER BY window_start, channel;
