package adapters_test

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/qiao-exchange/qiao/adapters"
	"github.com/qiao-exchange/qiao/schema"
)

// settlementHeader and settlementRow make rows of a medical-insurance
// settlement export as the national platform writes it, valid and varied.
var settlementHeader = []string{"结算ID", "人员证件号码", "人员姓名", "定点医药机构名称", "入院日期", "出院日期", "主诊断代码", "主诊断名称", "外伤标识", "医疗费总额", "统筹基金支出"}

var (
	benchNames     = []string{"王秀英", "李建国", "张伟", "刘桂兰", "陈志强", "杨海燕", "赵德明", "黄春花"}
	benchHospitals = []string{"息县人民医院", "息县中医院", "信阳市中心医院", "潢川县人民医院"}
	benchDiagnoses = [][2]string{{"S82.201", "胫骨骨干骨折"}, {"J18.900", "肺炎"}, {"I63.900", "脑梗死"}, {"T21.201", "躯干二度烧伤"}}
	benchDates     = []string{"2023-05-06", "2023/5/6", "20230506", "2023年5月6日"}
	benchIDs       = func() []string {
		var ids []string
		for i := range 97 {
			first17 := fmt.Sprintf("411528%04d%02d%02d%03d", 1940+i%60, 1+i%12, 1+i%28, i*7%1000)
			c, _ := schema.IDCheckDigit(first17)
			ids = append(ids, first17+string(c))
		}
		return ids
	}()
)

func settlementRow(i int) []string {
	d := benchDiagnoses[i%len(benchDiagnoses)]
	injury := ""
	if i%2 == 0 {
		injury = "否"
		if d[0][0] == 'S' || d[0][0] == 'T' {
			injury = "是"
		}
	}
	return []string{fmt.Sprintf("411528G%012d", i), benchIDs[i%len(benchIDs)], benchNames[i%len(benchNames)], benchHospitals[i%len(benchHospitals)],
		benchDates[i%len(benchDates)], benchDates[(i+1)%len(benchDates)], d[0], d[1], injury,
		fmt.Sprintf("%d.%02d", 1000+i%90000, i%100), fmt.Sprintf("%d.%02d", 600+i%50000, i%100)}
}

