SELECT
    Q.seller,
    AVG(Q.price) OVER
        (PARTITION BY Q.seller ORDER BY Q.date_time ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price
FROM (
    SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY id, seller ORDER BY price DESC, date_time) AS rownum
        FROM (SELECT A.id, A.seller, B.price, B.date_time
            FROM auction AS A,
                bid AS B
            WHERE A.id = B.auction
                and B.date_time between A.date_time and A.expires))
    WHERE rownum <= 1
) AS Q;
