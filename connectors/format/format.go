package format

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/weirsql/weir/sql/types"
)

// Decoder turns one record (a JSON line, a CSV line, a Kafka message value)
// into a row. len(row) must equal the schema length. Decode overwrites every
// column (absent fields become NULL). On error the row's contents are
// undefined and the row may be reused for the next record.
//
// A Decoder keeps scratch buffers: it is not safe for concurrent use; give
// each subtask its own. The data slice is not retained: strings in the row
// are copies.
type Decoder interface {
	Decode(data []byte, row types.Row) error
}

// Encoder appends the encoding of one row (without a trailing newline) to
// dst and returns the extended slice. Like a Decoder it is not safe for
// concurrent use.
type Encoder interface {
	Encode(dst []byte, row types.Row, kind types.RowKind) ([]byte, error)
}

// FieldError reports a value that could not be converted to its column's
// type (or a column-specific problem such as an out-of-range number).
type FieldError struct {
	Column string
	Msg    string
}

func (e *FieldError) Error() string { return "column " + e.Column + ": " + e.Msg }

// SyntaxError reports malformed input. Offset is the 0-based index of the
// offending byte within the record.
type SyntaxError struct {
	Format string // "JSON" or "CSV"
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "invalid " + e.Format + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Format names.
const (
	JSON = "json"
	CSV  = "csv"
)

// Formats lists the supported format names.
func Formats() []string { return []string{CSV, JSON} }

// Option keys understood by New.
const (
	OptJSONPathPrefix = "json.path."       // json.path.<column> = a.b.c
	OptIncludeOp      = "include-op"       // encoders: add the row kind (+I, -U, ...)
	OptCSVDelimiter   = "csv.delimiter"    // one character; "\t" or "tab" for a tab
	OptCSVNullLiteral = "csv.null-literal" // unquoted text read/written as NULL; default empty
)

// OptionKeys returns the option keys New accepts for format and schema, so
// a connector can validate a table's options (lower-cased, as in
// connectors.Table). It returns nil for an unknown format.
func OptionKeys(format string, schema *types.Schema) []string {
	switch strings.ToLower(format) {
	case JSON:
		keys := []string{OptIncludeOp}
		for _, c := range schema.Cols {
			keys = append(keys, OptJSONPathPrefix+strings.ToLower(c.Name))
		}
		return keys
	case CSV:
		return []string{OptIncludeOp, OptCSVDelimiter, OptCSVNullLiteral}
	}
	return nil
}

// JSONOptions configure the JSON decoder and encoder.
type JSONOptions struct {
	// Paths maps a column name (case-insensitive) to a nested field path,
	// e.g. "user.address.city" → []string{"user", "address", "city"}.
	// Columns not listed read the top-level field of their own name.
	Paths map[string][]string
	// IncludeOp makes the encoder write an "_op" field ("+I", "-U", "+U",
	// "-D") before the columns.
	IncludeOp bool
}

// CSVOptions configure the CSV decoder and encoder.
type CSVOptions struct {
	Delimiter   byte   // default ','
	NullLiteral string // unquoted field text meaning NULL; default ""
	// IncludeOp makes the encoder write the row kind as an extra first field.
	IncludeOp bool
}

// New builds a decoder and an encoder for format ("json" or "csv") over
// schema, reading the format's options (see OptionKeys) from options and
// ignoring all other keys.
func New(format string, schema *types.Schema, options map[string]string) (Decoder, Encoder, error) {
	switch strings.ToLower(format) {
	case JSON:
		o, err := ParseJSONOptions(schema, options)
		if err != nil {
			return nil, nil, err
		}
		dec, err := NewJSONDecoder(schema, o)
		if err != nil {
			return nil, nil, err
		}
		return dec, NewJSONEncoder(schema, o), nil
	case CSV:
		o, err := ParseCSVOptions(options)
		if err != nil {
			return nil, nil, err
		}
		dec, err := NewCSVDecoder(schema, o)
		if err != nil {
			return nil, nil, err
		}
		enc, err := NewCSVEncoder(schema, o)
		if err != nil {
			return nil, nil, err
		}
		return dec, enc, nil
	}
	return nil, nil, fmt.Errorf("unknown format '%s' (valid: %s)", format, strings.Join(Formats(), ", "))
}

func parseBoolOption(options map[string]string, key string) (bool, error) {
	v, ok := options[key]
	if !ok {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("option '%s' must be 'true' or 'false', got '%s'", key, v)
}

// ParseJSONOptions reads json.path.<col> and include-op.
func ParseJSONOptions(schema *types.Schema, options map[string]string) (JSONOptions, error) {
	var o JSONOptions
	var err error
	if o.IncludeOp, err = parseBoolOption(options, OptIncludeOp); err != nil {
		return o, err
	}
	var keys []string
	for k := range options {
		if strings.HasPrefix(strings.ToLower(k), OptJSONPathPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		col := k[len(OptJSONPathPrefix):]
		if schema.Index(col) < 0 {
			return o, fmt.Errorf("option '%s': no column named '%s'", k, col)
		}
		path, err := splitPath(options[k])
		if err != nil {
			return o, fmt.Errorf("option '%s': %v", k, err)
		}
		if o.Paths == nil {
			o.Paths = map[string][]string{}
		}
		o.Paths[col] = path
	}
	return o, nil
}

func splitPath(p string) ([]string, error) {
	p = strings.TrimPrefix(strings.TrimSpace(p), "$.")
	if p == "" {
		return nil, fmt.Errorf("empty path")
	}
	parts := strings.Split(p, ".")
	for _, s := range parts {
		if s == "" {
			return nil, fmt.Errorf("empty segment in path '%s'", p)
		}
	}
	return parts, nil
}

// ParseCSVOptions reads csv.delimiter, csv.null-literal and include-op.
func ParseCSVOptions(options map[string]string) (CSVOptions, error) {
	o := CSVOptions{Delimiter: ','}
	var err error
	if o.IncludeOp, err = parseBoolOption(options, OptIncludeOp); err != nil {
		return o, err
	}
	if v, ok := options[OptCSVDelimiter]; ok {
		switch v {
		case `\t`, "tab", "TAB":
			v = "\t"
		}
		if len(v) != 1 || v[0] == '"' || v[0] == '\r' || v[0] == '\n' || v[0] >= 0x80 {
			return o, fmt.Errorf("option '%s' must be one ASCII character other than a quote or newline, got '%s'", OptCSVDelimiter, v)
		}
		o.Delimiter = v[0]
	}
	o.NullLiteral = options[OptCSVNullLiteral]
	return o, nil
}

// quoteRaw renders a raw input value for an error message, shortened.
func quoteRaw(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

func cannotDecode(col string, raw []byte, t types.Type) error {
	return &FieldError{Column: col, Msg: "cannot decode " + quoteRaw(raw) + " as " + t.String()}
}
