-- The same job as job.sql, unpaced and without checkpoints: the reference output.

CREATE TABLE bid (
  auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  date_time TIMESTAMP(3), extra VARCHAR,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
  'connector' = 'nexmark', 'nexmark.table' = 'bid',
  'nexmark.events' = '2000000'
);

CREATE TABLE auction_volume (
  auction BIGINT, window_start TIMESTAMP(3), bids BIGINT, volume BIGINT
) WITH ('connector' = 'file', 'path' = '/tmp/weir-demo/reference.jsonl', 'format' = 'json');

INSERT INTO auction_volume
SELECT auction, TUMBLE_START(date_time, INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM bid
GROUP BY auction, TUMBLE(date_time, INTERVAL '10' SECOND);
