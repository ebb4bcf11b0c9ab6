// Package synth generates realistic synthetic exports of the ten datasets
// Qiao exchanges, for one county, with cases planted for each of the six
// built-in supervision models and near-misses that must not match, and a
// ground-truth file saying which is which.
//
// The files look like what the agencies' systems export: GBK-encoded CSV
// from the police and the HR/social-security bureau, XLSX with a title row
// above the header from the court, both from the medical-insurance bureau
// (which changed systems); Chinese headers taken from the datasets'
// aliases_zh, dates written in each system's own form, case numbers with
// either bracket style. Every value is valid under the schema package.
// People have valid 18-digit ID numbers of Henan counties, common names,
// and lives consistent across agencies: the dead draw no pension after the
// month of death and are not admitted to hospital after it, so background
// data never matches a model by accident and truth.jsonl is exact.
//
// Output depends only on the Options: the same seed, size, region and
// as-of date give byte-identical files.
//
// It is for tests, demonstrations and benchmarks. It is not a reader of
// exports (the adapters are) and it implements no model: it only plants
// what the models must find.
package synth

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/qiao-exchange/qiao/schema"
)

// MaxPeople bounds Options.People: beyond it the old system's settlement
// sheet would exceed the 1,048,576 rows a worksheet holds.
const MaxPeople = 4_000_000

// Options says what to generate.
type Options struct {
	// People is the size of the background population, 100 to MaxPeople.
	// The people of planted cases come on top.
	People int
	// Seed makes the output reproducible.
	Seed int64
	// Out is the directory the files are written to; it is created if
	// missing and existing files of the same names are replaced.
	Out string
	// AsOf is the date the data is exported on and the models run on:
	// records lie in the three years before it, pensions in the twelve
	// months before its month. Only its calendar date counts. Zero means
	// today in China Standard Time; a date after today is refused, as ID
	// numbers must not be born in the future.
	AsOf time.Time
	// Region is the six-digit code of the county (default 411528, 息县);
	// it must be one of Henan's counties synth knows.
	Region string
}

// ErrInvalidOptions is wrapped by Generate's errors about its Options; fix
// the options and call again.
var ErrInvalidOptions = errors.New("invalid synth options")

// FileSummary describes one written file.
type FileSummary struct {
	Name      string `json:"name"`       // file name in Out
	Dataset   string `json:"dataset"`    // dataset ID, e.g. police.deaths
	Format    string `json:"format"`     // csv or xlsx
	Encoding  string `json:"encoding"`   // GBK for CSV, UTF-8 inside XLSX
	HeaderRow int    `json:"header_row"` // 1-based row of the column headers
	Rows      int    `json:"rows"`       // data rows below the header
}

// Summary says what Generate wrote.
type Summary struct {
	// People is the background population; PlantedPeople those created
	// for planted cases and near-misses.
	People, PlantedPeople int
	// AsOf is the as-of date, YYYY-MM-DD.
	AsOf string
	// Files are the data files in the order of the datasets.
	Files []FileSummary
	// Truth is what truth.jsonl holds, in the same order.
	Truth []TruthCase
	// TruthFile and ManifestFile are the names, in Out, of truth.jsonl and
	// manifest.json.
	TruthFile, ManifestFile string
}

// Counts returns the number of planted cases and near-misses per model.
func (s Summary) Counts() map[string][2]int {
	out := map[string][2]int{}
	for _, tc := range s.Truth {
		c := out[tc.Model]
		if tc.Kind == Planted {
			c[0]++
		} else {
			c[1]++
		}
		out[tc.Model] = c
	}
	return out
}

// Generate writes the datasets, truth.jsonl and manifest.json to opts.Out.
func Generate(ctx context.Context, opts Options) (Summary, error) {
	if opts.People < 100 || opts.People > MaxPeople {
		return Summary{}, fmt.Errorf("%w: people must be between 100 and %d", ErrInvalidOptions, MaxPeople)
	}
	if opts.Out == "" {
		return Summary{}, fmt.Errorf("%w: no output directory", ErrInvalidOptions)
	}
	if opts.Region == "" {
		opts.Region = "411528"
	}
	home, ok := countyByCode(opts.Region)
	if !ok {
		return Summary{}, fmt.Errorf("%w: region %q is not a Henan county synth knows", ErrInvalidOptions, opts.Region)
	}
	today := dayOfTime(time.Now().In(chinaTime))
	asOf := today
	if !opts.AsOf.IsZero() {
		asOf = dayOfTime(opts.AsOf)
	}
	if asOf > today {
		return Summary{}, fmt.Errorf("%w: as-of date %s is after today", ErrInvalidOptions, asOf)
	}
	if asOf.year() < 1990 {
		return Summary{}, fmt.Errorf("%w: as-of date %s is before 1990", ErrInvalidOptions, asOf)
	}
	reg, err := schema.Load("")
	if err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}

	seed := uint64(opts.Seed)
	pl := &plan{
		asOf: asOf, start: asOf.addYears(-3), home: home,
		short: string([]rune(home.name)[:1]), court: "豫" + home.code[2:],
		r:     rand.New(rand.NewPCG(seed, 0x51a7_0002)),
		pop:   &population{r: rand.New(rand.NewPCG(seed, 0x51a7_0001)), home: home, ids: make(map[uint64]struct{}, opts.People+opts.People/8), maxBorn: asOf - 1},
		links: map[*caseRec]*inspection{},
	}
	pl.pensionTo = asOf.month() - 1
	pl.pensionFrom = pl.pensionTo - 11
	pl.background(opts.People)
	pl.plant(1 + opts.People/50000)
	pl.number()
	for _, tc := range pl.truth {
		tc.build(tc)
		tc.build = nil // it holds the whole plan
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}

	specs := pl.specs()
	files := make([]FileSummary, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, fs := range specs {
		ds, err := reg.Get(fs.dataset)
		if err != nil {
			return Summary{}, err
		}
		header, enc := 1, "GBK"
		if fs.format == FormatXLSX {
			enc = "UTF-8"
			if fs.title != "" {
				header = 2
			}
		}
		files[i] = FileSummary{Name: fs.name, Dataset: fs.dataset, Format: fs.format, Encoding: enc, HeaderRow: header}
		wg.Go(func() {
			files[i].Rows, errs[i] = writeFile(ctx, opts.Out, fs, ds, asOf)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Summary{}, err
	}

	sum := Summary{People: opts.People, PlantedPeople: len(pl.planted), AsOf: asOf.String(), Files: files, TruthFile: "truth.jsonl", ManifestFile: "manifest.json"}
	for _, tc := range pl.truth {
		sum.Truth = append(sum.Truth, *tc)
	}
	if err := writeTruth(filepath.Join(opts.Out, sum.TruthFile), sum.Truth); err != nil {
		return Summary{}, err
	}
	manifest := struct {
		Generator string        `json:"generator"`
		Seed      int64         `json:"seed"`
		People    int           `json:"people"`
		Region    string        `json:"region"`
		AsOf      string        `json:"as_of"`
		Files     []FileSummary `json:"files"`
		Truth     string        `json:"truth"`
	}{"qiao synth", opts.Seed, opts.People, home.code, sum.AsOf, files, sum.TruthFile}
	b, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(opts.Out, sum.ManifestFile), append(b, '\n'), 0o644); err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}
	return sum, nil
}

func writeTruth(path string, truth []TruthCase) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("synth: %w", cerr)
		}
	}()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, tc := range truth {
		if err := enc.Encode(tc); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}
