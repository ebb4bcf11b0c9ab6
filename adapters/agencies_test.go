package adapters_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/adapters/court"
	"github.com/qiao-exchange/qiao/adapters/hrss"
	"github.com/qiao-exchange/qiao/adapters/medins"
	"github.com/qiao-exchange/qiao/adapters/police"
	"github.com/qiao-exchange/qiao/schema"
)

// agencies are the agency packages, each with the directory of its samples.
var agencies = []struct {
	agency *adapters.Agency
	dir    string
}{
	{police.Agency, "police"},
	{court.Agency, "court"},
	{medins.Agency, "medins"},
	{hrss.Agency, "hrss"},
}

func registry(t testing.TB) *schema.Registry {
	t.Helper()
	reg, err := schema.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// readAll reads a whole export, returning its rows and every problem.
func readAll(t testing.TB, path string, ds *schema.Dataset, opts adapters.Options) ([]adapters.Row, []adapters.Problem) {
	t.Helper()
	r, err := adapters.Open(path, ds, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	problems := r.Header()
	var rows []adapters.Row
	for {
		row, ps, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
		problems = append(problems, ps...)
	}
	return rows, problems
}

// TestAgencies is the conformance suite every agency package passes: its
// Agency is consistent with the datasets, covers every dataset its kind
// owns with a sample, and every sample in its testdata — named
// <dataset name>.<ext> — reads with no problem at all.
func TestAgencies(t *testing.T) {
	reg := registry(t)
	for _, a := range agencies {
		t.Run(a.agency.Name, func(t *testing.T) {
			if err := a.agency.Check(reg); err != nil {
				t.Errorf("Check: %v", err)
			}
			if a.agency.Name != a.dir {
				t.Errorf("Name = %q, want %q", a.agency.Name, a.dir)
			}
			covered := map[string]bool{}
			files, err := os.ReadDir(filepath.Join(a.dir, "testdata"))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if f.IsDir() {
					continue
				}
				id := a.agency.Name + "." + strings.TrimSuffix(f.Name(), filepath.Ext(f.Name()))
				ds, err := reg.Get(id)
				if err != nil {
					t.Errorf("%s: %v", f.Name(), err)
					continue
				}
				covered[id] = true
				path := filepath.Join(a.dir, "testdata", f.Name())
				rows, problems := readAll(t, path, ds, adapters.Options{Agency: a.agency})
				for _, p := range problems {
					t.Errorf("%v", p)
				}
				if len(rows) < 10 {
					t.Errorf("%s: %d rows, want a realistic sample of at least 10", path, len(rows))
				}
				for _, row := range rows {
					if len(row.Values) != len(ds.Fields) {
						t.Errorf("%s:%d: %d values, want %d", path, row.Line, len(row.Values), len(ds.Fields))
					}
				}
			}
			for _, ds := range reg.ForOwner(a.agency.Name) {
				if !covered[ds.ID] {
					t.Errorf("no sample of %s in %s/testdata", ds.ID, a.dir)
				}
			}
		})
	}
}

// TestAgencyNeeded shows the samples need their Agency: read with the
// dataset's aliases alone, each has header problems or reads differently.
func TestAgencyNeeded(t *testing.T) {
	reg := registry(t)
	for _, a := range agencies {
		files, _ := filepath.Glob(filepath.Join(a.dir, "testdata", "*.*"))
		for _, path := range files {
			ds, _ := reg.Get(a.agency.Name + "." + strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
			r, err := adapters.Open(path, ds, adapters.Options{})
			if errors.Is(err, adapters.ErrNoHeader) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			without, problems := readAll(t, path, ds, adapters.Options{})
			with, _ := readAll(t, path, ds, adapters.Options{Agency: a.agency})
			if len(problems) == 0 && fmt.Sprint(without) == fmt.Sprint(with) {
				t.Errorf("%s reads the same without its Agency; it tests nothing of it", path)
			}
		}
	}
}

// TestSampleValues spot-checks what the samples become.
func TestSampleValues(t *testing.T) {
	reg := registry(t)
	for _, a := range agencies {
		files, _ := filepath.Glob(filepath.Join(a.dir, "testdata", "*.*"))
		for _, path := range files {
			ds, _ := reg.Get(a.agency.Name + "." + strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
			rows, _ := readAll(t, path, ds, adapters.Options{Agency: a.agency})
			for _, row := range rows[:3] {
				t.Logf("%s:%d: %q", path, row.Line, row.Values)
			}
		}
	}
}
