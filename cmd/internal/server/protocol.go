package server

import (
	"errors"
	"math"
	"strconv"

	"github.com/weirsql/weir/connectors/format"
	"github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// The Trino client protocol's JSON documents, as far as Weir fills them in
// (io.trino.client.QueryResults and friends). Field names are the wire
// names; optional fields are omitted when empty, as Trino does.

// queryResults is the answer to POST /v1/statement and to every GET of a
// nextUri. Its rows ("data": an array of row arrays) are spliced into the
// encoded document by query.buildPage.
type queryResults struct {
	ID         string        `json:"id"`
	InfoURI    string        `json:"infoUri"`
	NextURI    string        `json:"nextUri,omitempty"`
	Columns    []wireColumn  `json:"columns,omitempty"`
	Stats      wireStats     `json:"stats"`
	Error      *wireError    `json:"error,omitempty"`
	Warnings   []wireWarning `json:"warnings"`
	UpdateType string        `json:"updateType,omitempty"`
}

type wireStats struct {
	State           string `json:"state"` // QUEUED, RUNNING, FINISHED, FAILED
	Queued          bool   `json:"queued"`
	Scheduled       bool   `json:"scheduled"`
	Nodes           int    `json:"nodes"`
	TotalSplits     int    `json:"totalSplits"`
	QueuedSplits    int    `json:"queuedSplits"`
	RunningSplits   int    `json:"runningSplits"`
	CompletedSplits int    `json:"completedSplits"`
	CPUTimeMillis   int64  `json:"cpuTimeMillis"`
	WallTimeMillis  int64  `json:"wallTimeMillis"`
	ElapsedMillis   int64  `json:"elapsedTimeMillis"`
	QueuedMillis    int64  `json:"queuedTimeMillis"`
	ProcessedRows   int64  `json:"processedRows"`
	ProcessedBytes  int64  `json:"processedBytes"`
	PeakMemoryBytes int64  `json:"peakMemoryBytes"`
	SpilledBytes    int64  `json:"spilledBytes"`
}

type wireColumn struct {
	Name          string        `json:"name"`
	Type          string        `json:"type"`
	TypeSignature typeSignature `json:"typeSignature"`
}

type typeSignature struct {
	RawType   string         `json:"rawType"`
	Arguments []typeArgument `json:"arguments"`
}

// typeArgument is a LONG argument (a precision, scale or length); Weir has
// no nested types.
type typeArgument struct {
	Kind  string `json:"kind"`
	Value int64  `json:"value"`
}

type wireError struct {
	Message       string         `json:"message"`
	ErrorCode     int            `json:"errorCode"`
	ErrorName     string         `json:"errorName"`
	ErrorType     string         `json:"errorType"`
	ErrorLocation *errorLocation `json:"errorLocation,omitempty"`
	FailureInfo   failureInfo    `json:"failureInfo"`
}

type errorLocation struct {
	LineNumber   int `json:"lineNumber"`
	ColumnNumber int `json:"columnNumber"`
}

type failureInfo struct {
	Type          string         `json:"type"`
	Message       string         `json:"message"`
	Suppressed    []any          `json:"suppressed"`
	Stack         []string       `json:"stack"`
	ErrorLocation *errorLocation `json:"errorLocation,omitempty"`
}

type wireWarning struct {
	WarningCode warningCode `json:"warningCode"`
	Message     string      `json:"message"`
}

type warningCode struct {
	Code int    `json:"code"`
	Name string `json:"name"`
}

// noticeWarning is the warning code of Weir's notices ("Table t created.",
// "Job j-... started.", late-row counts). Clients collect them as warnings.
var noticeWarning = warningCode{Code: 0x0700_0001, Name: "WEIR_NOTICE"}

// unboundedVarchar is the length Trino reports for VARCHAR without one.
const unboundedVarchar = math.MaxInt32

// columnOf maps a Weir column to Trino's type names:
//
//	BOOLEAN       boolean
//	INT           integer
//	BIGINT        bigint
//	DOUBLE        double
//	DECIMAL(p,s)  decimal(p,s)      values as strings ("12.50")
//	VARCHAR(n)    varchar(n)        VARCHAR: varchar (length 2147483647)
//	TIMESTAMP(3)  timestamp(3)      values as "2006-01-02 15:04:05.000" (UTC)
//	NULL          unknown           values null
func columnOf(name string, t types.Type) wireColumn {
	long := func(v int64) typeArgument { return typeArgument{Kind: "LONG", Value: v} }
	c := wireColumn{Name: name}
	switch t.Kind {
	case types.Bool:
		c.Type = "boolean"
	case types.Int:
		c.Type = "integer"
	case types.BigInt:
		c.Type = "bigint"
	case types.Double:
		c.Type = "double"
	case types.Decimal:
		c.Type = "decimal(" + strconv.Itoa(int(t.Precision)) + "," + strconv.Itoa(int(t.Scale)) + ")"
		c.TypeSignature = typeSignature{RawType: "decimal", Arguments: []typeArgument{long(int64(t.Precision)), long(int64(t.Scale))}}
	case types.Varchar:
		n := int64(t.Length)
		c.Type = "varchar"
		if n > 0 {
			c.Type = "varchar(" + strconv.FormatInt(n, 10) + ")"
		} else {
			n = unboundedVarchar
		}
		c.TypeSignature = typeSignature{RawType: "varchar", Arguments: []typeArgument{long(n)}}
	case types.Timestamp:
		c.Type = "timestamp(3)"
		c.TypeSignature = typeSignature{RawType: "timestamp", Arguments: []typeArgument{long(3)}}
	default:
		c.Type = "unknown"
	}
	if c.TypeSignature.RawType == "" {
		c.TypeSignature.RawType = c.Type
	}
	if c.TypeSignature.Arguments == nil {
		c.TypeSignature.Arguments = []typeArgument{}
	}
	return c
}

// opColumn is the row-kind column put first in an updating query's result.
var opColumn = columnOf("_op", types.Type{Kind: types.Varchar, Length: 2})

// appendValue appends v as the Trino JSON encoding of its type (see
// columnOf). It follows the value's kind, which is the column's.
func appendValue(dst []byte, v types.Value) []byte {
	switch v.Kind {
	case types.Null:
		return append(dst, "null"...)
	case types.Bool:
		if v.B() {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case types.Int, types.BigInt:
		return strconv.AppendInt(dst, v.I, 10)
	case types.Double:
		f := v.F()
		switch {
		case math.IsNaN(f):
			return append(dst, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(dst, `"Infinity"`...)
		case math.IsInf(f, -1):
			return append(dst, `"-Infinity"`...)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case types.Decimal:
		return format.AppendJSONString(dst, types.FormatDecimal(v.I, v.Scale))
	case types.Varchar:
		return format.AppendJSONString(dst, v.S)
	case types.Timestamp:
		return format.AppendJSONString(dst, types.FormatTimestamp(v.I))
	}
	return format.AppendJSONString(dst, v.String())
}

// appendRow appends one row as a JSON array; with op, its kind comes
// first.
func appendRow(dst []byte, row types.Row, op bool, kind types.RowKind) []byte {
	dst = append(dst, '[')
	if op {
		dst = append(dst, '"')
		dst = append(dst, kind.String()...)
		dst = append(dst, '"')
		if len(row) > 0 {
			dst = append(dst, ',')
		}
	}
	for i, v := range row {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendValue(dst, v)
	}
	return append(dst, ']')
}

// Trino error codes and names used by Weir (io.trino.spi.StandardErrorCode).
const (
	codeGenericUser     = 0
	codeSyntax          = 1
	codeAbandoned       = 2
	codeUserCanceled    = 3
	codeNotSupported    = 13
	codeNumericRange    = 19
	codeGenericInternal = 65536
	codeQueryQueueFull  = 131074 // INSUFFICIENT_RESOURCES range
	codeGenericExternal = 16777216
	errorTypeUser       = "USER_ERROR"
	errorTypeInternal   = "INTERNAL_ERROR"
	errorTypeExternal   = "EXTERNAL"
	errorTypeResources  = "INSUFFICIENT_RESOURCES"
	nameUserCanceled    = "USER_CANCELED"
	nameAbandonedQuery  = "ABANDONED_QUERY"
	nameQueryQueueFull  = "QUERY_QUEUE_FULL"
	nameGenericInternal = "GENERIC_INTERNAL_ERROR"
)

// errorOf turns what a statement returned into the protocol's error. It
// says who is to blame: the user's SQL (USER_ERROR with the line and
// column), the data (NUMERIC_VALUE_OUT_OF_RANGE), Weir itself
// (INTERNAL_ERROR) or, for anything else a running job reports (a
// connector that cannot reach Kafka or read a file), the environment
// (EXTERNAL).
func errorOf(err error) *wireError {
	e := &wireError{Message: err.Error()}
	var se *sql.SQLError
	switch {
	case errors.As(err, &se):
		loc := &errorLocation{LineNumber: se.Line, ColumnNumber: se.Col}
		e.ErrorLocation = loc
		e.FailureInfo.ErrorLocation = loc
		switch {
		case errors.Is(err, sql.ErrSyntax):
			e.ErrorCode, e.ErrorName, e.ErrorType = codeSyntax, "SYNTAX_ERROR", errorTypeUser
		case errors.Is(err, sql.ErrUnsupported):
			e.ErrorCode, e.ErrorName, e.ErrorType = codeNotSupported, "NOT_SUPPORTED", errorTypeUser
		case errors.Is(err, sql.ErrInternal):
			e.ErrorCode, e.ErrorName, e.ErrorType = codeGenericInternal, nameGenericInternal, errorTypeInternal
		default:
			e.ErrorCode, e.ErrorName, e.ErrorType = codeGenericUser, "GENERIC_USER_ERROR", errorTypeUser
		}
	case errors.Is(err, sql.ErrInternal):
		e.ErrorCode, e.ErrorName, e.ErrorType = codeGenericInternal, nameGenericInternal, errorTypeInternal
	case errors.Is(err, expr.ErrOverflow):
		e.ErrorCode, e.ErrorName, e.ErrorType = codeNumericRange, "NUMERIC_VALUE_OUT_OF_RANGE", errorTypeUser
	default:
		e.ErrorCode, e.ErrorName, e.ErrorType = codeGenericExternal, "GENERIC_EXTERNAL", errorTypeExternal
	}
	e.FailureInfo.Type = e.ErrorName
	e.FailureInfo.Message = e.Message
	e.FailureInfo.Suppressed = []any{}
	e.FailureInfo.Stack = []string{}
	return e
}

// newError builds an error without a location.
func newError(code int, name, typ, msg string) *wireError {
	return &wireError{Message: msg, ErrorCode: code, ErrorName: name, ErrorType: typ,
		FailureInfo: failureInfo{Type: name, Message: msg, Suppressed: []any{}, Stack: []string{}}}
}
