package forward

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/qiao-exchange/qiao/store"
)

// The broker is kfake, a Kafka-protocol broker in Go on loopback: no Apache
// Kafka can run here. kafka-go talks to it over the real wire protocol.

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startBroker(t *testing.T, port int) *kfake.Cluster {
	t.Helper()
	var c *kfake.Cluster
	var err error
	for range 50 { // the port may linger after a close
		if c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(3, DefaultTopic)); err == nil {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kfake on port %d: %v", port, err)
	return nil
}

func enqueue(t *testing.T, db *store.DB, keys ...string) {
	t.Helper()
	if err := db.InTx(t.Context(), func(tx *store.Tx) error {
		for _, k := range keys {
			if _, err := tx.Enqueue(t.Context(), store.Message{Topic: DefaultTopic, Key: k, Value: []byte("lead " + k)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// consume reads n messages of the topic from every partition.
func consume(t *testing.T, addr string, n int) map[string]string {
	t.Helper()
	got := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for p := 0; p < 3 && len(got) < n; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: DefaultTopic, Partition: p, MaxWait: 100 * time.Millisecond})
		for len(got) < n && time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break // this partition has no more
			}
			if _, dup := got[string(m.Key)]; dup {
				t.Errorf("message %s delivered twice", m.Key)
			}
			got[string(m.Key)] = string(m.Value)
		}
		r.Close()
	}
	return got
}

func waitPending(t *testing.T, db *store.DB, want int) {
	t.Helper()
	for range 400 {
		ms, err := db.Pending(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ms, _ := db.Pending(t.Context(), 100)
	t.Fatalf("%d messages pending, want %d", len(ms), want)
}

// TestForward: outbox messages reach the broker keyed by lead ID and are
// marked sent; while the broker is down they wait, the failures are
// recorded, and once it is back every one is published — none lost.
func TestForward(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	db, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	port := freePort(t)
	broker := startBroker(t, port)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	f, err := New(Config{Brokers: []string{addr}, Outbox: db, Poll: 50 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, WriteTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	enqueue(t, db, "lead-1", "lead-2", "lead-3")
	f.Kick()
	waitPending(t, db, 0)
	got := consume(t, addr, 3)
	if len(got) != 3 || got["lead-2"] != "lead lead-2" {
		t.Fatalf("consumed %v", got)
	}

	// The broker goes away: leads wait, and the failures are recorded.
	broker.Close()
	enqueue(t, db, "lead-4", "lead-5")
	f.Kick()
	for i := 0; ; i++ {
		ms, err := db.Pending(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 2 && ms[0].Attempts > 0 && ms[0].LastError != "" {
			break
		}
		if i == 400 {
			t.Fatalf("no failure recorded while the broker is down: %+v", ms)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// It comes back on the same address: both are published.
	broker = startBroker(t, port)
	defer broker.Close()
	waitPending(t, db, 0)
	got = consume(t, addr, 2)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "lead-4,lead-5" {
		t.Fatalf("after the outage consumed %v", keys)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
