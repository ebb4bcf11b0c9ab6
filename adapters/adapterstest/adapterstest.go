// Package adapterstest holds what the agency packages' tests share: reading
// a whole export with an agency's column names and quirks, and the problems
// as the strings people see.
package adapterstest

import (
	"errors"
	"io"
	"testing"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/schema"
)

// ReadAll reads the whole export at path as dataset id with agency, and
// returns its rows and every problem, the header's first.
func ReadAll(t testing.TB, path, id string, agency *adapters.Agency) ([]adapters.Row, []adapters.Problem) {
	t.Helper()
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := reg.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	r, err := adapters.Open(path, ds, adapters.Options{Agency: agency})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ps := r.Header()
	var rows []adapters.Row
	for {
		row, rps, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows, ps
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
		ps = append(ps, rps...)
	}
}

// Errors returns the problems' messages.
func Errors(ps []adapters.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return out
}
