// Package sql turns Weir SQL text into statements ready for binding.
//
// # Pipeline
//
//	script ──split──▶ statement text ──rewrite──▶ MySQL-dialect text ──TiDB parser──▶ ast.StmtNode ──bind──▶ plan
//
// Parse splits a script on ';' (outside strings, `quoted identifiers` and
// comments; empty statements are skipped), rewrites each statement's
// Flink-style syntax into forms that the TiDB parser
// (github.com/pingcap/tidb/pkg/parser, MySQL dialect) accepts, parses it,
// and returns a Statement: the original text and its position in the
// script, the TiDB AST, and what the rewrite took out of the text (WITH
// options, the watermark, computed columns, window table functions...).
// Binding (name resolution, types, plans) happens elsewhere.
//
// # Lexical rules
//
//   - Strings are '…' or "…"; a doubled quote or a backslash escape stands
//     for a quote. Identifiers may be quoted with backquotes (a doubled backquote stands
//     for one).
//   - Comments: /* … */, "--" to the end of the line (with or without a space
//     after it, as in Flink), and "#" to the end of the line. "--" and "#"
//     comments are blanked before the TiDB parser runs; /* … */ comments are
//     passed through (so /*+ hints */ reach it).
//   - Nothing inside a string, quoted identifier or comment is ever
//     rewritten, and ';' there does not end a statement.
//   - Keywords are case-insensitive. Names that are MySQL reserved words
//     (out, window, order, ...) must be backquoted: CREATE TABLE `out` (...).
//
// Tokens, SplitComplete and Blank (tokens.go) expose this lexer to tools
// that work on text before it is parsed ('weir shell' finds where a
// statement typed over several lines ends with them).
//
// # Rewrites
//
// Rewrites keep the statement's line structure: removed text is replaced
// by spaces (line breaks kept), replacements are padded with spaces when
// shorter, and every offset of the rewritten text maps back to the
// original (Rewrite.OrigOffset), so errors and node positions point at what
// the user wrote. Each rule below applies only where stated.
//
// CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name ( elements ) options:
//
//   - WITH ('k' = 'v', ...) after the column list (or, with no column list,
//     before AS SELECT) is removed and returned as Statement.Options, in
//     order. Keys are lower-cased; a key is a string, a `quoted` name or a
//     dotted/dashed word (nexmark.table, scan.startup-mode); a value is a
//     string (unquoted) or any other text (kept as written, e.g. 1000).
//     Duplicate keys are an error.
//   - The MySQL-native alternative ENGINE = x CONNECTION = 'k=v;k=v' (which
//     the TiDB parser accepts as table options) yields the same Options:
//     connector = lower(x), then each k=v pair (keys lower-cased, blanks
//     trimmed). Using both forms in one statement is an error. Their Options
//     have KeyOffset = ValueOffset = -1.
//   - WATERMARK FOR col AS expr is removed (with its separating comma) and
//     returned as Statement.Watermark, with the delay in milliseconds; expr
//     must have one of the watermark forms shown after this list, anything
//     else is an error at the expression ("WATERMARK expression must be
//     <col> [- INTERVAL ...]"). At most one WATERMARK per table.
//   - name AS PROCTIME() is removed (with its comma) and returned in
//     Statement.Computed as {name, "PROCTIME"}. Any other computed column
//     (name AS expr) is an error.
//   - A column type of bare VARCHAR or STRING (no length) becomes
//     VARCHAR(1048576), and the lower-cased column name is added to
//     Statement.UnboundedVarchar: bind it as VARCHAR with Length 0.
//     VARCHAR(n) is left alone.
//   - TIMESTAMP_LTZ becomes TIMESTAMP (so TIMESTAMP_LTZ(3) parses as
//     TIMESTAMP(3)); WITH LOCAL TIME ZONE / WITHOUT TIME ZONE after a
//     TIMESTAMP type is removed. TIMESTAMP(3) and DATETIME(3) parse as is.
//   - NOT ENFORCED after PRIMARY KEY (cols), a column's PRIMARY KEY, or
//     UNIQUE is removed (Weir never enforces keys). NOT ENFORCED after CHECK
//     is left to the parser.
//
// The watermark forms (n may have a fraction and be quoted or not; UNIT is
// MILLISECOND, SECOND, MINUTE, HOUR or DAY, singular or plural):
//
//	WATERMARK FOR col AS col                          -- delay 0
//	WATERMARK FOR col AS col - INTERVAL 'n' UNIT      -- delay n UNIT
//
// CAST(x AS type), anywhere: the TiDB parser only accepts MySQL cast types,
// so the type word is replaced and the user's type is recorded in
// Statement.Casts (read it with Statement.CastType):
//
//	VARCHAR, STRING [ (n) ]                                  → CHAR [ (n) ]
//	BIGINT, INT, INTEGER, SMALLINT, TINYINT, BOOLEAN, BOOL   → SIGNED
//	TIMESTAMP, TIMESTAMP_LTZ [ (p) ] [WITH LOCAL TIME ZONE]  → DATETIME [ (p) ]
//
// DECIMAL(p,s), DOUBLE, FLOAT, CHAR, DATE, TIME, DATETIME, SIGNED, UNSIGNED
// and JSON are accepted as written.
//
// Group-window functions, anywhere: TUMBLE, HOP, SESSION, CUMULATE and their
// _START, _END, _ROWTIME, _PROCTIME companions (CUMULATE: _START, _END).
//
//   - SESSION( becomes SESSION_WINDOW( (SESSION is a MySQL keyword). The
//     companions SESSION_START/SESSION_END parse as written.
//   - An argument that is exactly INTERVAL 'n' UNIT or INTERVAL n UNIT (the
//     parser rejects INTERVAL as an ordinary function argument) becomes the
//     string literal 'n UNIT' with UNIT singular and upper-case, e.g.
//     TUMBLE(ts, INTERVAL '10' SECONDS) → TUMBLE(ts, '10 SECOND'). Units:
//     MILLISECOND, SECOND, MINUTE, HOUR, DAY; others are an error. String
//     arguments written by the user ('10 seconds') are left alone: decode
//     both with ParseInterval.
//
// Window table-valued functions: after FROM, JOIN or ',',
//
//	TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset]))
//	TABLE(HOP(TABLE t, DESCRIPTOR(ts), slide, size [, offset]))
//	TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), step, size [, offset]))
//	TABLE(SESSION(TABLE t [PARTITION BY k | PARTITION BY (k, ...)], DESCRIPTOR(ts), gap))
//
// (each interval INTERVAL 'n' UNIT as above) is replaced by the table name
// __weir_tvf_<i> (i counts from 0 within the statement) and described in
// Statement.WindowTVFs; Statement.WindowTVF(name) finds it from the
// ast.TableName. An alias after the closing parenthesis stays. Named
// arguments (DATA => ...) are not supported.
//
// Joins, anywhere:
//
//   - FULL [OUTER] JOIN becomes STRAIGHT_JOIN (MySQL has no full outer
//     join); the binder reads every STRAIGHT_JOIN of the AST as FULL, so
//     STRAIGHT_JOIN written by the user is an error (ErrUnsupported).
//   - JOIN t FOR SYSTEM_TIME AS OF x[.y] [AS a] (Flink's lookup join; t may
//     be dotted) becomes JOIN __weir_lookup_<i> [AS a], described in
//     Statement.Lookups (Statement.Lookup(name) finds it): the table, the
//     AS OF column as written and the table name's offset. FOR SYSTEM_TIME
//     AS OF anywhere else, or not followed by a column name, is an error.
//
// Intervals elsewhere: INTERVAL x UNITS with a plural unit (SECONDS,
// MINUTES, HOURS, DAYS, ...) becomes the singular; INTERVAL x MILLISECOND[S]
// becomes INTERVAL x*1000 MICROSECOND (MySQL has no MILLISECOND unit).
//
// Statements parsed by hand (Statement.Node is nil):
//
//   - SET 'key' = 'value', SET key = value (key: a string, a `quoted` name, or
//     adjacent words, dots and dashes; value: a string, unquoted, or the rest
//     of the statement as written, e.g. 10s or true) → Statement.Set. Bare
//     SET → Set{Key: ""} (list settings). RESET 'key' / RESET → Set{Reset:
//     true}. Every statement starting with SET is handled here, so MySQL
//     forms such as SET @x = 1 or SET NAMES are errors.
//   - SHOW JOBS, SHOW VIEWS, SHOW CHECKPOINTS [args] → Statement.Show
//     (other SHOW statements go to the TiDB parser).
//
// Not supported: CREATE MATERIALIZED VIEW, METADATA columns, PARTITIONED BY,
// BYTES/ARRAY/MAP/ROW types, TRY_CAST and reserved words used as unquoted
// names are left as written, so the TiDB parser reports a syntax error;
// named TVF arguments and computed columns other than PROCTIME() are
// rejected by the rewrite (ErrUnsupported).
//
// # Positions
//
// Errors are *SQLError values: "line L, column C: message", 1-based, columns
// counting characters, positioned in the whole script. TiDB parser errors
// become "syntax error near \"<rest of the line, ≤ 40 chars>\"" (or "syntax
// error at end of statement") at the offending token in the original text.
// SQLError wraps a kind: ErrSyntax, ErrUnsupported or ErrSemantic.
//
// For the binder: expression nodes (ast.ExprNode) carry the offset of their
// first token (OriginTextPosition), and *ast.SelectField its Offset, both in
// Statement.Rewritten; PositionOf and Statement.NodeOffset translate them
// (INTERVAL arguments rewritten to strings point at the INTERVAL keyword).
// Other nodes (ast.TableName, ast.ColumnDef, ast.ByItem, ...) have no
// position: use Statement.Locate / LocateOffset to find a name in the
// original text, and Statement.Errorf to report at an offset of it.
package sql
