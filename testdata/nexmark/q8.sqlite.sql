WITH P AS (
    SELECT DISTINCT id, name, date_time - (date_time % 10000) AS starttime FROM person
), A AS (
    SELECT DISTINCT seller, date_time - (date_time % 10000) AS starttime FROM auction
)
SELECT P.id, P.name, P.starttime FROM P JOIN A ON P.id = A.seller AND P.starttime = A.starttime;
