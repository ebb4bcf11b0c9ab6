package schema

import (
	"strings"
	"time"
	"unicode/utf8"
)

const (
	kindDate  = "date"
	kindMonth = "month"

	// minYear and maxYear bound the years of dates and months: a year
	// outside them is a typo in every dataset Qiao holds.
	minYear = 1900
	maxYear = 2099
)

// chinaTime is China Standard Time. China has kept UTC+8 without daylight
// saving since 1991, so a fixed zone gives the same "today" as Asia/Shanghai
// without needing the time-zone database.
var chinaTime = time.FixedZone("CST", 8*60*60)

// civilDate is a calendar date without a time zone.
type civilDate struct{ y, m, d int }

func civilDateOf(y, m, d int) (civilDate, bool) {
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return civilDate{}, false
	}
	return civilDate{y, m, d}, true
}

func (a civilDate) before(b civilDate) bool {
	if a.y != b.y {
		return a.y < b.y
	}
	if a.m != b.m {
		return a.m < b.m
	}
	return a.d < b.d
}

func chinaToday() civilDate {
	t := time.Now().In(chinaTime)
	return civilDate{t.Year(), int(t.Month()), t.Day()}
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// NormalizeDate validates a calendar date and returns it as YYYY-MM-DD.
//
// Accepted forms, with full-width digits or not: 2023-05-06, 2023-5-6,
// 2023/5/6, 2023.5.6, 20230506 and 2023年5月6日 (or 6号). A time of day after
// the date (2023-05-06 00:00:00, 2023-05-06T14:30) is accepted and dropped,
// as database exports of date columns carry one; a time zone is not. The
// date must exist (no 2023-02-29) and its year lie in 1900–2099.
func NormalizeDate(s string) (string, error) {
	if len(s) == 10 && s[4] == '-' && s[7] == '-' && allDigits(s[:4]) && allDigits(s[5:7]) && allDigits(s[8:]) {
		if err := checkDate(atoi(s[:4]), atoi(s[5:7]), atoi(s[8:])); err != nil {
			return "", err
		}
		return s, nil
	}
	y, m, d, err := parseDate(fold(trim(s)))
	if err != nil {
		return "", err
	}
	if err := checkDate(y, m, d); err != nil {
		return "", err
	}
	b := make([]byte, 0, 10)
	b = appendDigits(b, y, 4)
	b = append(b, '-')
	b = appendDigits(b, m, 2)
	b = append(b, '-')
	b = appendDigits(b, d, 2)
	return string(b), nil
}

var errDateForm = invalid(kindDate, "not a recognised form (YYYY-MM-DD, YYYY/M/D, YYYYMMDD or YYYY年M月D日)")

func parseDate(s string) (y, m, d int, err error) {
	var rest string
	switch n := leadingDigits(s); n {
	case 8:
		y, m, d, rest = atoi(s[:4]), atoi(s[4:6]), atoi(s[6:8]), s[8:]
	case 4:
		y = atoi(s[:4])
		p := s[4:]
		if t := strings.TrimLeft(p, " "); strings.HasPrefix(t, "年") {
			p = t
		}
		sep, size := utf8.DecodeRuneInString(p)
		p = p[size:]
		var ok bool
		switch sep {
		case '-', '/', '.':
			if m, p, ok = smallNumber(p); !ok || p == "" || rune(p[0]) != sep {
				return 0, 0, 0, errDateForm
			}
			if d, rest, ok = smallNumber(p[1:]); !ok {
				return 0, 0, 0, errDateForm
			}
		case '年':
			if m, p, ok = smallNumber(strings.TrimLeft(p, " ")); !ok {
				return 0, 0, 0, errDateForm
			}
			p, ok = strings.CutPrefix(strings.TrimLeft(p, " "), "月")
			if !ok {
				return 0, 0, 0, errDateForm
			}
			if d, p, ok = smallNumber(strings.TrimLeft(p, " ")); !ok {
				return 0, 0, 0, errDateForm
			}
			p = strings.TrimLeft(p, " ")
			if rest, ok = strings.CutPrefix(p, "日"); !ok {
				if rest, ok = strings.CutPrefix(p, "号"); !ok {
					return 0, 0, 0, errDateForm
				}
			}
		default:
			return 0, 0, 0, errDateForm
		}
	default:
		return 0, 0, 0, errDateForm
	}
	if rest != "" && !timeOfDay(rest) {
		return 0, 0, 0, invalid(kindDate, "only a time of day may follow the date, as HH:MM or HH:MM:SS")
	}
	return y, m, d, nil
}

// timeOfDay reports whether s is a separator (blanks or T) and a valid time
// of day, H:MM, H:MM:SS or H:MM:SS.fraction.
func timeOfDay(s string) bool {
	if s[0] == 'T' {
		s = s[1:]
	} else {
		t := strings.TrimLeft(s, " ")
		if t == s {
			return false
		}
		s = t
	}
	h, s, ok := smallNumber(s)
	if !ok || h > 23 || len(s) < 3 || s[0] != ':' || !allDigits(s[1:3]) || atoi(s[1:3]) > 59 {
		return false
	}
	s = s[3:]
	if s == "" {
		return true
	}
	if len(s) < 3 || s[0] != ':' || !allDigits(s[1:3]) || atoi(s[1:3]) > 59 {
		return false
	}
	s = s[3:]
	if s == "" {
		return true
	}
	return len(s) > 1 && s[0] == '.' && allDigits(s[1:])
}

func checkDate(y, m, d int) error {
	switch {
	case y < minYear || y > maxYear:
		return invalid(kindDate, "year is outside 1900–2099")
	case m < 1 || m > 12:
		return invalid(kindDate, "month does not exist")
	case d < 1 || d > daysIn(y, m):
		return invalid(kindDate, "day does not exist in that month")
	}
	return nil
}

// NormalizeMonth validates a calendar month and returns it as YYYY-MM.
// Accepted forms, with full-width digits or not: 2023-05, 2023-5, 2023/5,
// 2023.5, 202305 and 2023年5月. The year must lie in 1900–2099.
func NormalizeMonth(s string) (string, error) {
	if len(s) == 7 && s[4] == '-' && allDigits(s[:4]) && allDigits(s[5:]) {
		if err := checkMonth(atoi(s[:4]), atoi(s[5:])); err != nil {
			return "", err
		}
		return s, nil
	}
	s = fold(trim(s))
	errForm := invalid(kindMonth, "not a recognised form (YYYY-MM, YYYY/M, YYYYMM or YYYY年M月)")
	var y, m int
	switch leadingDigits(s) {
	case 6:
		if len(s) != 6 {
			return "", errForm
		}
		y, m = atoi(s[:4]), atoi(s[4:])
	case 4:
		y = atoi(s[:4])
		p := s[4:]
		if t := strings.TrimLeft(p, " "); strings.HasPrefix(t, "年") {
			p = t
		}
		sep, size := utf8.DecodeRuneInString(p)
		p = p[size:]
		var ok bool
		switch sep {
		case '-', '/', '.':
			if m, p, ok = smallNumber(p); !ok || p != "" {
				return "", errForm
			}
		case '年':
			if m, p, ok = smallNumber(strings.TrimLeft(p, " ")); !ok || strings.TrimLeft(p, " ") != "月" {
				return "", errForm
			}
		default:
			return "", errForm
		}
	default:
		return "", errForm
	}
	if err := checkMonth(y, m); err != nil {
		return "", err
	}
	b := make([]byte, 0, 7)
	b = appendDigits(b, y, 4)
	b = append(b, '-')
	b = appendDigits(b, m, 2)
	return string(b), nil
}

func checkMonth(y, m int) error {
	switch {
	case y < minYear || y > maxYear:
		return invalid(kindMonth, "year is outside 1900–2099")
	case m < 1 || m > 12:
		return invalid(kindMonth, "month does not exist")
	}
	return nil
}

// leadingDigits counts the ASCII digits s starts with.
func leadingDigits(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// smallNumber reads one or two leading digits.
func smallNumber(s string) (n int, rest string, ok bool) {
	i := leadingDigits(s)
	if i < 1 || i > 2 {
		return 0, s, false
	}
	return atoi(s[:i]), s[i:], true
}

// appendDigits appends n in decimal, zero-padded to width.
func appendDigits(b []byte, n, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for n > 0 || i > len(buf)-width {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[i:]...)
}
