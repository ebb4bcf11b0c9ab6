package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/schema"
)

// rows is a Source over rows already in the dataset's field order.
type rows struct {
	rows [][]string
	i    int
}

func (r *rows) Next() (client.Row, []client.Problem, error) {
	if r.i == len(r.rows) {
		return client.Row{}, nil, io.EOF
	}
	r.i++
	return client.Row{Line: r.i + 1, Values: r.rows[r.i-1]}, nil, nil
}

func (r *rows) Close() error { return nil }

// A dry run checks every row against the schema and pushes nothing; a
// Pusher made with NewPusher and a dialed Client checks the same way, then
// pushes.
func ExampleNewDryRunPusher() {
	reg, _ := schema.Load("")
	ds, _ := reg.Get("police.deaths")
	p, _ := client.NewDryRunPusher(ds, client.PushOptions{
		Problem: func(p client.Problem) { fmt.Println(p) },
	})
	in := client.Input{
		Name:   "deaths.csv",
		Digest: "0f3c", // the SM3 of the file's bytes
		Open: func() (client.Source, error) {
			return &rows{rows: [][]string{
				{"411528194001011000", "张三", "2023/3/1", "2023年3月5日"},
				{"411528195002022010", "李四", "2023-02-30", "2023-03-05"},
			}}, nil
		},
	}
	res, err := p.Push(context.Background(), in)
	fmt.Println(res.Rows, "rows,", res.Invalid, "invalid:", errors.Is(err, client.ErrInvalidInput))
	// Output:
	// deaths.csv:3: field id_number: invalid resident ID number: check digit is wrong
	// deaths.csv:3: field death_date: invalid date: day does not exist in that month
	// 2 rows, 1 invalid: true
}
