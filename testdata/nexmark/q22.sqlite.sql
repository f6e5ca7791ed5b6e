-- The urls are 'https://www.nexmark.com/<d1>/<d2>/<d3>/item.htm?...': peel
-- the fields off one '/' at a time.
WITH a AS (
    SELECT auction, bidder, price, channel, substr(url, instr(url, '//') + 2) AS r0 FROM bid
), b AS (
    SELECT *, substr(r0, instr(r0, '/') + 1) AS r1 FROM a
), c AS (
    SELECT *, substr(r1, 1, instr(r1, '/') - 1) AS dir1, substr(r1, instr(r1, '/') + 1) AS r2 FROM b
), d AS (
    SELECT *, substr(r2, 1, instr(r2, '/') - 1) AS dir2, substr(r2, instr(r2, '/') + 1) AS r3 FROM c
)
SELECT auction, bidder, price, channel, dir1, dir2, substr(r3, 1, instr(r3, '/') - 1) AS dir3 FROM d;
