package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeDate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2023-05-06", "2023-05-06"},
		{"2023-5-6", "2023-05-06"},
		{"2023/5/6", "2023-05-06"},
		{"2023/05/06", "2023-05-06"},
		{"2023.5.6", "2023-05-06"},
		{"20230506", "2023-05-06"},
		{"2023年5月6日", "2023-05-06"},
		{"2023年05月06日", "2023-05-06"},
		{"2023年5月6号", "2023-05-06"},
		{"2023 年 5 月 6 日", "2023-05-06"},
		{"２０２３年５月６日", "2023-05-06"},
		{"２０２３－０５－０６", "2023-05-06"},
		{"２０２３／５／６", "2023-05-06"},
		{"２０２３０５０６", "2023-05-06"},
		{" 2023-05-06 ", "2023-05-06"},
		{"\u30002023/5/6\u3000", "2023-05-06"},
		{"2024-02-29", "2024-02-29"},
		{"2000-02-29", "2000-02-29"},
		{"1900-01-01", "1900-01-01"},
		{"2099-12-31", "2099-12-31"},
		{"2023-12-31", "2023-12-31"},
		// A time of day, as database exports write dates, is dropped.
		{"2023-05-06 00:00:00", "2023-05-06"},
		{"2023-05-06 14:30", "2023-05-06"},
		{"2023/5/6 8:05:09", "2023-05-06"},
		{"2023-05-06T23:59:59", "2023-05-06"},
		{"2023-05-06 00:00:00.000", "2023-05-06"},
		{"20230506 12:00:00", "2023-05-06"},
		{"2023年5月6日 10:00", "2023-05-06"},
	} {
		got, err := NormalizeDate(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeDate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeDateInvalid(t *testing.T) {
	for _, tc := range []struct{ in, reason string }{
		{"2023-02-29", "day does not exist in that month"},
		{"1900-02-29", "day does not exist in that month"},
		{"2023-04-31", "day does not exist in that month"},
		{"2023-06-31", "day does not exist in that month"},
		{"2023-05-00", "day does not exist in that month"},
		{"20230230", "day does not exist in that month"},
		{"2023年2月30日", "day does not exist in that month"},
		{"2023-13-01", "month does not exist"},
		{"2023-00-10", "month does not exist"},
		{"2023/13/1", "month does not exist"},
		{"1899-12-31", "year is outside 1900–2099"},
		{"2100-01-01", "year is outside 1900–2099"},
		{"0023-05-06", "year is outside 1900–2099"},
		{"2023-5/6", "not a recognised form"},
		{"2023-05", "not a recognised form"},
		{"23-05-06", "not a recognised form"},
		{"06/05/2023", "not a recognised form"},
		{"2023-005-06", "not a recognised form"},
		{"2023-05-006", "not a recognised form"},
		{"202356", "not a recognised form"},
		{"2023年5月6", "not a recognised form"},
		{"2023年5月", "not a recognised form"},
		{"二〇二三年五月六日", "not a recognised form"},
		{"45052", "not a recognised form"}, // a spreadsheet serial number
		{"NULL", "not a recognised form"},
		{"2023-05-06Z", "only a time of day may follow"},
		{"2023-05-06 25:00", "only a time of day may follow"},
		{"2023-05-06 12:60", "only a time of day may follow"},
		{"2023-05-06T12:00:00+08:00", "only a time of day may follow"},
		{"2023-05-06 12", "only a time of day may follow"},
		{"2023-05-06 12:00:", "only a time of day may follow"},
		{"2023-05-06 abc", "only a time of day may follow"},
	} {
		got, err := NormalizeDate(tc.in)
		if err == nil {
			t.Errorf("NormalizeDate(%q) = %q, want error %q", tc.in, got, tc.reason)
			continue
		}
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("NormalizeDate(%q): %v, want %q", tc.in, err, tc.reason)
		}
	}
}

func TestNormalizeMonth(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2023-05", "2023-05"},
		{"2023-5", "2023-05"},
		{"2023/05", "2023-05"},
		{"2023/5", "2023-05"},
		{"2023.5", "2023-05"},
		{"202305", "2023-05"},
		{"2023年5月", "2023-05"},
		{"2023年05月", "2023-05"},
		{"2023 年 5 月", "2023-05"},
		{"２０２３年５月", "2023-05"},
		{"２０２３０５", "2023-05"},
		{" 2023-12 ", "2023-12"},
	} {
		got, err := NormalizeMonth(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeMonth(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, reason string }{
		{"2023-13", "month does not exist"},
		{"2023-00", "month does not exist"},
		{"202313", "month does not exist"},
		{"2023年0月", "month does not exist"},
		{"1899-12", "year is outside 1900–2099"},
		{"2023-05-06", "not a recognised form"},
		{"20230506", "not a recognised form"},
		{"2023年5月6日", "not a recognised form"},
		{"2023年5", "not a recognised form"},
		{"05/2023", "not a recognised form"},
		{"2023-005", "not a recognised form"},
		{"23-05", "not a recognised form"},
		{"", "not a recognised form"},
	} {
		got, err := NormalizeMonth(tc.in)
		if err == nil {
			t.Errorf("NormalizeMonth(%q) = %q, want error %q", tc.in, got, tc.reason)
			continue
		}
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("NormalizeMonth(%q): %v, want %q", tc.in, err, tc.reason)
		}
	}
}
