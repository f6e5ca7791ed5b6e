package devbroker

import (
	"context"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	b, err := StartWith(dir, "127.0.0.1:0", 2, Options{Topics: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	w := &kafkago.Writer{Addr: kafkago.TCP(addr), Topic: "p", RequiredAcks: kafkago.RequireAll,
		Balancer: &kafkago.Murmur2Balancer{}, BatchTimeout: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafkago.Message{Key: []byte("k"), Value: []byte("v1")},
		kafkago.Message{Key: []byte("k"), Value: []byte("v2")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}

	// restart on the same port and directory
	b, err = Start(dir, addr, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Addr() != addr {
		t.Fatalf("restarted on %s, was %s", b.Addr(), addr)
	}
	p := (&kafkago.Murmur2Balancer{}).Balance(kafkago.Message{Key: []byte("k")}, 0, 1)
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, Topic: "p", Partition: p, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	var got []string
	for len(got) < 2 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m.Key)+"="+string(m.Value))
	}
	if strings.Join(got, ",") != "k=v1,k=v2" {
		t.Fatalf("got %v", got)
	}
}

func TestAutoCreate(t *testing.T) {
	b, err := Start(t.TempDir(), "localhost:0", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w := &kafkago.Writer{Addr: kafkago.TCP(b.Addr()), Topic: "auto", RequiredAcks: kafkago.RequireAll,
		AllowAutoTopicCreation: true, BatchTimeout: time.Millisecond}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err2 error
	for i := 0; i < 20; i++ { // the first metadata request creates the topic
		if err2 = w.WriteMessages(ctx, kafkago.Message{Value: []byte("x")}); err2 == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	if n := len(b.Cluster().PartitionInfos("auto")); n != 3 {
		t.Fatalf("auto-created topic has %d partitions", n)
	}
}

func TestParseListen(t *testing.T) {
	if p, err := ParseListen("127.0.0.1:9092"); err != nil || p != 9092 {
		t.Fatal(p, err)
	}
	for _, a := range []string{"0.0.0.0:9092", ":9092", "10.1.2.3:9092", "example.com:9092"} {
		if _, err := ParseListen(a); err == nil || !strings.Contains(err.Error(), "refusing to listen") {
			t.Errorf("%s: %v", a, err)
		}
	}
	if _, err := ParseListen("127.0.0.1"); err == nil {
		t.Error("no port accepted")
	}
}
