package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/store"
)

func sampleLead(id string) store.Lead {
	return store.Lead{
		ID: strings.Repeat(id, 64/len(id)), Model: "hrss.pension_after_death", ModelVersion: 1,
		Subject: strings.Repeat("ab", 32), TitleZh: "死亡后冒领养老金 3 个月", TitleEn: "pension paid 3 months after death",
		Priority: 2, Document: []byte(`{"months":3}`),
	}
}

// testLeadsAndOutbox: a lead is stored once however often it is found, a
// message is published only if its transaction committed, and the outbox
// hands out unsent messages in order.
func testLeadsAndOutbox(t *testing.T, open func(t *testing.T) *store.DB) {
	ctx := t.Context()
	db := open(t)
	enqueue := func(tx *store.Tx, key string) error {
		_, err := tx.Enqueue(ctx, store.Message{Topic: "qiao.leads.v1", Key: key, Value: []byte("value of " + key)})
		return err
	}
	for i, want := range []bool{true, false} {
		inTx(t, db, func(tx *store.Tx) error {
			l, created, err := tx.InsertLead(ctx, sampleLead("a1"))
			if err == nil && (created != want || l.Document == nil) {
				t.Errorf("insert %d: created %v, want %v", i, created, want)
			}
			if err == nil && created {
				err = enqueue(tx, l.ID)
			}
			return err
		})
	}
	inTx(t, db, func(tx *store.Tx) error {
		if err := enqueue(tx, "k2"); err != nil {
			return err
		}
		return enqueue(tx, "k3")
	})
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		if err := enqueue(tx, "rolled-back"); err != nil {
			return err
		}
		return errors.New("abort")
	}); err == nil {
		t.Fatal("the aborted transaction committed")
	}
	ms, err := db.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.Key)
	}
	if got := strings.Join(keys, ","); got != strings.Repeat("a1", 32)+",k2,k3" || string(ms[1].Value) != "value of k2" {
		t.Fatalf("pending %s", got)
	}
	inTx(t, db, func(tx *store.Tx) error {
		if err := tx.MarkSent(ctx, []int64{ms[0].Seq, ms[1].Seq}); err != nil {
			return err
		}
		return tx.MarkFailed(ctx, []int64{ms[2].Seq}, "broker unreachable")
	})
	ms, err = db.Pending(ctx, 10)
	if err != nil || len(ms) != 1 || ms[0].Key != "k3" || ms[0].Attempts != 1 || ms[0].LastError != "broker unreachable" {
		t.Fatalf("after marking: %+v, %v", ms, err)
	}
	if n, oldest, err := db.OutboxStats(ctx); err != nil || n != 1 || oldest.IsZero() {
		t.Fatalf("OutboxStats = %d, %v, %v", n, oldest, err)
	}
	if l, err := db.GetLead(ctx, strings.Repeat("a1", 32)); err != nil || l.TitleZh != "死亡后冒领养老金 3 个月" || l.ModelVersion != 1 {
		t.Fatalf("GetLead = %+v, %v", l, err)
	}
	if ls, err := db.ListLeads(ctx, store.LeadQuery{Model: "hrss.pension_after_death"}); err != nil || len(ls) != 1 {
		t.Fatalf("ListLeads = %d, %v", len(ls), err)
	}
	bad := sampleLead("a1")
	bad.ID = "not-hex"
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		_, _, err := tx.InsertLead(ctx, bad)
		return err
	}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a lead with a bad ID: %v", err)
	}
}
