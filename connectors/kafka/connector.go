package kafka

import (
	"fmt"
	"strings"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/format"
)

// Name is the connector name used in 'connector' = 'kafka'.
const Name = "kafka"

func init() { connectors.Register(Connector{}) }

// Connector is the Kafka connector.
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return Name }

// NewSource implements connectors.Connector.
func (Connector) NewSource(t *connectors.Table) (connectors.SourceFactory, error) {
	return newSourceFactory(t)
}

// sinkFactory builds the sink; it is set by the sink's file (sink*.go) in
// its init, so that source and sink can be written independently.
var sinkFactory func(t *connectors.Table) (connectors.SinkFactory, error)

// NewSink implements connectors.Connector.
func (Connector) NewSink(t *connectors.Table) (connectors.SinkFactory, error) {
	if sinkFactory == nil {
		return nil, fmt.Errorf("table %s: the kafka connector cannot be written yet", t.Name)
	}
	return sinkFactory(t)
}

// Format names understood by the Kafka connector besides format.Formats():
// raw gives the value bytes as the one VARCHAR column.
const formatRaw = "raw"

// Option keys common to source and sink.
const (
	OptBootstrap = "properties.bootstrap.servers"
	OptTopic     = "topic"
	OptFormat    = "format"
	OptKeyFormat = "key.format"
	OptKeyFields = "key.fields"
)

// commonConfig holds the options shared by the Kafka source and sink,
// validated. It does not check for unknown options: each side calls
// t.CheckOptions(commonOptionKeys(t) + its own keys).
type commonConfig struct {
	Table     string            // table name, for messages
	Brokers   []string          // host:port, at least one
	Topic     string            // never empty
	Format    string            // lower-cased: json, csv or raw
	KeyFormat string            // lower-cased, "" if none
	KeyFields []string          // column names from key.fields, "" if none
	Options   map[string]string // the table's options (for format.New)
}

// Servers returns the bootstrap servers as written (comma-separated), for
// error messages.
func (c commonConfig) Servers() string { return strings.Join(c.Brokers, ",") }

// commonOptionKeys lists the option keys parseCommon understands, including
// the value format's own keys (json.path.<col>, csv.delimiter, ...).
func commonOptionKeys(t *connectors.Table) []string {
	keys := []string{OptBootstrap, OptTopic, OptFormat, OptKeyFormat, OptKeyFields}
	keys = append(keys, format.OptionKeys(strings.ToLower(t.Option(OptFormat, "")), &t.Schema)...)
	return keys
}

// parseCommon reads and validates the options common to source and sink.
func parseCommon(t *connectors.Table) (commonConfig, error) {
	c := commonConfig{Table: t.Name, Options: t.Options}
	for _, s := range strings.Split(t.Option(OptBootstrap, ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Brokers = append(c.Brokers, s)
		}
	}
	if len(c.Brokers) == 0 {
		return c, fmt.Errorf("table %s: connector 'kafka' needs option '%s' (e.g. 'localhost:9092')", t.Name, OptBootstrap)
	}
	c.Topic = strings.TrimSpace(t.Option(OptTopic, ""))
	if c.Topic == "" {
		return c, fmt.Errorf("table %s: connector 'kafka' needs option '%s'", t.Name, OptTopic)
	}
	c.Format = strings.ToLower(strings.TrimSpace(t.Option(OptFormat, "")))
	valid := strings.Join(append(format.Formats(), formatRaw), ", ")
	switch c.Format {
	case "":
		return c, fmt.Errorf("table %s: connector 'kafka' needs option '%s' (%s)", t.Name, OptFormat, valid)
	case formatRaw, format.JSON, format.CSV:
	default:
		return c, fmt.Errorf("table %s: unknown format '%s' (valid: %s)", t.Name, c.Format, valid)
	}
	c.KeyFormat = strings.ToLower(strings.TrimSpace(t.Option(OptKeyFormat, "")))
	switch c.KeyFormat {
	case "", formatRaw, format.JSON, format.CSV:
	default:
		return c, fmt.Errorf("table %s: unknown key.format '%s' (valid: %s)", t.Name, c.KeyFormat, valid)
	}
	if v := strings.TrimSpace(t.Option(OptKeyFields, "")); v != "" {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			f = strings.TrimSpace(f)
			if t.Schema.Index(f) < 0 {
				return c, fmt.Errorf("table %s: option '%s': no column named '%s'", t.Name, OptKeyFields, f)
			}
			c.KeyFields = append(c.KeyFields, f)
		}
	}
	return c, nil
}
