package schema_test

import (
	"fmt"
	"log"

	"github.com/qiao-exchange/qiao/schema"
)

// An adapter maps an export's columns onto a dataset by their headers, then
// normalises each row, reporting every bad value.
func Example() {
	reg, err := schema.Load("") // the embedded datasets only
	if err != nil {
		log.Fatal(err)
	}
	ds, err := reg.Get("police.traffic_accidents")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ds.TitleZh, ds.Classification, ds.RecordKey)

	header := []string{"事故编号", "事故发生时间", "当事人身份证号码", "当事人姓名", "当事人类型", "事故责任", "是否受伤"}
	column := make([]int, len(header)) // column → field index
	for i, h := range header {
		name, ok := schema.MatchHeader(ds, h)
		if !ok {
			log.Fatalf("unknown column %s", h)
		}
		column[i] = ds.FieldIndex(name)
	}

	for _, record := range [][]string{
		{"4115281202300123", "2023/5/6", "11010519491231002x", "李四", "行人", "无责任", "是"},
		{"4115281202300124", "2023/2/29", "110105194912310021", "王五", "乘客", "次", "否"},
	} {
		values := make([]string, len(ds.Fields))
		for i, v := range record {
			values[column[i]] = v
		}
		row, errs := ds.ValidateRow(values)
		if len(errs) > 0 {
			for _, e := range errs {
				fmt.Println("rejected:", e)
			}
			continue
		}
		fmt.Println(row)
	}
	// Output:
	// 道路交通事故 internal [accident_no id_number]
	// [4115281202300123 2023-05-06 11010519491231002X 李四 行人 无 true]
	// rejected: accident_date: invalid date: day does not exist in that month
	// rejected: id_number: invalid resident ID number: check digit is wrong
	// rejected: responsibility: invalid value: not one of 全部/主要/同等/次要/无
}

func ExampleNormalizeIDNumber() {
	for _, s := range []string{"11010519491231002x", "110105491231002", "11010519491231002Y"} {
		id, err := schema.NormalizeIDNumber(s)
		fmt.Println(id, err)
	}
	// Output:
	// 11010519491231002X <nil>
	// 11010519491231002X <nil>
	//  invalid resident ID number: the last character must be a digit or X
}

func ExampleNormalizeCaseNo() {
	for _, s := range []string{"(2023)豫1528执123号", "〔2024〕豫1528执恢012号"} {
		n, err := schema.NormalizeCaseNo(s)
		fmt.Println(n, err)
	}
	// Output:
	// （2023）豫1528执123号 <nil>
	// （2024）豫1528执恢12号 <nil>
}

func ExampleParseMoney() {
	m, err := schema.ParseMoney("￥12,345.6元")
	fmt.Println(m, int64(m), err)
	// Output: 12345.60 1234560 <nil>
}
