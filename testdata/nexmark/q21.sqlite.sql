-- SQLite has no regular expressions: the generator's urls end in
-- '?query=1' or '?query=1&channel_id=<digits>', so the parameter is the
-- text after '&channel_id='.
WITH b AS (
    SELECT *,
           CASE WHEN instr(url, '&channel_id=') > 0
                THEN substr(url, instr(url, '&channel_id=') + 12) END AS cid
    FROM bid
)
SELECT
    auction, bidder, price, channel,
    CASE
        WHEN lower(channel) = 'apple' THEN '0'
        WHEN lower(channel) = 'google' THEN '1'
        WHEN lower(channel) = 'facebook' THEN '2'
        WHEN lower(channel) = 'baidu' THEN '3'
        ELSE cid
    END AS channel_id
FROM b
WHERE cid IS NOT NULL OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu');
