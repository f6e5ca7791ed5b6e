// Package format holds Weir's record formats: decoders that turn one record
// (a JSON line, a CSV line, a Kafka message value) into a types.Row, and
// encoders that append a row's encoding to a byte slice. The file connector
// uses them now, Kafka later.
//
// # Design
//
// Decoding is on the hot path of every ingest, so the JSON decoder is
// hand-written and driven by the schema rather than by reflection:
//
//   - It scans the record once. Keys are matched to columns exactly first,
//     then case-insensitively (ASCII folding through a precomputed map, then
//     strings.EqualFold for non-ASCII names). The key seen at each field
//     position is remembered, so a stream whose records share a layout
//     costs one in-place comparison per key.
//   - Values of unwanted keys, nested objects and arrays included, are
//     validated and skipped without being built. Missing keys and JSON null
//     give NULL.
//   - Numbers are converted in place: integers in one pass, DECIMAL exactly
//     into an unscaled int64, DOUBLE without strconv when the text has at
//     most 15 digits and no exponent (exact: one correctly rounded
//     division).
//   - Timestamps are parsed by a fixed-width parser that caches the
//     "YYYY-MM-DDThh:mm" prefix of the previous record, so a hit parses only
//     seconds and milliseconds. Other spellings go to types.ParseTimestamp.
//   - Allocation: none per record, except one string per record that has
//     VARCHAR values. All VARCHAR values of a record are copied into one
//     buffer, and each value is a slice of a single string made from it, so
//     a retained value pins only that record's strings, never the input
//     buffer.
//
// Decoders and encoders keep scratch buffers and are not safe for
// concurrent use: make one per subtask.
//
// # JSON conversions (decoder)
//
//	column type    accepted JSON values
//	BIGINT, INT    number (1e3 and 2.0 are fine, 1.5 is not); numeric string; INT is range-checked
//	DOUBLE         number; string accepted by strconv.ParseFloat ("NaN", "Infinity", "1.5")
//	DECIMAL(p,s)   number or numeric string, exact; extra digits round half away from zero; |v| >= 10^p → error
//	BOOLEAN        true, false; the strings "true"/"false" (any case)
//	VARCHAR        string (all escapes, \uXXXX with surrogate pairs; lone surrogates → U+FFFD);
//	               an object, array, number or boolean gives its JSON text as written
//	TIMESTAMP(3)   string in a types.ParseTimestamp form (treated as UTC unless it has an offset);
//	               number or numeric string = milliseconds since the epoch
//
// A value that does not convert is a *FieldError
// ("column price: cannot decode "abc" as BIGINT", "column i: 3000000000 is
// out of range for INT"). Malformed JSON is a *SyntaxError carrying the
// 0-based byte offset ("invalid JSON at byte 17: ..."). Each record must be
// one JSON object, nested at most 1000 deep. String bytes are not
// checked for valid UTF-8: they are copied through unchanged.
//
// # CSV
//
// One record per line (the caller splits lines), RFC 4180 quoting with ""
// for a quote inside a quoted field, columns by position. A quoted field
// cannot contain a line break (the file source splits records at
// newlines); an unterminated quote is an error that says so. Too few or too
// many fields: "expected 7 fields, got 3". An unquoted field equal to the
// null literal is NULL, and so is an empty field of a non-VARCHAR column.
// Non-VARCHAR fields are trimmed of spaces and tabs. BOOLEAN accepts
// true/false (any case) and 1/0; TIMESTAMP(3) accepts a types.ParseTimestamp
// form or epoch milliseconds.
//
// # Encoders
//
// JSON: one object per row, column names as keys in schema order, NULL as
// null, DECIMAL as an exact number (12.50 stays 12.50), DOUBLE in the
// shortest form that round-trips (infinities and NaN as the strings
// "Infinity", "-Infinity", "NaN", which the decoder reads back), TIMESTAMP as
// "2006-01-02 15:04:05.000", strings escaped (invalid UTF-8 → U+FFFD).
// CSV: same text forms, NULL as the null literal, strings quoted when they
// contain the delimiter, a quote, CR or LF, start or end with a space or tab,
// or equal the null literal. No trailing newline in either: the caller
// frames records.
//
// # Options
//
// New(format, schema, options) reads these keys and ignores all others
// (OptionKeys lists them for validation):
//
//	option               formats     default  meaning
//	include-op           json, csv   false    encoders add the row kind: "_op":"+I" first in JSON,
//	                                          an extra first field in CSV (the CSV decoder then skips it)
//	json.path.<column>   json        -        read <column> from a nested field, e.g. 'user.address.city'
//	csv.delimiter        csv         ,        one ASCII character; '\t' or 'tab' for a tab
//	csv.null-literal     csv         (empty)  unquoted text meaning NULL, e.g. '\N'
//
// # Example
//
//	CREATE TABLE bids (
//	  auction BIGINT,
//	  bidder  BIGINT,
//	  price   DECIMAL(10,2),
//	  city    VARCHAR,
//	  ts      TIMESTAMP(3),
//	  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
//	) WITH (
//	  'connector' = 'file',
//	  'path' = '/data/bids/',
//	  'format' = 'json',
//	  'json.path.city' = 'bidder_info.address.city'
//	);
//
// reads lines such as
//
//	{"auction":1001,"bidder":7,"price":12.5,"ts":"2026-01-01T00:00:01.123Z","bidder_info":{"address":{"city":"Lyon"}}}
package format
