WITH b AS (
    SELECT *, CAST(strftime('%H', date_time / 1000, 'unixepoch') AS INTEGER) AS h FROM bid
)
SELECT
    auction,
    bidder,
    0.908 * price AS price,
    CASE
        WHEN h >= 8 AND h <= 18 THEN 'dayTime'
        WHEN h <= 6 OR h >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    date_time,
    extra,
    length(extra) - length(replace(extra, 'c', '')) AS c_counts
FROM b
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
