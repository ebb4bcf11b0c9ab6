// Package forward publishes the outbox to Kafka: leads stored by the
// gateway, each written to the outbox in the transaction that stored it,
// go to the case system's topic (qiao.leads.v1), keyed by lead ID, with
// every in-sync replica acknowledging each write before the message is
// marked sent.
//
// While the broker is unreachable messages wait in the outbox and the
// forwarder retries with backoff; none is lost. Delivery is at least once:
// a write acknowledged by the broker whose marking then fails is published
// again, with the same key, so consumers keep the latest message per lead
// ID (the topic can be compacted).
//
// It is not the lead store nor the model runner: it reads the outbox
// through the Outbox interface and knows nothing of what a message holds.
package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/qiao-exchange/qiao/store"
)

// DefaultTopic is the topic leads are published to.
const DefaultTopic = "qiao.leads.v1"

// Outbox is where messages wait; *store.DB is one (with MarkSent and
// MarkFailed run in a transaction by Store).
type Outbox interface {
	// Pending returns up to limit unsent messages, oldest first.
	Pending(ctx context.Context, limit int) ([]store.Message, error)
	// InTx runs fn in a read-write transaction.
	InTx(ctx context.Context, fn func(tx *store.Tx) error) error
}

var _ Outbox = (*store.DB)(nil)

// Config configures a Forwarder.
type Config struct {
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string
	// Outbox is where messages wait. Required.
	Outbox Outbox
	// Batch is the most messages written at once; 100 when 0.
	Batch int
	// Poll is how often the outbox is read when it was empty; 1 s when 0.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed write, which
	// doubles from MinBackoff (500 ms when 0) up to MaxBackoff (30 s when
	// 0), with jitter.
	MinBackoff, MaxBackoff time.Duration
	// WriteTimeout bounds one write; 10 s when 0.
	WriteTimeout time.Duration
	// Registerer takes the forwarder's metrics (qiao_forward_*); nil
	// registers none.
	Registerer prometheus.Registerer
	// Logger receives failures and recoveries; nil discards them.
	Logger *slog.Logger
}

// Forwarder publishes the outbox. Run it in one goroutine per gateway.
type Forwarder struct {
	cfg     Config
	w       *kafka.Writer
	log     *slog.Logger
	kick    chan struct{}
	sent    prometheus.Counter
	failed  prometheus.Counter
	backlog prometheus.Gauge
}

// New returns a Forwarder for cfg.
func New(cfg Config) (*Forwarder, error) {
	if len(cfg.Brokers) == 0 || cfg.Outbox == nil {
		return nil, errors.New("forward: Brokers and Outbox are required")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{
		cfg: cfg,
		w: &kafka.Writer{
			Addr:                   kafka.TCP(cfg.Brokers...),
			Balancer:               &kafka.Hash{}, // one lead, one partition: its messages stay in order
			RequiredAcks:           kafka.RequireAll,
			Async:                  false,
			MaxAttempts:            1, // the forwarder retries, with backoff, and keeps the outbox
			BatchSize:              cfg.Batch,
			BatchTimeout:           time.Millisecond,
			WriteTimeout:           cfg.WriteTimeout,
			AllowAutoTopicCreation: false,
		},
		log:  cfg.Logger,
		kick: make(chan struct{}, 1),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qiao_forward_messages_sent_total", Help: "Outbox messages published to Kafka.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qiao_forward_write_failures_total", Help: "Writes to Kafka that failed; their messages wait in the outbox.",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "qiao_forward_backlog_messages", Help: "Messages read from the outbox in the last round and not yet published.",
		}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{f.sent, f.failed, f.backlog} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("forward: registering metrics: %w", err)
			}
		}
	}
	return f, nil
}

// Kick wakes the forwarder at once, e.g. after leads were stored.
func (f *Forwarder) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run publishes the outbox until ctx ends, then closes the writer. It
// returns nil when ctx ended.
func (f *Forwarder) Run(ctx context.Context) error {
	defer f.w.Close()
	backoff := time.Duration(0)
	for {
		n, err := f.round(ctx)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = min(max(2*backoff, f.cfg.MinBackoff), f.cfg.MaxBackoff)
			wait = backoff/2 + rand.N(backoff/2+1)
			f.log.LogAttrs(ctx, slog.LevelWarn, "forwarding leads failed; they wait in the outbox",
				slog.Any("err", err), slog.Duration("retry_in", wait))
		case n > 0:
			if backoff > 0 {
				f.log.LogAttrs(ctx, slog.LevelInfo, "forwarding leads resumed")
			}
			backoff = 0
			continue // more may wait
		default:
			backoff = 0
			wait = f.cfg.Poll
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-f.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// round publishes one batch of pending messages and returns how many.
func (f *Forwarder) round(ctx context.Context) (int, error) {
	ms, err := f.cfg.Outbox.Pending(ctx, f.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("forward: reading the outbox: %w", err)
	}
	f.backlog.Set(float64(len(ms)))
	if len(ms) == 0 {
		return 0, nil
	}
	// Messages are grouped by topic: a kafka.Writer without a topic takes
	// each message's own.
	msgs := make([]kafka.Message, len(ms))
	seqs := make([]int64, len(ms))
	for i, m := range ms {
		msgs[i] = kafka.Message{
			Topic: m.Topic, Key: []byte(m.Key), Value: m.Value,
			Headers: []kafka.Header{{Key: "qiao-outbox-seq", Value: []byte(strconv.FormatInt(m.Seq, 10))}},
		}
		seqs[i] = m.Seq
	}
	wctx, cancel := context.WithTimeout(ctx, f.cfg.WriteTimeout)
	werr := f.w.WriteMessages(wctx, msgs...)
	cancel()
	if werr != nil {
		f.failed.Inc()
		// Record the failure, without failing the round on a store error:
		// the messages are still pending either way.
		_ = f.cfg.Outbox.InTx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			return tx.MarkFailed(ctx, seqs, werr.Error())
		})
		return 0, fmt.Errorf("forward: writing %d messages: %w", len(msgs), werr)
	}
	if err := f.cfg.Outbox.InTx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.MarkSent(ctx, seqs)
	}); err != nil {
		// Published but not marked: they go again (at least once).
		return 0, fmt.Errorf("forward: marking %d published messages: %w", len(msgs), err)
	}
	f.sent.Add(float64(len(msgs)))
	f.backlog.Set(0)
	return len(msgs), nil
}
