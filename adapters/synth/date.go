package synth

import (
	"strconv"
	"time"
)

// day is a calendar date as the number of days since 1970-01-01. Dates are
// civil dates in China Standard Time; no time zone arithmetic is involved.
type day int32

// none marks an empty date (not filed, still detained, never died).
const none day = -1 << 30

// dayOf returns the day of a calendar date (Howard Hinnant's days_from_civil).
func dayOf(y, m, d int) day {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return day(era*146097 + doe - 719468)
}

// date returns the calendar date of a day.
func (t day) date() (y, m, d int) {
	z := int(t) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func (t day) year() int { y, _, _ := t.date(); return y }

// month returns the month index y*12+m-1 of a day.
func (t day) month() int { y, m, _ := t.date(); return y*12 + m - 1 }

// addMonths adds n calendar months, keeping the day of the month where it
// exists and taking the month's last day where it does not (as SQL does).
func (t day) addMonths(n int) day {
	y, m, d := t.date()
	mi := y*12 + m - 1 + n
	y, m = mi/12, mi%12+1
	if dm := daysIn(y, m); d > dm {
		d = dm
	}
	return dayOf(y, m, d)
}

// addYears adds n calendar years (29 February becomes 28 February).
func (t day) addYears(n int) day { return t.addMonths(12 * n) }

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

// String returns the day as YYYY-MM-DD, the canonical form.
func (t day) String() string {
	if t == none {
		return ""
	}
	return string(appendDate(nil, t, isoDate))
}

// monthString returns a month index as YYYY-MM.
func monthString(mi int) string {
	b := appendPadded(nil, mi/12, 4)
	b = append(b, '-')
	return string(appendPadded(b, mi%12+1, 2))
}

// dateStyle is one of the ways agencies' systems write dates.
type dateStyle uint8

const (
	isoDate      dateStyle = iota // 2023-05-06
	slashDate                     // 2023/5/6
	compactDate                   // 20230506
	chineseDate                   // 2023年5月6日
	isoDateTime                   // 2023-05-06 09:31:27
	slashMinutes                  // 2023/5/6 14:20
	isoMidnight                   // 2023-05-06 00:00:00, a DATE column exported as a timestamp
)

// appendDate appends t in the given style; an empty date appends nothing.
func appendDate(b []byte, t day, s dateStyle) []byte { return appendDateAt(b, t, s, 0) }

// appendDateAt is appendDate with the time of day, for the styles that
// print one, drawn from the day and salt (e.g. a hash of the record number).
func appendDateAt(b []byte, t day, s dateStyle, salt uint64) []byte {
	if t == none {
		return b
	}
	y, m, d := t.date()
	switch s {
	case slashDate, slashMinutes:
		b = strconv.AppendInt(b, int64(y), 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(m), 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(d), 10)
		if s == slashMinutes {
			h := mix(uint64(t)^salt, 7)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(7+h%14), 10)
			b = append(b, ':')
			b = appendPadded(b, int(h>>8%60), 2)
		}
	case compactDate:
		b = appendPadded(b, y, 4)
		b = appendPadded(b, m, 2)
		b = appendPadded(b, d, 2)
	case chineseDate:
		b = strconv.AppendInt(b, int64(y), 10)
		b = append(b, "年"...)
		b = strconv.AppendInt(b, int64(m), 10)
		b = append(b, "月"...)
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, "日"...)
	default:
		b = appendPadded(b, y, 4)
		b = append(b, '-')
		b = appendPadded(b, m, 2)
		b = append(b, '-')
		b = appendPadded(b, d, 2)
		if s == isoMidnight {
			b = append(b, " 00:00:00"...)
		}
		if s == isoDateTime {
			h := mix(uint64(t)^salt, 11)
			b = append(b, ' ')
			b = appendPadded(b, int(8+h%10), 2)
			b = append(b, ':')
			b = appendPadded(b, int(h>>8%60), 2)
			b = append(b, ':')
			b = appendPadded(b, int(h>>16%60), 2)
		}
	}
	return b
}

func appendPadded(b []byte, n, width int) []byte {
	var tmp [8]byte
	i := len(tmp)
	for n > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	for w := len(tmp) - i; w < width; w++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// mix is a SplitMix64 step over x and a salt: a cheap, stateless hash used
// where a value must depend only on its inputs.
func mix(x, salt uint64) uint64 {
	z := x + salt*0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// chinaTime is China Standard Time (UTC+8, no daylight saving since 1991).
var chinaTime = time.FixedZone("CST", 8*60*60)

// dayOfTime returns the calendar date of t in its own location.
func dayOfTime(t time.Time) day {
	y, m, d := t.Date()
	return dayOf(y, int(m), d)
}

// money is an amount in fen.
type money int64

func (m money) String() string { return string(appendMoney(nil, m)) }

func appendMoney(b []byte, m money) []byte {
	if m < 0 {
		b = append(b, '-')
		m = -m
	}
	b = strconv.AppendInt(b, int64(m/100), 10)
	return append(b, '.', byte('0'+m%100/10), byte('0'+m%10))
}
