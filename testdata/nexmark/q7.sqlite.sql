-- TUMBLE_ROWTIME is the window's last millisecond: start + 9999.
WITH m AS (
    SELECT MAX(price) AS maxprice, date_time - (date_time % 10000) + 9999 AS dt
    FROM bid
    GROUP BY date_time - (date_time % 10000)
)
SELECT B.auction, B.price, B.bidder, B.date_time, B.extra
FROM bid B JOIN m ON B.price = m.maxprice
WHERE B.date_time BETWEEN m.dt - 10000 AND m.dt;
