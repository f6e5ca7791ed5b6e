// Package devbroker runs a development Kafka broker in-process: kfake
// (github.com/twmb/franz-go/pkg/kfake), a Kafka-protocol implementation,
// persisted to a data directory and listening on 127.0.0.1 only. It is for
// trying Weir and for tests — not for production (one node, no
// replication, no authentication).
package devbroker

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running development broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
	dir  string
	once sync.Once
}

// Options tune Start beyond its arguments.
type Options struct {
	// Topics are created at start (with the default partition count) when
	// they do not exist yet.
	Topics []string
	// NoAutoCreate makes the broker refuse to create topics on demand
	// (by default a producer's or consumer's metadata request may create
	// one, as with Kafka's auto.create.topics.enable).
	NoAutoCreate bool
}

// Start runs a broker persisted to dir, listening on addr (host:port; the
// host must be 127.0.0.1 or localhost, port 0 picks a free port), whose
// new topics get partitions partitions.
func Start(dir, addr string, partitions int) (*Broker, error) {
	return StartWith(dir, addr, partitions, Options{})
}

// StartWith is Start with options.
func StartWith(dir, addr string, partitions int, o Options) (*Broker, error) {
	port, err := ParseListen(addr)
	if err != nil {
		return nil, err
	}
	if partitions < 1 {
		return nil, fmt.Errorf("devbroker: partitions must be at least 1, got %d", partitions)
	}
	if dir == "" {
		return nil, fmt.Errorf("devbroker: a data directory is needed")
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(dir),
		kfake.DefaultNumPartitions(partitions),
	}
	if !o.NoAutoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("devbroker: starting on %s with data in %s: %v", addr, dir, err)
	}
	b := &Broker{c: c, dir: dir}
	if addrs := c.ListenAddrs(); len(addrs) > 0 {
		b.addr = addrs[0]
	}
	for _, t := range o.Topics {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if c.TopicInfo(t) != nil {
			continue
		}
		if err := c.CreateTopic(t, int32(partitions), nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("devbroker: creating topic %s: %v", t, err)
		}
	}
	return b, nil
}

// ParseListen checks that addr is a loopback host:port that kfake can
// listen on (127.0.0.1 or localhost) and returns the port.
func ParseListen(addr string) (int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("listen address '%s': %v (want 127.0.0.1:PORT)", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("listen address '%s': bad port '%s'", addr, ps)
	}
	switch host {
	case "127.0.0.1", "localhost":
		return port, nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return 0, fmt.Errorf("listen address '%s': the development broker listens on 127.0.0.1 only", addr)
	}
	return 0, fmt.Errorf("refusing to listen on '%s': the development broker has no authentication and is for this machine only; use 127.0.0.1:PORT", addr)
}

// Addr is the host:port clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Dir is the data directory.
func (b *Broker) Dir() string { return b.dir }

// Cluster exposes the kfake cluster (fault injection in tests).
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the broker and flushes its data directory. It is safe to
// call more than once.
func (b *Broker) Close() error {
	b.once.Do(func() { b.c.Close() })
	return nil
}
