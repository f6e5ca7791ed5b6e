SELECT bidder, COUNT(*) AS bid_count,
       date_time - (date_time % 10000) AS starttime,
       date_time - (date_time % 10000) + 10000 AS endtime
FROM bid
GROUP BY bidder, date_time - (date_time % 10000);
