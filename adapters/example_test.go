package adapters_test

import (
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/adapters/police"
	"github.com/qiao-exchange/qiao/schema"
)

// An adapter opens an export with its agency's quirks, checks the header,
// then reads every row, collecting every problem: a file with any problem
// is not pushed, and the agency is told where each one is.
func Example() {
	reg, err := schema.Load("")
	if err != nil {
		log.Fatal(err)
	}
	ds, err := reg.Get("police.deaths")
	if err != nil {
		log.Fatal(err)
	}
	r, err := adapters.Open("police/testdata/bad/deaths_check_digit.csv", ds, adapters.Options{Agency: police.Agency})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	problems := r.Header()
	var rows [][]string
	for {
		row, ps, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		problems = append(problems, ps...)
		if len(ps) == 0 {
			rows = append(rows, row.Values)
		}
	}
	fmt.Println(len(rows), "good rows of", ds.Fields[0].Name, ds.Fields[1].Name, ds.Fields[2].Name, ds.Fields[3].Name)
	fmt.Println(rows[0][2:]) // dates, normalised from 2023-07-26 and 2023/8/17
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// 4 good rows of id_number name death_date cancel_date
	// [2023-07-26 2023-08-17]
	// police/testdata/bad/deaths_check_digit.csv:4: column 公民身份号码 (id_number): invalid resident ID number: check digit is wrong
}

// A mapping file names an agency's own headers; "-" drops a column.
func ExampleLoadMapping() {
	m, err := adapters.LoadMapping("testdata/mapping.yaml")
	if err != nil {
		log.Fatal(err)
	}
	reg, err := schema.Load("")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Check(reg))
	fmt.Println(m["police.deaths"]["销户时间"], m["police.deaths"]["所属派出所"])
	// Output:
	// <nil>
	// cancel_date -
}
