package warehouse

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/fieldcrypt"
	"github.com/qiao-exchange/qiao/schema"
)

// testKeys derives field keys from a fixed master key; other keys a test
// needs are derived from other fixed bytes.
func testKeys(t testing.TB, b byte) *fieldcrypt.Keys {
	t.Helper()
	master := make([]byte, fieldcrypt.MasterKeySize)
	for i := range master {
		master[i] = b + byte(i)
	}
	k, err := fieldcrypt.New(master)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testRegistry(t testing.TB) *schema.Registry {
	t.Helper()
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// openAt opens the warehouse file at path with the embedded datasets and
// the test keys, closing it when the test ends.
func openAt(t testing.TB, path string) *Warehouse {
	t.Helper()
	w, err := Open(context.Background(), path, testRegistry(t), testKeys(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func openTemp(t testing.TB) (*Warehouse, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "warehouse.duckdb")
	return openAt(t, path), path
}

// idNumber returns a valid 18-digit resident ID number of a person from
// 潢川县 (411526), born in 1950 + n%50, with sequence n.
func idNumber(t testing.TB, n int) string {
	t.Helper()
	first := fmt.Sprintf("411526%04d0101%03d", 1950+n%50, n%1000)
	c, err := schema.IDCheckDigit(first)
	if err != nil {
		t.Fatal(err)
	}
	return first + string(c)
}

// creditCode returns a valid unified social credit code with sequence n.
func creditCode(t testing.TB, n int) string {
	t.Helper()
	first := fmt.Sprintf("91411526MA%06dK", n%1000000)
	c, err := schema.CreditCodeCheckChar(first)
	if err != nil {
		t.Fatal(err)
	}
	return first + string(c)
}

// validated normalises rows as the gateway does before storing them, so
// that tests store only canonical rows.
func validated(t testing.TB, reg *schema.Registry, dataset string, rows [][]string) [][]string {
	t.Helper()
	ds, err := reg.Get(dataset)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		v, errs := ds.ValidateRow(r)
		if len(errs) > 0 {
			t.Fatalf("%s row %d: %v", dataset, i+1, errs)
		}
		out[i] = v
	}
	return out
}

// deaths returns n police.deaths rows, person i having idNumber(i).
func deaths(t testing.TB, from, n int) [][]string {
	rows := make([][]string, n)
	for i := range n {
		rows[i] = []string{idNumber(t, from+i), fmt.Sprintf("死者%d", from+i), "2023-03-01", "2023-03-05"}
	}
	return validated(t, testRegistry(t), "police.deaths", rows)
}

// settlements returns n medins.settlements rows, person i having
// idNumber(i).
func settlements(t testing.TB, from, n int) [][]string {
	rows := make([][]string, n)
	for i := range n {
		k := from + i
		rows[i] = []string{
			fmt.Sprintf("JS%08d", k), idNumber(t, k), fmt.Sprintf("参保人%d", k), "潢川县人民医院",
			"2023-04-10", "2023-04-20", "S72.001", "股骨颈骨折", "true",
			fmt.Sprintf("%d.%02d", 1000+k, k%100), fmt.Sprintf("%d.00", 800+k),
		}
	}
	return validated(t, testRegistry(t), "medins.settlements", rows)
}

func mustInsert(t testing.TB, w *Warehouse, dataset, batchID string, rows [][]string) {
	t.Helper()
	ins, err := w.InsertBatch(context.Background(), bk(dataset, batchID), rows)
	if err != nil {
		t.Fatalf("InsertBatch(%s, %s): %v", dataset, batchID, err)
	}
	if !ins {
		t.Fatalf("InsertBatch(%s, %s) stored nothing", dataset, batchID)
	}
}

func mustPublish(t testing.TB, w *Warehouse, dataset, batchID string) {
	t.Helper()
	if err := w.MakeVisible(context.Background(), bk(dataset, batchID)); err != nil {
		t.Fatalf("MakeVisible(%s, %s): %v", dataset, batchID, err)
	}
}

// bk is the key of batch id of dataset pushed by the owner's agency of
// 潢川县 (police.411526, …).
func bk(dataset, id string) BatchKey {
	owner, _, _ := strings.Cut(dataset, ".")
	return BatchKey{Dataset: dataset, Principal: owner + ".411526", ID: id}
}

func count(t testing.TB, w *Warehouse, dataset string) int64 {
	t.Helper()
	n, err := w.Count(context.Background(), dataset)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// stored counts the rows of a dataset's table, visible or not.
func stored(t testing.TB, w *Warehouse, dataset string) int64 {
	t.Helper()
	var n int64
	if err := w.db.QueryRow(`SELECT count(*) FROM main.` + quote(TableName(dataset))).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
