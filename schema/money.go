package schema

import (
	"strconv"
	"strings"
)

const (
	kindMoney = "amount"
	kindInt   = "number"

	// maxMoneyDigits bounds the yuan part of an amount (below a quadrillion
	// yuan), so that every amount fits in an int64 of fen.
	maxMoneyDigits = 15
	// maxIntDigits keeps whole numbers within int64.
	maxIntDigits = 18
)

// Money is an amount in fen (分), a hundredth of a yuan.
type Money int64

// String returns the amount in yuan with exactly two decimals, e.g. "1234.50"
// or "-0.05": the canonical form of a money field.
func (m Money) String() string {
	n := int64(m)
	var b []byte
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendInt(b, n/100, 10)
	b = append(b, '.', byte('0'+n%100/10), byte('0'+n%10))
	return string(b)
}

// ParseMoney reads an amount in yuan with at most two decimals.
//
// Accepted: 1234, 1234.5, 1234.56, 1,234.56, ¥1,234.56, ￥1234.56, 1234.56元,
// -12.30, full-width digits. Decimals beyond the second are accepted only
// when they are zeros (database exports write 12.3000). Thousands separators
// must separate groups of three, so that a decimal comma (12,50) is refused
// rather than read as 1250. Amounts in 万元 are refused: the unit is the yuan.
// A negative amount parses; a Field refuses it unless it allows negatives.
func ParseMoney(s string) (Money, error) {
	t := fold(trim(s))
	t, neg := cutSign(t)
	if u, ok := strings.CutPrefix(t, "¥"); ok {
		t = strings.TrimLeft(u, " ")
		if !neg {
			t, neg = cutSign(t)
		}
	}
	if u, ok := strings.CutSuffix(t, "元"); ok {
		t = strings.TrimRight(u, " ")
	}
	if strings.Contains(t, "万") {
		return 0, invalid(kindMoney, "amounts in 万元 are not accepted; give yuan")
	}
	whole, frac, dot := strings.Cut(t, ".")
	yuan, err := parseGrouped(whole, maxMoneyDigits, kindMoney)
	if err != nil {
		return 0, err
	}
	fen := int64(0)
	if dot {
		if frac == "" || !allDigits(frac) {
			return 0, invalid(kindMoney, "not a number of yuan")
		}
		for i := 2; i < len(frac); i++ {
			if frac[i] != '0' {
				return 0, invalid(kindMoney, "has more than two decimal places")
			}
		}
		if len(frac) > 0 {
			fen += int64(frac[0]-'0') * 10
		}
		if len(frac) > 1 {
			fen += int64(frac[1] - '0')
		}
	}
	m := yuan*100 + fen
	if neg {
		m = -m
	}
	return Money(m), nil
}

// cutSign removes a leading + or - and reports a minus.
func cutSign(s string) (string, bool) {
	if s == "" {
		return s, false
	}
	switch s[0] {
	case '-':
		return s[1:], true
	case '+':
		return s[1:], false
	}
	return s, false
}

// parseGrouped reads a non-negative whole number of at most maxDigits
// digits, written plainly or with commas between groups of three.
func parseGrouped(s string, maxDigits int, kind string) (int64, error) {
	if s == "" {
		return 0, invalid(kind, "not a number")
	}
	if strings.IndexByte(s, ',') >= 0 {
		groups := strings.Split(s, ",")
		for i, g := range groups {
			if !allDigits(g) || g == "" {
				return 0, invalid(kind, "not a number")
			}
			if (i == 0 && len(g) > 3) || (i > 0 && len(g) != 3) {
				return 0, invalid(kind, "thousands separators must separate groups of three digits")
			}
		}
		s = strings.Join(groups, "")
	} else if !allDigits(s) {
		return 0, invalid(kind, "not a number")
	}
	s = strings.TrimLeft(s, "0")
	if len(s) > maxDigits {
		return 0, invalid(kind, "is too large")
	}
	n := int64(0)
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n, nil
}

// parseInt reads a whole number: digits, optionally signed, with commas
// between groups of three, and optionally a fraction of zeros (12.0), as
// spreadsheets write whole numbers.
func parseInt(s string) (int64, error) {
	t := fold(trim(s))
	t, neg := cutSign(t)
	whole, frac, dot := strings.Cut(t, ".")
	if dot && (frac == "" || strings.Trim(frac, "0") != "") {
		if allDigits(frac) && frac != "" {
			return 0, invalid(kindInt, "must be a whole number")
		}
		return 0, invalid(kindInt, "not a number")
	}
	n, err := parseGrouped(whole, maxIntDigits, kindInt)
	if err != nil {
		return 0, err
	}
	if neg {
		n = -n
	}
	return n, nil
}

// NormalizeInt validates a whole number and returns it in decimal without
// leading zeros or separators. It accepts negative numbers; a Field refuses
// them unless it allows negatives.
func NormalizeInt(s string) (string, error) {
	n, err := parseInt(s)
	if err != nil {
		return "", err
	}
	return formatInt(n), nil
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
