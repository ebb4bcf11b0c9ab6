package main

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/gateway/gatewaytest"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// benchRows is the size of a benchmarked batch.
const benchRows = 1000

// BenchmarkPush measures signed 1,000-row police.deaths pushes through
// `qiao serve` on loopback (gRPC on GM-TLS; open, validate, evidence,
// warehouse, commit, publish), each op sealing its batch, signing the call
// and waiting for the answer; beside it, the cost of sealing and signing the
// same batches alone, without a server. Pushes run 8 at a time, as several
// adapters of a county would.
func BenchmarkPush(b *testing.B) {
	d := serveDeploymentWith(b, map[string]string{
		"limits.max_message_bytes":   strconv.Itoa(16 << 20),
		"limits.requests_per_second": "1000000",
		"limits.burst":               "1000000",
		"log.level":                  "warn",
	})
	const police = "police." + region
	gw := d.gatewayEncKey(b)
	key := d.key(b, police)
	signer := d.signer(b, police, nil)
	payload := deathsPayload(b, deathRows(b, 0, benchRows))
	var seq atomic.Int64
	nextID := func() string { return "bench-" + strconv.FormatInt(seq.Add(1), 10) }

	b.Run("seal+sign", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			id := nextID()
			req := &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: id,
				Envelope: sealTo(b, key, gw, "police.deaths", id, payload)}
			body, err := proto.Marshal(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := signer.Sign(reqsig.GRPCMethod, exchangev1.Datasets_PushBatch_FullMethodName, body); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*benchRows)/b.Elapsed().Seconds(), "rows/s")
	})

	b.Run("push", func(b *testing.B) {
		ds := exchangev1.NewDatasetsClient(d.conn(b, police, gatewaytest.SigningInterceptor(signer, nil)))
		var (
			mu        sync.Mutex
			latencies []time.Duration
		)
		b.SetBytes(int64(len(payload)))
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				start := time.Now()
				id := nextID()
				resp, err := ds.PushBatch(b.Context(), &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: id,
					Envelope: sealTo(b, key, gw, "police.deaths", id, payload)})
				if err != nil {
					b.Error(err)
					return
				}
				if !resp.GetCreated() || resp.GetBatch().GetRowCount() != benchRows {
					b.Errorf("push: %v", resp.GetBatch())
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N*benchRows)/b.Elapsed().Seconds(), "rows/s")
		if len(latencies) > 0 {
			slices.Sort(latencies)
			b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "ms-p50")
			b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "ms-p99")
		}
	})
}
