-- Bids from the Kafka topic 'bids' → bids per auction per 10-second tumbling
-- window → the Kafka topic 'bid_counts' (see "## Kafka" in README.md).
-- 'scan.bounded.mode' = 'latest-offset' reads up to the end offsets seen at
-- start and then ends the job (every window fires); remove that line to run
-- continuously.

CREATE TABLE bids (
  auction   BIGINT,
  bidder    BIGINT,
  price     BIGINT,
  date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '2' SECOND
) WITH (
  'connector' = 'kafka',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'topic' = 'bids',
  'format' = 'json',
  'scan.startup.mode' = 'earliest-offset',
  'scan.watermark.idle-timeout' = '5 s',
  'scan.bounded.mode' = 'latest-offset'
);

CREATE TABLE bid_counts (
  auction      BIGINT,
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  bids         BIGINT,
  max_price    BIGINT
) WITH (
  'connector' = 'kafka',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'topic' = 'bid_counts',
  'format' = 'json',
  'key.fields' = 'auction'
);

INSERT INTO bid_counts
SELECT auction,
       TUMBLE_START(date_time, INTERVAL '10' SECOND),
       TUMBLE_END(date_time, INTERVAL '10' SECOND),
       COUNT(*),
       MAX(price)
FROM bids
GROUP BY auction, TUMBLE(date_time, INTERVAL '10' SECOND);