// writeSettlementsCSV writes n rows as CSV, in GBK or UTF-8, and returns
// the file's size.
func writeSettlementsCSV(tb testing.TB, path string, n int, gbk bool) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	var w io.Writer = f
	var enc io.WriteCloser
	if gbk {
		enc = transform.NewWriter(f, simplifiedchinese.GBK.NewEncoder())
		w = enc
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	_ = cw.Write(settlementHeader)
	for i := range n {
		_ = cw.Write(settlementRow(i))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	st, _ := f.Stat()
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

// writeSettlementsXLSX writes n rows to a workbook through excelize's
// stream writer, below a title row.
func writeSettlementsXLSX(tb testing.TB, path string, n int) {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		tb.Fatal(err)
	}
	_ = sw.SetRow("A1", []any{"信阳市医疗保障局 住院结算明细"})
	row := make([]any, len(settlementHeader))
	for i, h := range settlementHeader {
		row[i] = h
	}
	_ = sw.SetRow("A3", row)
	for i := range n {
		for j, v := range settlementRow(i) {
			row[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+4)
		if err := sw.SetRow(cell, row); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.SaveAs(path); err != nil {
		tb.Fatal(err)
	}
}

// readEvery reads a whole export through adapters and returns its rows;
// any problem fails.
func readEvery(tb testing.TB, path string, ds *schema.Dataset, opts adapters.Options) int {
	r, err := adapters.Open(path, ds, opts)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	if ps := r.Header(); len(ps) > 0 {
		tb.Fatal(ps)
	}
	n := 0
	for {
		_, ps, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil || len(ps) > 0 {
			tb.Fatal(err, ps)
		}
		n++
	}
}

const benchRows = 50_000

// settlementOptions is what reading the benchmark's export takes: the
// medins Agency's aliases, without importing it (the agency packages import
// this one).
var settlementOptions = adapters.Options{Mapping: adapters.Mapping{"medins.settlements": {
	"结算ID": "settlement_no", "人员证件号码": "id_number", "人员姓名": "name", "定点医药机构名称": "hospital",
	"主诊断代码": "diagnosis_code", "主诊断名称": "diagnosis_name", "医疗费总额": "total_cost", "统筹基金支出": "fund_paid",
}}}

func reportRows(b *testing.B, rows int) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRead measures rows read, mapped, validated and normalised per
// second from a GBK CSV file and from an XLSX workbook, each beside a
// reference in the same run: encoding/csv splitting the same rows written
// in UTF-8, and excelize's Rows iterator over the same workbook, both with
// no mapping, decoding or validation.
func BenchmarkRead(b *testing.B) {
	ds := dataset(b, "medins.settlements")
	dir := b.TempDir()
	gbkPath, utf8Path, xlsxPath := filepath.Join(dir, "s.csv"), filepath.Join(dir, "s-utf8.csv"), filepath.Join(dir, "s.xlsx")
	writeSettlementsCSV(b, gbkPath, benchRows, true)
	writeSettlementsCSV(b, utf8Path, benchRows, false)
	writeSettlementsXLSX(b, xlsxPath, benchRows)

	b.Run("csv-gbk/adapters", func(b *testing.B) {
		for b.Loop() {
			if n := readEvery(b, gbkPath, ds, settlementOptions); n != benchRows {
				b.Fatal(n)
			}
		}
		reportRows(b, benchRows)
	})
	b.Run("csv-utf8/reference-encoding-csv", func(b *testing.B) {
		for b.Loop() {
			f, _ := os.Open(utf8Path)
			cr := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
			cr.ReuseRecord = true
			n := -1
			for {
				if _, err := cr.Read(); err != nil {
					break
				}
				n++
			}
			f.Close()
			if n != benchRows {
				b.Fatal(n)
			}
		}
		reportRows(b, benchRows)
	})
	b.Run("xlsx/adapters", func(b *testing.B) {
		for b.Loop() {
			if n := readEvery(b, xlsxPath, ds, settlementOptions); n != benchRows {
				b.Fatal(n)
			}
		}
		reportRows(b, benchRows)
	})
	b.Run("xlsx/reference-excelize-rows", func(b *testing.B) {
		for b.Loop() {
			f, err := excelize.OpenFile(xlsxPath)
			if err != nil {
				b.Fatal(err)
			}
			rows, _ := f.Rows("Sheet1")
			n := -2 // title and header
			for rows.Next() {
				if cells, _ := rows.Columns(); len(cells) > 0 {
					n++
				}
			}
			rows.Close()
			f.Close()
			if n != benchRows {
				b.Fatal(n)
			}
		}
		reportRows(b, benchRows)
	})
}

// TestLargeCSVBoundedMemory reads a GBK export of about 100 MB and checks
// that the heap stays far below the file's size: the reader streams.
func TestLargeCSVBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a 100 MB file")
	}
	ds := dataset(t, "medins.settlements")
	path := filepath.Join(t.TempDir(), "large.csv")
	const n = 1_000_000
	size := writeSettlementsCSV(t, path, n, true)

	runtime.GC()
	base := heapInUse()
	peak := base
	r, err := adapters.Open(path, ds, settlementOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	rows := 0
	for {
		_, ps, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || len(ps) > 0 {
			t.Fatal(err, ps)
		}
		if rows++; rows%25_000 == 0 {
			peak = max(peak, heapInUse())
		}
	}
	elapsed := time.Since(start)
	if rows != n {
		t.Fatalf("%d rows, want %d", rows, n)
	}
	grew := peak - base
	t.Logf("%d rows, %.0f MB in %v (%.0f rows/s); heap grew at most %.1f MiB",
		rows, float64(size)/1e6, elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds(), float64(grew)/(1<<20))
	if size < 90e6 {
		t.Errorf("file is %d bytes, meant to be about 100 MB", size)
	}
	if grew > 16<<20 {
		t.Errorf("heap grew by %d MiB reading a %d MB file", grew>>20, size/1e6)
	}
}

// heapInUse is the bytes of heap spans in use: live objects and garbage
// not yet collected.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestLargeXLSXBoundedMemory reads a workbook whose worksheet is larger
// than excelize's in-memory limit (16 MiB of XML), which excelize then
// streams from a temporary file: the heap stays far below the sheet's size.
func TestLargeXLSXBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a workbook of 60,000 rows")
	}
	ds := dataset(t, "medins.settlements")
	path := filepath.Join(t.TempDir(), "large.xlsx")
	const n = 60_000
	writeSettlementsXLSX(t, path, n)

	runtime.GC()
	base := heapInUse()
	peak := base
	r, err := adapters.Open(path, ds, settlementOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows := 0
	for {
		_, ps, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || len(ps) > 0 {
			t.Fatal(err, ps)
		}
		if rows++; rows%2_000 == 0 {
			peak = max(peak, heapInUse())
		}
	}
	if rows != n {
		t.Fatalf("%d rows, want %d", rows, n)
	}
	grew := peak - base
	t.Logf("%d rows; heap in use %.1f MiB before, at most %.1f MiB while reading", rows, float64(base)/(1<<20), float64(peak)/(1<<20))
	if grew > 32<<20 {
		t.Errorf("heap grew by %d MiB", grew>>20)
	}
}
