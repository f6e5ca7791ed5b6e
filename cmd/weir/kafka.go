package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/weirsql/weir/connectors/kafka/devbroker"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func kafkaHelp() string {
	return `Usage: weir kafka [--data DIR] [--listen 127.0.0.1:9092] [--partitions 4] [--topic NAME ...]

Starts a development Kafka broker (kfake, a Kafka-protocol implementation)
in this process, so you can try Weir with Kafka without installing Kafka.
Records, topics and group offsets persist in the data directory. It listens
on 127.0.0.1 only and runs until Ctrl-C. Not for production: one node, no
replication, no authentication.

Flags:
  --data DIR         data directory (default ./weir-kafka-data)
  --listen ADDR      127.0.0.1:PORT to listen on (default 127.0.0.1:9092)
  --partitions N     partitions of new topics (default 4)
  --topic NAME       create topic NAME at start if missing (repeatable)

Clients that auto-create topics (kcat -P, most producers) get a missing
topic created with --partitions partitions. Weir's Kafka sink never
auto-creates: create its topics with --topic, or set 'topic.create' =
'true' on the sink table.
`
}

type kafkaOptions struct {
	data       string
	listen     string
	partitions int
	topics     stringList
}

func parseKafkaArgs(args []string) (kafkaOptions, error) {
	o := kafkaOptions{}
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.data, "data", "./weir-kafka-data", "")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9092", "")
	fs.IntVar(&o.partitions, "partitions", 4, "")
	fs.Var(&o.topics, "topic", "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.partitions < 1 || o.partitions > 10000 {
		return o, fmt.Errorf("--partitions must be between 1 and 10000, got %d", o.partitions)
	}
	if _, err := devbroker.ParseListen(o.listen); err != nil {
		return o, err
	}
	return o, nil
}

// cmdKafka runs the development broker until ctx is cancelled (Ctrl-C).
func cmdKafka(ctx context.Context, args []string, e *env) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(e.stdout, kafkaHelp())
		return exitOK
	}
	o, err := parseKafkaArgs(args)
	if err != nil {
		fmt.Fprintf(e.stderr, "weir kafka: %v\nRun 'weir help kafka' for usage.\n", err)
		return exitUsage
	}
	b, err := devbroker.StartWith(o.data, o.listen, o.partitions, devbroker.Options{Topics: o.topics})
	if err != nil {
		fmt.Fprintf(e.stderr, "weir kafka: %v\n", err)
		return exitError
	}
	fmt.Fprintf(e.stdout, "Development Kafka broker (kfake) listening on %s, data in %s — not for production\n", b.Addr(), o.data)
	if len(o.topics) > 0 {
		fmt.Fprintf(e.stdout, "Topics: %s\n", strings.Join(o.topics, ", "))
	}
	fmt.Fprintln(e.stdout, "Press Ctrl-C to stop.")
	<-ctx.Done()
	if err := b.Close(); err != nil {
		fmt.Fprintf(e.stderr, "weir kafka: closing: %v\n", err)
		return exitError
	}
	fmt.Fprintln(e.stdout, "Broker stopped.")
	return exitOK
}
