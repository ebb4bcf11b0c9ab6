package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/gateway/gatewaytest"
	"github.com/qiao-exchange/qiao/gateway/push"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
	"github.com/qiao-exchange/qiao/store/warehouse"
)

// deathRows returns n police.deaths rows as an export holds them, person i
// having a valid resident ID number with sequence from+i.
func deathRows(t testing.TB, from, n int) [][]string {
	t.Helper()
	rows := make([][]string, n)
	for i := range n {
		first := fmt.Sprintf("411528%04d0101%03d", 1940+(from+i)%60, (from+i)%1000)
		c, err := schema.IDCheckDigit(first)
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = []string{first + string(c), fmt.Sprintf("死者%d", from+i), "2023/3/1", "2023年3月5日"}
	}
	return rows
}

// deathsPayload encodes rows as a police.deaths BatchPayload.
func deathsPayload(t testing.TB, rows [][]string) []byte {
	t.Helper()
	bp := &exchangev1.BatchPayload{Fields: []string{"id_number", "name", "death_date", "cancel_date"}}
	for _, r := range rows {
		bp.Rows = append(bp.Rows, &exchangev1.BatchPayload_Row{Values: r})
	}
	b, err := proto.Marshal(bp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealTo seals payload as sender to recipient.
func sealTo(t testing.TB, sender *sm2.PrivateKey, recipient *sm2.PublicKey, dataset, batchID string, payload []byte) *exchangev1.Envelope {
	t.Helper()
	env, err := envelope.Seal(sender, recipient, envelope.AssociatedData{Dataset: dataset, BatchID: batchID, ContentType: push.ContentType}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// gatewayEncKey returns the public key of the deployment's encryption
// certificate.
func (d *deployment) gatewayEncKey(t testing.TB) *sm2.PublicKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.dir, "certs", "gateway.enc.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ParseCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return cert.PublicKey()
}

// warehouse opens the stopped deployment's warehouse; the caller closes it.
func (d *deployment) warehouse(t *testing.T) (*warehouse.Warehouse, *schema.Registry) {
	t.Helper()
	ctx := t.Context()
	keys, err := fieldcrypt.Load(ctx, d.ks)
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	wh, err := warehouse.Open(ctx, filepath.Join(d.dir, config.Default(d.dir).Warehouse.Path), schemas, keys)
	if err != nil {
		t.Fatal(err)
	}
	return wh, schemas
}

// visibleRows opens the stopped deployment's warehouse and counts the
// visible rows of dataset.
func (d *deployment) visibleRows(t *testing.T, dataset string) int64 {
	t.Helper()
	wh, _ := d.warehouse(t)
	defer wh.Close()
	n, err := wh.Count(t.Context(), dataset)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Pushes through `qiao serve` on loopback: as police over gRPC on GM-TLS and
// over REST on TLS 1.3 with a plain HTTP client; a repeat is stored once;
// every kind of bad push is refused with its code and stores nothing.
func TestServePush(t *testing.T) {
	d := serveDeployment(t)
	ctx := t.Context()
	const police, court = "police." + region, "court." + region
	gw := d.gatewayEncKey(t)
	policeKey := d.key(t, police)

	// gRPC on GM-TLS.
	ds := exchangev1.NewDatasetsClient(d.conn(t, police, gatewaytest.SigningInterceptor(d.signer(t, police, nil), nil)))
	rows := deathRows(t, 0, 50)
	req := &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "2026-11-a",
		Envelope: sealTo(t, policeKey, gw, "police.deaths", "2026-11-a", deathsPayload(t, rows))}
	resp, err := ds.PushBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetCreated() || resp.GetBatch().GetState() != exchangev1.BatchState_BATCH_STATE_COMMITTED || resp.GetBatch().GetRowCount() != 50 {
		t.Errorf("PushBatch: %v", resp)
	}
	got, err := ds.GetBatch(ctx, &exchangev1.GetBatchRequest{Dataset: "police.deaths", BatchId: "2026-11-a"})
	if err != nil || got.GetBatch().GetState() != exchangev1.BatchState_BATCH_STATE_COMMITTED || got.GetBatch().GetRowCount() != 50 {
		t.Errorf("GetBatch: %v %v", got, err)
	}
	// The same batch again, sealed anew: stored once.
	req.Envelope = sealTo(t, policeKey, gw, "police.deaths", "2026-11-a", deathsPayload(t, rows))
	if again, err := ds.PushBatch(ctx, req); err != nil || again.GetCreated() || again.GetBatch().GetContentSm3() != resp.GetBatch().GetContentSm3() {
		t.Errorf("repeat: %v %v", again, err)
	}

	// REST on TLS 1.3 with a plain net/http client.
	rest := "https://" + d.addrs.RESTTLS13.String()
	body, err := protojson.Marshal(&exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "2026-11-b",
		Envelope: sealTo(t, policeKey, gw, "police.deaths", "2026-11-b", deathsPayload(t, deathRows(t, 100, 20)))})
	if err != nil {
		t.Fatal(err)
	}
	hreq, err := gatewaytest.NewRequest(ctx, d.signer(t, police, nil), "POST", rest+"/v1/datasets/police.deaths/batches", body, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, text := get(t, d.http, hreq)
	var pushed struct {
		Batch struct {
			State    string
			RowCount string
		}
		Created bool
	}
	if err := json.Unmarshal([]byte(text), &pushed); code != 200 || err != nil || !pushed.Created || pushed.Batch.State != "BATCH_STATE_COMMITTED" || pushed.Batch.RowCount != "20" {
		t.Errorf("REST PushBatch: %d %.500s", code, text)
	}
	hreq, err = gatewaytest.NewRequest(ctx, d.signer(t, police, nil), "GET", rest+"/v1/datasets/police.deaths/batches/2026-11-b", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, text = get(t, d.http, hreq)
	if code != 200 || !strings.Contains(text, `"rowCount":"20"`) || !strings.Contains(text, "BATCH_STATE_COMMITTED") {
		t.Errorf("REST GetBatch: %d %.500s", code, text)
	}

	// Refusals: each with its code, none storing a batch.
	payload := deathsPayload(t, deathRows(t, 200, 3))
	otherRecipient, err := sm2.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	bad := deathRows(t, 300, 4)
	bad[0][0] = wrongCheckDigit(bad[0][0])
	bad[2][2] = "2023-02-29" // impossible date
	bad[3][3] = ""           // missing required cancel_date
	courtDS := exchangev1.NewDatasetsClient(d.conn(t, court, gatewaytest.SigningInterceptor(d.signer(t, court, nil), nil)))
	for _, tc := range []struct {
		name    string
		client  exchangev1.DatasetsClient
		dataset string
		env     *exchangev1.Envelope
		code    codes.Code
		fields  []string
	}{
		{"another agency's dataset", courtDS, "police.deaths", sealTo(t, d.key(t, court), gw, "police.deaths", "r", payload), codes.PermissionDenied, nil},
		{"malformed envelope", ds, "police.deaths", &exchangev1.Envelope{Content: []byte("\x08\x01garbage"), Signature: []byte("sig")}, codes.InvalidArgument, []string{"envelope"}},
		{"another recipient", ds, "police.deaths", sealTo(t, policeKey, otherRecipient.PublicKey(), "police.deaths", "r", payload), codes.InvalidArgument, []string{"envelope"}},
		{"signed by another key", ds, "police.deaths", sealTo(t, d.key(t, court), gw, "police.deaths", "r", payload), codes.InvalidArgument, []string{"envelope"}},
		{"dataset mismatch", ds, "police.deaths", sealTo(t, policeKey, gw, "police.detentions", "r", payload), codes.InvalidArgument, []string{"envelope"}},
		{"batch ID mismatch", ds, "police.deaths", sealTo(t, policeKey, gw, "police.deaths", "r-other", payload), codes.InvalidArgument, []string{"envelope"}},
		{"invalid rows", ds, "police.deaths", sealTo(t, policeKey, gw, "police.deaths", "r", deathsPayload(t, bad)), codes.InvalidArgument,
			[]string{"rows[1].id_number", "rows[3].death_date", "rows[4].cancel_date"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: tc.dataset, BatchId: "r", Envelope: tc.env})
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Fatalf("%v, want %v", err, tc.code)
			}
			var fields []string
			for _, det := range st.Details() {
				if br, ok := det.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("violations %v, want %v", fields, tc.fields)
			}
			if strings.Contains(st.Message(), bad[0][0][:10]) {
				t.Errorf("the message quotes personal data: %s", st.Message())
			}
		})
	}
	// Over REST, invalid rows are HTTP 400 with the same violations.
	body, err = protojson.Marshal(&exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "r-rest",
		Envelope: sealTo(t, policeKey, gw, "police.deaths", "r-rest", deathsPayload(t, bad))})
	if err != nil {
		t.Fatal(err)
	}
	hreq, err = gatewaytest.NewRequest(ctx, d.signer(t, police, nil), "POST", rest+"/v1/datasets/police.deaths/batches", body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, text := get(t, d.http, hreq); code != http.StatusBadRequest || !strings.Contains(text, `"rows[1].id_number"`) ||
		!strings.Contains(text, `"rows[4].cancel_date"`) || strings.Contains(text, bad[0][0]) {
		t.Errorf("REST push of invalid rows: %d %.600s", code, text)
	}

	// Only the batch with invalid rows has a record, rejected, listing
	// every bad row.
	rej, err := ds.GetBatch(ctx, &exchangev1.GetBatchRequest{Dataset: "police.deaths", BatchId: "r"})
	if err != nil || rej.GetBatch().GetState() != exchangev1.BatchState_BATCH_STATE_REJECTED ||
		rej.GetBatch().GetRejectedRowCount() != 3 || len(rej.GetBatch().GetRejectedRows()) != 3 {
		t.Errorf("rejected batch: %v %v", rej, err)
	}
	if _, err := courtDS.GetBatch(ctx, &exchangev1.GetBatchRequest{Dataset: "police.deaths", BatchId: "r"}); status.Code(err) != codes.NotFound {
		t.Errorf("court's refused push left a record: %v", err)
	}

	// The push metrics count by result, and only committed rows.
	resp2, err := http.Get("http://" + d.addrs.Admin.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	for _, want := range []string{
		`qiao_push_batches_total{result="committed"} 2`,
		`qiao_push_batches_total{result="repeated"} 1`,
		`qiao_push_batches_total{result="rejected"} 2`,
		`qiao_push_batches_total{result="refused"} 5`,
		"qiao_push_rows_total 70",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// After a restart (and its recovery) the batches are still there; the
	// warehouse holds the 70 rows of the two committed batches, once.
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if n := d.visibleRows(t, "police.deaths"); n != 70 {
		t.Errorf("%d visible rows, want 70", n)
	}
	// Every recorded push, committed or rejected, is on the audit log, and
	// the stored log verifies against the gateway's certificate.
	db := filepath.Join(d.dir, "state.db")
	out := mustRun(t, "audit", "verify", "--db", db, "--cert", filepath.Join(d.dir, "certs", "gateway.sign.pem"))
	if !strings.Contains(out, "audit log verified") {
		t.Errorf("audit verify:\n%s", out)
	}
	st, err := store.Open(t.Context(), store.Config{DSN: db})
	if err != nil {
		t.Fatal(err)
	}
	var committed, rejected int
	if err := st.QueryRowContext(t.Context(), `SELECT
		(SELECT COUNT(*) FROM audit_entries WHERE action = 'dataset.push' AND entry LIKE '%"status":"ok"%'),
		(SELECT COUNT(*) FROM audit_entries WHERE action = 'dataset.push' AND entry LIKE '%"status":"error"%')`).Scan(&committed, &rejected); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if committed != 2 || rejected < 1 {
		t.Errorf("audit log has %d committed and %d rejected pushes, want 2 and at least 1", committed, rejected)
	}
	// A push that stopped after its warehouse insert, before its commit:
	// its rows wait, invisible, and the next start removes them, so that
	// the batch ID takes other content.
	wh, schemas := d.warehouse(t)
	deaths, err := schemas.Get("police.deaths")
	if err != nil {
		t.Fatal(err)
	}
	var half [][]string
	for _, r := range deathRows(t, 400, 5) {
		v, errs := deaths.ValidateRow(r)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		half = append(half, v)
	}
	if _, err := wh.InsertBatch(ctx, warehouse.BatchKey{Dataset: "police.deaths", Principal: police, ID: "crashed"}, half); err != nil {
		t.Fatal(err)
	}
	if err := wh.Close(); err != nil {
		t.Fatal(err)
	}
	d.start(t)
	ds = exchangev1.NewDatasetsClient(d.conn(t, police, gatewaytest.SigningInterceptor(d.signer(t, police, nil), nil)))
	if got, err := ds.GetBatch(ctx, &exchangev1.GetBatchRequest{Dataset: "police.deaths", BatchId: "2026-11-b"}); err != nil || got.GetBatch().GetRowCount() != 20 {
		t.Errorf("after a restart: %v %v", got, err)
	}
	if _, err := ds.PushBatch(ctx, &exchangev1.PushBatchRequest{Dataset: "police.deaths", BatchId: "crashed",
		Envelope: sealTo(t, policeKey, gw, "police.deaths", "crashed", deathsPayload(t, deathRows(t, 500, 3)))}); err != nil {
		t.Errorf("pushing over a recovered batch ID: %v", err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if n := d.visibleRows(t, "police.deaths"); n != 73 {
		t.Errorf("%d visible rows, want 73", n)
	}
}

// wrongCheckDigit returns a resident ID number with its check digit
// changed.
func wrongCheckDigit(id string) string {
	if id[17] == '0' {
		return id[:17] + "1"
	}
	return id[:17] + "0"
}
