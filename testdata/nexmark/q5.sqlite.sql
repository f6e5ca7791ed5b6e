-- Flink's q5 as written, with the HOP windows spelled out: each bid is in
-- the 5 windows starting at floor(ts / 2 s) * 2 s - k * 2 s, k = 0..4.
WITH hops AS (
    SELECT b.auction, (b.date_time - (b.date_time % 2000)) - k.j * 2000 AS starttime
    FROM bid b, (SELECT 0 AS j UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) k
),
AuctionBids AS (
    SELECT auction, COUNT(*) AS num, starttime, starttime + 10000 AS endtime
    FROM hops GROUP BY auction, starttime
),
MaxBids AS (
    SELECT MAX(num) AS maxn, starttime, endtime FROM AuctionBids GROUP BY starttime, endtime
)
SELECT AuctionBids.auction, AuctionBids.num
FROM AuctionBids JOIN MaxBids
  ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
 AND AuctionBids.num >= MaxBids.maxn;
