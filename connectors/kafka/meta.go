package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

// metaClient wraps the kafka-go client used for metadata, offsets and
// group commits. It is safe for concurrent use.
type metaClient struct {
	cfg    commonConfig
	client *kafka.Client
	tr     *kafka.Transport
}

func newMetaClient(cfg commonConfig) *metaClient {
	tr := &kafka.Transport{
		DialTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second,
		MetadataTTL: 2 * time.Second,
		ClientID:    "weir",
	}
	return &metaClient{
		cfg: cfg,
		tr:  tr,
		client: &kafka.Client{
			Addr:      kafka.TCP(cfg.Brokers...),
			Transport: tr,
			Timeout:   10 * time.Second,
		},
	}
}

func (m *metaClient) close() { m.tr.CloseIdleConnections() }

// errNoTopic is returned by partitions when the topic does not exist.
var errNoTopic = errors.New("topic does not exist")

// partitions returns the sorted partition ids of the topic.
func (m *metaClient) partitions(ctx context.Context) ([]int, error) {
	resp, err := m.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{m.cfg.Topic}})
	if err != nil {
		return nil, err
	}
	for _, t := range resp.Topics {
		if t.Name != m.cfg.Topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return nil, errNoTopic
			}
			return nil, t.Error
		}
		if len(t.Partitions) == 0 {
			return nil, errNoTopic
		}
		ps := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ps = append(ps, p.ID)
		}
		sort.Ints(ps)
		return ps, nil
	}
	return nil, errNoTopic
}

// partitionsRetry looks the topic up with bounded retries while the
// brokers cannot be reached, creating it if asked to.
func (m *metaClient) partitionsRetry(create bool, numPartitions int) ([]int, error) {
	const attempts = 5
	backoff := 200 * time.Millisecond
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			time.Sleep(backoff)
			backoff *= 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ps, err := m.partitions(ctx)
		if err == errNoTopic && create {
			err = m.createTopic(ctx, numPartitions)
			if err == nil {
				ps, err = m.partitions(ctx)
			}
		}
		cancel()
		if err == nil {
			return ps, nil
		}
		if err == errNoTopic {
			return nil, fmt.Errorf("table %s: topic %s does not exist (set 'topic.create' = 'true' to create it)", m.cfg.Table, m.cfg.Topic)
		}
		var kerr kafka.Error
		if errors.As(err, &kerr) && !kerr.Temporary() {
			return nil, fmt.Errorf("table %s: topic %s: %v", m.cfg.Table, m.cfg.Topic, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("table %s: cannot reach Kafka at %s: %v", m.cfg.Table, m.cfg.Servers(), lastErr)
}

func (m *metaClient) createTopic(ctx context.Context, n int) error {
	resp, err := m.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: m.cfg.Topic, NumPartitions: n, ReplicationFactor: 1,
	}}})
	if err != nil {
		return err
	}
	if e := resp.Errors[m.cfg.Topic]; e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %v", m.cfg.Topic, e)
	}
	return nil
}

// offsetKind selects what listOffsets asks for.
type offsetKind int

const (
	offEarliest offsetKind = iota
	offLatest
	offTime
)

// listOffsets returns, per partition, the earliest or latest offset or the
// first offset at or after ts (milliseconds; the latest offset when no
// record is that recent). With readCommitted, latest is the last stable
// offset.
func (m *metaClient) listOffsets(ctx context.Context, parts []int, kind offsetKind, ts int64, readCommitted bool) (map[int]int64, error) {
	if len(parts) == 0 {
		return map[int]int64{}, nil
	}
	reqs := make([]kafka.OffsetRequest, 0, len(parts))
	for _, p := range parts {
		switch kind {
		case offEarliest:
			reqs = append(reqs, kafka.FirstOffsetOf(p))
		case offLatest:
			reqs = append(reqs, kafka.LastOffsetOf(p))
		case offTime:
			reqs = append(reqs, kafka.OffsetRequest{Partition: p, Timestamp: ts})
		}
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{m.cfg.Topic: reqs}}
	if readCommitted {
		req.IsolationLevel = kafka.ReadCommitted
	}
	resp, err := m.client.ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, len(parts))
	var latest map[int]int64
	for _, po := range resp.Topics[m.cfg.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", po.Partition, po.Error)
		}
		switch kind {
		case offEarliest:
			out[po.Partition] = po.FirstOffset
		case offLatest:
			out[po.Partition] = po.LastOffset
		case offTime:
			off := int64(-1)
			for o := range po.Offsets {
				if o >= 0 && (off < 0 || o < off) {
					off = o
				}
			}
			if off < 0 {
				if latest == nil {
					if latest, err = m.listOffsets(ctx, parts, offLatest, 0, readCommitted); err != nil {
						return nil, err
					}
				}
				off = latest[po.Partition]
			}
			out[po.Partition] = off
		}
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("partition %d: no offset in the broker's answer", p)
		}
	}
	return out, nil
}

// listOffsetsRetry retries listOffsets with backoff until ctx ends.
func (m *metaClient) listOffsetsRetry(ctx context.Context, parts []int, kind offsetKind, ts int64, readCommitted bool) (map[int]int64, error) {
	backoff := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		offs, err := m.listOffsets(cctx, parts, kind, ts, readCommitted)
		cancel()
		if err == nil {
			return offs, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var kerr kafka.Error
		if errors.As(err, &kerr) && !kerr.Temporary() {
			return nil, fmt.Errorf("topic %s: list offsets: %v", m.cfg.Topic, err)
		}
		if !sleepCtx(ctx, backoff) {
			return nil, ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// groupOffsets returns the committed offsets of group for parts; a
// partition without a committed offset is absent from the map.
func (m *metaClient) groupOffsets(ctx context.Context, group string, parts []int) (map[int]int64, error) {
	resp, err := m.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{m.cfg.Topic: parts}})
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[m.cfg.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}

// commitOffsets commits offs to group, for monitoring only.
func (m *metaClient) commitOffsets(ctx context.Context, group string, offs map[int]int64) error {
	if len(offs) == 0 {
		return nil
	}
	var cs []kafka.OffsetCommit
	for p, o := range offs {
		cs = append(cs, kafka.OffsetCommit{Partition: p, Offset: o})
	}
	resp, err := m.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{m.cfg.Topic: cs},
	})
	if err != nil {
		return err
	}
	for _, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return p.Error
			}
		}
	}
	return nil
}

// sleepCtx sleeps d or until ctx ends; it reports whether it slept fully.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
