package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestKafkaRefusesNonLoopback(t *testing.T) {
	var out, errb bytes.Buffer
	code := cmdKafka(context.Background(), []string{"--listen", "0.0.0.0:9092"}, &env{stdout: &out, stderr: &errb})
	if code != exitUsage || !strings.Contains(errb.String(), "refusing to listen on '0.0.0.0:9092'") {
		t.Fatalf("code %d stderr %q", code, errb.String())
	}
}

func TestKafkaRunsUntilCancelled(t *testing.T) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- cmdKafka(ctx, []string{"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--topic", "a", "--partitions", "2"}, &env{stdout: &out, stderr: &errb})
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("code %d stderr %q", code, errb.String())
	}
	if !strings.Contains(out.String(), "Development Kafka broker (kfake) listening on 127.0.0.1:") || !strings.Contains(out.String(), "not for production") {
		t.Fatalf("stdout %q", out.String())
	}
}
