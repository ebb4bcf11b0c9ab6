package schema

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	kindID     = "resident ID number"
	kindCredit = "unified social credit code"
)

// idWeights are the GB 11643 weights 2^(17-i) mod 11 of the first 17 digits.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum mod 11 to the check character.
const idCheckChars = "10X98765432"

// IDCheckDigit returns the GB 11643 check character ('0'–'9' or 'X') of the
// first 17 digits of a resident ID number.
func IDCheckDigit(first17 string) (byte, error) {
	if len(first17) != 17 || !allDigits(first17) {
		return 0, invalid(kindID, "the check digit is computed from exactly 17 digits")
	}
	return idCheck(first17), nil
}

func idCheck(first17 string) byte {
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// NormalizeIDNumber validates a resident ID number (公民身份号码) and returns
// its 18-character form with an upper-case X.
//
// Full-width digits, a lower-case x and blanks are accepted. A 15-digit
// first-generation number is converted: century 19 inserted before its
// two-digit birth year and the check digit computed. The check digit must be
// right (GB 11643), the region code must name a province-level division
// (or, for the 2023 foreigners' permanent residence card, 9 followed by
// one), and the birth date must be a real date, not before 1800 and not
// after today in China.
func NormalizeIDNumber(s string) (string, error) { return normalizeIDNumber(s, chinaToday()) }

func normalizeIDNumber(s string, today civilDate) (string, error) {
	s = compact(s)
	switch len(s) {
	case 18:
		if !allDigits(s[:17]) {
			return "", invalid(kindID, "the first 17 characters must be digits")
		}
		switch last := s[17]; {
		case last == 'x':
			s = s[:17] + "X"
		case last != 'X' && !isDigit(last):
			return "", invalid(kindID, "the last character must be a digit or X")
		}
		if s[17] != idCheck(s[:17]) {
			return "", invalid(kindID, "check digit is wrong")
		}
	case 15:
		if !allDigits(s) {
			return "", invalid(kindID, "a 15-character number must be all digits")
		}
		s = s[:6] + "19" + s[6:]
		s += string(idCheck(s))
	default:
		return "", invalid(kindID, fmt.Sprintf("has %d characters, not 18 (or 15 for a first-generation number)", utf8.RuneCountInString(s)))
	}
	province := s[:2]
	if s[0] == '9' {
		province = s[1:3]
	}
	if !isProvince(province) {
		return "", invalid(kindID, "region code does not start with a province-level code")
	}
	birth, ok := civilDateOf(atoi(s[6:10]), atoi(s[10:12]), atoi(s[12:14]))
	switch {
	case !ok:
		return "", invalid(kindID, "birth date is not a real date")
	case birth.y < 1800:
		return "", invalid(kindID, "birth year is before 1800")
	case today.before(birth):
		return "", invalid(kindID, "birth date is in the future")
	}
	return s, nil
}

// isProvince reports whether p is the code of a province-level division of
// GB/T 2260, or 81/82/83 for the residence permits of Hong Kong, Macao and
// Taiwan residents.
func isProvince(p string) bool {
	switch p {
	case "11", "12", "13", "14", "15",
		"21", "22", "23",
		"31", "32", "33", "34", "35", "36", "37",
		"41", "42", "43", "44", "45", "46",
		"50", "51", "52", "53", "54",
		"61", "62", "63", "64", "65",
		"71", "81", "82", "83":
		return true
	}
	return false
}

// creditAlphabet is GB 32100's character set: digits and upper-case letters
// except I, O, S, V and Z, valued 0–30 in this order.
const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditWeights are the GB 32100 weights 3^i mod 31.
var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeCheckChar returns the GB 32100 check character of the first 17
// characters of a unified social credit code.
func CreditCodeCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, invalid(kindCredit, "the check character is computed from exactly 17 characters")
	}
	for i := range 17 {
		if strings.IndexByte(creditAlphabet, first17[i]) < 0 {
			return 0, invalid(kindCredit, "contains a character credit codes do not use")
		}
	}
	return creditCheck(first17), nil
}

func creditCheck(first17 string) byte {
	sum := 0
	for i := range 17 {
		sum += strings.IndexByte(creditAlphabet, first17[i]) * creditWeights[i]
	}
	return creditAlphabet[(31-sum%31)%31]
}

// NormalizeCreditCode validates a unified social credit code (统一社会信用代码)
// and returns it in upper case. Full-width characters, lower-case letters
// and blanks are accepted. Characters 3–8 must be the digits of a region
// code and the last must be the GB 32100 check character.
func NormalizeCreditCode(s string) (string, error) {
	s = compact(s)
	if len(s) != 18 {
		return "", invalid(kindCredit, fmt.Sprintf("has %d characters, not 18", utf8.RuneCountInString(s)))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			s = strings.ToUpper(s)
			break
		}
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(creditAlphabet, s[i]) < 0 {
			return "", invalid(kindCredit, "contains a character credit codes do not use (only digits and letters other than I, O, S, V, Z)")
		}
	}
	if !allDigits(s[2:8]) {
		return "", invalid(kindCredit, "characters 3–8 must be the digits of a region code")
	}
	if s[17] != creditCheck(s[:17]) {
		return "", invalid(kindCredit, "check character is wrong")
	}
	return s, nil
}

// normalizeIDOrCreditCode accepts a resident ID number or a unified social
// credit code. Seventeen digits and a digit or X read as an ID number first.
func normalizeIDOrCreditCode(s string) (string, error) {
	c := compact(s)
	switch len(c) {
	case 15:
		return NormalizeIDNumber(c)
	case 18:
		if allDigits(c[:17]) && (isDigit(c[17]) || c[17] == 'X' || c[17] == 'x') {
			id, idErr := NormalizeIDNumber(c)
			if idErr == nil {
				return id, nil
			}
			if cc, err := NormalizeCreditCode(c); err == nil {
				return cc, nil
			}
			return "", idErr
		}
		return NormalizeCreditCode(c)
	}
	return "", invalid("ID number or credit code", fmt.Sprintf("has %d characters, not 18 (or 15 for a first-generation ID number)", utf8.RuneCountInString(c)))
}

// atoi converts a short run of ASCII digits already checked.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
