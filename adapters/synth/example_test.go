package synth_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/qiao-exchange/qiao/adapters/synth"
)

func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "synth")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sum, err := synth.Generate(context.Background(), synth.Options{
		People: 1000,
		Seed:   1,
		Out:    dir,
		AsOf:   time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range sum.Files {
		fmt.Printf("%s: %s, header in row %d\n", f.Name, f.Format, f.HeaderRow)
	}
	c := sum.Counts()[synth.ModelPensionAfterDeath]
	fmt.Printf("%s: %d planted, %d near-misses\n", synth.ModelPensionAfterDeath, c[0], c[1])
	// Output:
	// police.deaths.csv: csv, header in row 1
	// police.traffic_accidents.csv: csv, header in row 1
	// police.case_records.csv: csv, header in row 1
	// police.detentions.csv: csv, header in row 1
	// court.criminal_judgments.xlsx: xlsx, header in row 2
	// court.civil_compensations.xlsx: xlsx, header in row 2
	// court.enforcement_cases.xlsx: xlsx, header in row 2
	// medins.settlements.xlsx: xlsx, header in row 1
	// medins.settlements.csv: csv, header in row 1
	// hrss.labor_inspections.csv: csv, header in row 1
	// hrss.pension_payments.csv: csv, header in row 1
	// hrss.pension_after_death: 3 planted, 3 near-misses
}
