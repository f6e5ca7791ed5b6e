// Package expr holds Weir's bound scalar expressions: the typed tree the
// binder builds from SQL and the operators evaluate row by row, plus the
// scalar function library and CAST.
//
// # Expressions
//
// An Expr has a result Type, an Eval over one input row and a
// deterministic String for EXPLAIN. Expressions are immutable once bound
// and safe to evaluate from many goroutines at once. The leaves are
// *Column (an input column) and *Literal (a constant); a function call is a
// *Call of a registered FuncDef. An error from Eval is a per-row data error
// (a failed CAST, invalid JSON, an out-of-range result): the caller applies
// the table's error policy, it does not abort the job by itself.
//
// # NULL
//
// Functions are strict unless marked NullSafe: a call with any NULL
// argument yields NULL without running the function. The NullSafe ones are
// COALESCE, IFNULL, NULLIF, IF and CONCAT_WS. The type of the NULL literal
// is accepted wherever a function takes an argument. Besides NULL inputs, a
// function returns NULL where its description says so (MOD by zero, SQRT of
// a negative number, a JSON path that matches nothing, a string that does
// not parse in TO_TIMESTAMP, ...).
//
// # Conversions
//
// CastValue implements CAST:
//
//   - NULL casts to NULL, whatever the target.
//   - Numbers to numbers: DOUBLE and DECIMAL to INT/BIGINT round half away
//     from zero (2.5 → 3, -2.5 → -3); DECIMAL rescaling rounds half away
//     from zero too; a value outside the target's range (INT is 32-bit,
//     DECIMAL(p,s) holds p digits) is an error. DOUBLE to DECIMAL goes
//     through the double's shortest decimal spelling, so 1.005 becomes 1.01.
//   - Strings to numbers: surrounding white space is trimmed, the text must
//     be a decimal number ([+-]digits[.digits][e[+-]digits]); a fraction
//     cast to an integer is rounded. Anything else is an error such as
//     "cannot cast 'abc' to BIGINT". DOUBLE also reads "Infinity".
//   - Anything to VARCHAR prints the value as query results show it
//     (TIMESTAMP as "2006-01-02 15:04:05.000", BOOLEAN as true/false).
//     VARCHAR(n) lengths are advisory: nothing is truncated.
//   - VARCHAR to TIMESTAMP uses types.ParseTimestamp ("2006-01-02
//     15:04:05[.fff]", RFC 3339, or a date alone).
//   - BOOLEAN to numbers gives 1/0; numbers to BOOLEAN test for non-zero;
//     VARCHAR to BOOLEAN accepts true/false/1/0 (case-insensitive).
//   - TIMESTAMP and numbers do not cast to each other: use UNIX_TIMESTAMP
//     and FROM_UNIXTIME. CanCast reports which pairs are defined.
//
// CommonType unifies two types (CASE, COALESCE, IN, GREATEST, comparison):
// NULL+X is X; INT+BIGINT is BIGINT; an integer or DECIMAL with a DECIMAL is
// a DECIMAL wide enough for both (capped at 18 digits, so a BIGINT value
// beyond the cap fails its cast); any number with DOUBLE is DOUBLE; BOOLEAN
// with a number is that number's type; VARCHAR with VARCHAR is VARCHAR;
// TIMESTAMP with TIMESTAMP or VARCHAR is TIMESTAMP (string literals compared
// with timestamps). Other pairs have no common type.
//
// # Functions
//
// Names are case-insensitive. NUMERIC means INT, BIGINT, DECIMAL or DOUBLE;
// an INT parameter accepts any numeric value and rounds it; a TIMESTAMP
// parameter also accepts a VARCHAR, parsed like CAST (a string that does not
// parse is an error). Only CONCAT, CONCAT_WS, LENGTH and CHAR_LENGTH convert
// non-string arguments to strings; other string functions want VARCHAR.
//
// Math:
//
//	MOD(a, b)              remainder with the sign of a (also the % operator); NULL when b is 0;
//	                       INT/BIGINT for integers, DECIMAL, or DOUBLE when either is DOUBLE
//	ABS(x)                 same type as x; error when -x overflows
//	ROUND(x[, d])          half away from zero; d < 0 rounds left of the point.
//	                       DOUBLE stays DOUBLE; INT/BIGINT keep their type;
//	                       ROUND(DECIMAL(p,s)) is DECIMAL(p-s+1, 0) and
//	                       ROUND(DECIMAL(p,s), d) is DECIMAL(p-s+1+d, d) for a
//	                       constant d, else DECIMAL(p+1, s) (see deviations)
//	FLOOR(x), CEIL(x), CEILING(x)
//	                       DOUBLE stays DOUBLE, integers are unchanged,
//	                       DECIMAL(p,s) becomes DECIMAL(p-s+1, 0)
//	POWER(x, y), POW(x, y) DOUBLE; an infinite result is an error, NaN gives NULL
//	SQRT(x)                DOUBLE; NULL for x < 0
//	LN(x), LOG10(x), LOG2(x), LOG([base, ] x)
//	                       DOUBLE; NULL for x <= 0 (and base <= 0 or 1)
//	EXP(x)                 DOUBLE; overflow is an error
//	PI()                   DOUBLE
//	SIGN(x)                INT -1, 0 or 1
//	GREATEST(a, b, ...), LEAST(a, b, ...)
//	                       the common type of the arguments; NULL if any is NULL
//
// Strings (positions and lengths count characters of UTF-8 text unless
// noted):
//
//	LOWER(s), LCASE(s), UPPER(s), UCASE(s)
//	SUBSTRING(s, pos[, len]), SUBSTR(...)
//	                       1-based; pos < 0 counts from the end; pos 0, a
//	                       position outside s or len <= 0 give ''
//	LEFT(s, n), RIGHT(s, n)
//	CONCAT(x, ...)         any argument types, converted to strings
//	CONCAT_WS(sep, x, ...) skips NULL arguments; NULL only when sep is NULL
//	CHAR_LENGTH(s), CHARACTER_LENGTH(s)
//	                       BIGINT characters
//	LENGTH(s), OCTET_LENGTH(s)
//	                       BIGINT bytes
//	REPLACE(s, from, to)   every occurrence; an empty from changes nothing
//	TRIM(s[, rem]), LTRIM(s[, rem]), RTRIM(s[, rem])
//	                       remove spaces (only ' '), or repeated rem, from
//	                       both/leading/trailing ends; the binder maps
//	                       TRIM(BOTH|LEADING|TRAILING rem FROM s) onto these
//	LPAD(s, n, pad), RPAD(s, n, pad)
//	                       pad to n characters, or cut s to n; NULL when n < 0
//	                       or padding is needed and pad is ''
//	REPEAT(s, n)
//	REVERSE(s)
//	POSITION(sub, s)       POSITION(sub IN s); BIGINT, 0 when absent
//	LOCATE(sub, s[, pos])  search from character pos
//	INSTR(s, sub)
//	SPLIT_INDEX(s, delim, index)
//	                       Flink's: the index-th (0-based) field of s split at
//	                       delim; NULL when out of range or s is ''; an empty
//	                       delim splits at white space
//	LIKE(s, pattern[, escape])
//	                       the LIKE operator: % any run, _ one character,
//	                       backslash escapes unless another escape character
//	                       (or '' for none) is given; case-sensitive
//	REGEXP_LIKE(s, pattern[, match_type]), REGEXP(s, pattern), RLIKE(s, pattern)
//	                       BOOLEAN; REGEXP is also the REGEXP operator;
//	                       match_type letters c, i, m, n, u as in MySQL
//	REGEXP_REPLACE(s, pattern, replacement)
//	                       replaces every match; $1 or ${1} refer to groups
//	REGEXP_EXTRACT(s, pattern[, group])
//	                       Flink's: group (default 0, the whole match) of the
//	                       first match; NULL when nothing matches or there is
//	                       no such group
//
// Date and time. TIMESTAMP is milliseconds since the epoch and everything
// is computed in UTC:
//
//	YEAR(ts), QUARTER(ts), MONTH(ts), DAY(ts), DAYOFMONTH(ts), HOUR(ts),
//	MINUTE(ts), SECOND(ts), DAYOFYEAR(ts)
//	                       BIGINT fields
//	DAYOFWEEK(ts)          1 = Sunday ... 7 = Saturday
//	WEEK(ts[, mode])       MySQL week modes 0-7 (default 0: weeks start on
//	                       Sunday, days before the first Sunday are week 0;
//	                       mode 3 is ISO 8601)
//	DAYNAME(ts), MONTHNAME(ts)
//	EXTRACT(unit, ts)      EXTRACT(unit FROM ts); unit is YEAR, QUARTER,
//	                       MONTH, WEEK (mode 0), DAY, HOUR, MINUTE, SECOND,
//	                       MILLISECOND, MICROSECOND (both within the second),
//	                       DAYOFWEEK or DAYOFYEAR; another unit is an error
//	DATE_FORMAT(ts, format)
//	                       MySQL specifiers %Y %y %m %c %d %e %D %H %k %h %I
//	                       %l %i %s %S %f %p %W %a %w %M %b %j %T %r %U %u %V
//	                       %v %X %x %%; an unknown %c prints c. A format
//	                       without % is read as a Java/Flink pattern
//	                       (yyyy MM dd HH mm ss SSS ...; see below)
//	NOW(), CURRENT_TIMESTAMP(), LOCALTIMESTAMP(), PROCTIME()
//	                       TIMESTAMP, the wall clock (the package variable
//	                       Now); never constant-folded
//	UNIX_TIMESTAMP([ts | s[, format]])
//	                       BIGINT seconds, rounded down; no argument: now;
//	                       a string that does not parse gives NULL
//	FROM_UNIXTIME(seconds[, format])
//	                       TIMESTAMP, or VARCHAR when format is given;
//	                       fractional seconds are kept to the millisecond
//	TO_TIMESTAMP(s[, format]), STR_TO_DATE(s, format)
//	                       TIMESTAMP; NULL when s does not parse. Without a
//	                       format s is read like CAST. Missing fields default
//	                       to 1970-01-01 00:00:00
//	TO_DATE(s[, format])   TO_TIMESTAMP truncated to the day
//	DATE(ts)               TIMESTAMP truncated to midnight (there is no DATE type)
//	TIMESTAMP_ADD(ts, amount, unit)
//	                       DATE_ADD, DATE_SUB (negated amount) and TIMESTAMPADD;
//	                       unit is MICROSECOND, MILLISECOND, SECOND, MINUTE,
//	                       HOUR, DAY, WEEK, MONTH, QUARTER or YEAR. MONTH,
//	                       QUARTER and YEAR keep the time of day and clamp
//	                       the day to the month's end (Jan 31 + 1 MONTH is
//	                       Feb 29 in 2024); a fractional amount of a fixed
//	                       unit is kept to the millisecond
//	TIMESTAMPDIFF(unit, a, b)
//	                       BIGINT b - a in whole units, truncated toward
//	                       zero; a month counts only once b's day and time
//	                       reach a's (Jan 31 to Feb 29 is 0 months), as MySQL
//
// Java/Flink patterns understand y, yy, yyyy, M, MM, MMM, MMMM, d, dd, D,
// H, HH, h, hh, m, mm, s, ss, S... (fraction digits), a, E, EEEE and
// 'quoted text'; other letters are an error. Parsing reads up to the
// field's width of digits and requires the whole string to match.
//
// JSON (documents are VARCHAR; invalid JSON is a data error):
//
//	JSON_EXTRACT(json, path[, path...])
//	                       the JSON text of the match (strings keep their
//	                       quotes); with several paths, a JSON array of the
//	                       matches; NULL when nothing matches
//	JSON_VALUE(json, path) the matched scalar as text, strings unquoted;
//	                       NULL for null, objects, arrays and no match
//	JSON_UNQUOTE(s)        decodes a JSON string literal; other text is
//	                       returned as is
//	JSON_QUOTE(s)          s as a JSON string literal
//	JSON_VALID(s)          BOOLEAN
//
// Paths use MySQL syntax: $, .key, ."quoted key", [N], [last], [last-N],
// chained ($.a[1].b). [0] and [last] on a non-array select the value itself.
// When an object repeats a key, the last one wins.
//
// Conditional:
//
//	COALESCE(x, ...)       the first non-NULL argument, in the common type
//	IFNULL(x, y)
//	NULLIF(x, y)           NULL when x = y, else x (type of x)
//	IF(cond, a, b)         cond is BOOLEAN or numeric (non-zero is true); a
//	                       NULL cond selects b
//
// # Deviations from MySQL
//
//   - Comparisons in LIKE, LOCATE/INSTR/POSITION and the REGEXP functions
//     are case-sensitive and byte-wise (MySQL's default collation is
//     case-insensitive). Use LOWER/UPPER, or match_type 'i' for REGEXP_LIKE.
//   - Regular expressions are Go's RE2 syntax: no backreferences or
//     lookaround. In REGEXP_REPLACE write ${1}x rather than $1x.
//   - ROUND(DECIMAL(p,s), d) has scale d when d is a constant integer, as in
//     MySQL (ROUND(1.235, 2) is 1.24; a negative d gives scale 0). When d is
//     not a constant the result keeps scale s and zero-fills the rounded
//     digits (1.240): the type is fixed before d is known.
//   - String functions other than CONCAT, CONCAT_WS, LENGTH and CHAR_LENGTH
//     do not convert numbers to strings implicitly; use CAST.
//   - A string that does not parse where a TIMESTAMP is expected is a data
//     error, not NULL with a warning; STR_TO_DATE, TO_TIMESTAMP, TO_DATE and
//     UNIX_TIMESTAMP(string) return NULL instead, as their purpose is parsing.
//   - UNIX_TIMESTAMP returns whole seconds (BIGINT), also for timestamps
//     with milliseconds, and negative values before 1970.
//   - Timestamps have millisecond precision: %f prints milliseconds followed
//     by 000, MICROSECOND amounts are rounded to the millisecond, and
//     EXTRACT(MICROSECOND) is a multiple of 1000. Dates are not limited to
//     the years 1000-9999.
//   - EXTRACT also accepts MILLISECOND, DAYOFWEEK and DAYOFYEAR.
//   - JSON_EXTRACT returns the matched text as it appears in the document
//     (MySQL re-serialises it with its own spacing and key order).
//     Wildcards (*, **) and ranges ([0 to 2]) in paths are refused.
//   - LPAD, RPAD and REPEAT refuse results over 16 MiB with an error.
//   - ABS and ROUND keep INT results in the INT range (an error otherwise)
//     rather than widening to BIGINT.
//   - Integer results of length and field functions are BIGINT.
package expr
