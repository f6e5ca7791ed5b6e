-- Flink's q7 as written: the bids joined with their window's maximum price
-- (rowtime = window_end - 1 ms).
SELECT B.auction, B.price, B.bidder, B.date_time, B.extra
FROM bid B
JOIN (
    SELECT MAX(price) AS maxprice, (date_time - date_time % 10000) + 10000 - 1 AS rowtime
    FROM bid
    GROUP BY date_time - date_time % 10000
) B1
ON B.price = B1.maxprice
WHERE B.date_time BETWEEN B1.rowtime - 10000 AND B1.rowtime;
