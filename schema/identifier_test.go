package schema

import (
	"errors"
	"strings"
	"testing"
)

// Synthetic resident ID numbers: the check digits were computed
// independently of this package (Python, weights 2^(17-i) mod 11), plus the
// two examples of GB 11643 itself (11010519491231002X, 440524188001010014).
var validIDNumbers = []string{
	"411528199003071237",
	"411528198512310043",
	"411502200002290034", // born 29 February 2000
	"411528202301010015",
	"11010519491231002X",
	"411528197001015558",
	"411528199909090098",
	"411528198808080080",
	"650102195911110123",
	"810000198001010014", // Hong Kong residents' residence permit
	"911412201512121118", // foreigners' permanent residence card (2023)
	"440524188001010014",
	"33010619830415281X",
}

func TestIDCheckDigit(t *testing.T) {
	for _, id := range validIDNumbers {
		got, err := IDCheckDigit(id[:17])
		if err != nil || got != id[17] {
			t.Errorf("IDCheckDigit(%s) = %q, %v; want %q", id[:17], got, err, id[17])
		}
	}
	for _, bad := range []string{"", "4115281990030712", "411528199003071237", "41152819900307123X", "４１１５２８１９９００３０７１２３"} {
		if _, err := IDCheckDigit(bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("IDCheckDigit(%q) = %v, want ErrInvalidValue", bad, err)
		}
	}
}

func TestNormalizeIDNumber(t *testing.T) {
	for _, id := range validIDNumbers {
		if got, err := NormalizeIDNumber(id); err != nil || got != id {
			t.Errorf("NormalizeIDNumber(%s) = %q, %v", id, got, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"11010519491231002x", "11010519491231002X"},
		{"33010619830415281x", "33010619830415281X"},
		{"４１１５２８１９９００３０７１２３７", "411528199003071237"},
		{"１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"},
		{"１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"},
		{"  411528199003071237\t", "411528199003071237"},
		{"\u3000411528199003071237\u3000", "411528199003071237"},
		{"\ufeff411528199003071237", "411528199003071237"},
		{"411528 19900307 1237", "411528199003071237"},
		// First-generation numbers: century 19 inserted, check digit computed.
		{"411528850307123", "411528198503071239"},
		{"110105491231002", "11010519491231002X"},
		{"４１１５２８８５０３０７１２３", "411528198503071239"},
	} {
		got, err := NormalizeIDNumber(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeIDNumber(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeIDNumberInvalid(t *testing.T) {
	today := civilDate{2025, 6, 15}
	for _, tc := range []struct{ in, reason string }{
		{"411528199003071238", "check digit is wrong"},
		{"411528199003071230", "check digit is wrong"},
		{"41152819900307123X", "check digit is wrong"},
		{"411528199003071273", "check digit is wrong"}, // two digits swapped
		{"411528199003071", "birth date is not a real date"},
		{"41152819900307123", "has 17 characters"},
		{"4115281990030712377", "has 19 characters"},
		{"", "has 0 characters"},
		{"41152819900307123Y", "last character must be a digit or X"},
		{"41152819900307A237", "first 17 characters must be digits"},
		{"4115288503071X3", "15-character number must be all digits"},
		{"王五", "has 2 characters"},
		// Valid check digits, impossible contents.
		{withCheck("41152819900230123"), "birth date is not a real date"}, // 30 February
		{withCheck("41152820230229123"), "birth date is not a real date"}, // 2023 is no leap year
		{withCheck("41152819001301123"), "birth date is not a real date"}, // month 13
		{withCheck("41152819000229123"), "birth date is not a real date"}, // 1900 is no leap year
		{withCheck("41152817991231123"), "birth year is before 1800"},
		{withCheck("41152820250616123"), "birth date is in the future"}, // tomorrow
		{withCheck("41152820990101123"), "birth date is in the future"},
		{withCheck("00152819900307123"), "region code"}, // no province 00
		{withCheck("99152819900307123"), "region code"}, // 9 then no province 91
		{withCheck("72152819900307123"), "region code"},
		{"001528850307123", "region code"},
		{"411528900230123", "birth date is not a real date"},
	} {
		got, err := normalizeIDNumber(tc.in, today)
		if err == nil {
			t.Errorf("normalizeIDNumber(%q) = %q, want error %q", tc.in, got, tc.reason)
			continue
		}
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("normalizeIDNumber(%q): %v, want %q", tc.in, err, tc.reason)
		}
		assertNotEchoed(t, tc.in, err)
	}
	// The same birth date is fine once it is today.
	if _, err := normalizeIDNumber(withCheck("41152820250615123"), today); err != nil {
		t.Errorf("born today: %v", err)
	}
}

// withCheck appends the check digit to 17 digits.
func withCheck(first17 string) string { return first17 + string(idCheck(first17)) }

// assertNotEchoed fails if an error message repeats six or more consecutive
// characters of the value it is about.
func assertNotEchoed(t *testing.T, value string, err error) {
	t.Helper()
	v := []rune(compact(value))
	msg := err.Error()
	for i := 0; i+6 <= len(v); i++ {
		if strings.Contains(msg, string(v[i:i+6])) {
			t.Errorf("error %q repeats part of the value", msg)
			return
		}
	}
}

// Credit codes: 91350100M000100Y43 is the example commonly cited for GB
// 32100; the others were computed independently (Python, weights 3^i mod 31).
var validCreditCodes = []string{
	"91350100M000100Y43",
	"91110000600037341L",
	"91411528MA90000019",
	"92411528MA4K0L0A00",
	"12411500005966130N",
	"52411528MA40A0001Q",
	"91411500MA47W3T2XL",
	"11100000000013127D",
}

func TestCreditCodeCheckChar(t *testing.T) {
	for _, c := range validCreditCodes {
		got, err := CreditCodeCheckChar(c[:17])
		if err != nil || got != c[17] {
			t.Errorf("CreditCodeCheckChar(%s) = %q, %v; want %q", c[:17], got, err, c[17])
		}
	}
	for _, bad := range []string{"", "91350100M000100Y", "91350100M000100I4", "91350100m000100Y4"} {
		if _, err := CreditCodeCheckChar(bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("CreditCodeCheckChar(%q) = %v, want ErrInvalidValue", bad, err)
		}
	}
}

func TestNormalizeCreditCode(t *testing.T) {
	for _, c := range validCreditCodes {
		if got, err := NormalizeCreditCode(c); err != nil || got != c {
			t.Errorf("NormalizeCreditCode(%s) = %q, %v", c, got, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"91350100m000100y43", "91350100M000100Y43"},
		{"９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43"},
		{" 9135 0100 M000 100Y 43 ", "91350100M000100Y43"},
		{"91110000600037341l", "91110000600037341L"},
	} {
		if got, err := NormalizeCreditCode(tc.in); err != nil || got != tc.want {
			t.Errorf("NormalizeCreditCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, reason string }{
		{"91350100M000100Y44", "check character is wrong"},
		{"91350100M000100Y34", "check character is wrong"},
		{"91350100M00100Y43", "has 17 characters"},
		{"410105000123456", "has 15 characters"}, // an old registration number
		{"91350100M000100I43", "character credit codes do not use"},
		{"91350100O000100Y43", "character credit codes do not use"},
		{"9135010-M000100Y43", "character credit codes do not use"},
		{"913501A0M000100Y43", "characters 3–8 must be the digits"},
		{"", "has 0 characters"},
	} {
		_, err := NormalizeCreditCode(tc.in)
		if err == nil || !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("NormalizeCreditCode(%q): %v, want %q", tc.in, err, tc.reason)
			continue
		}
		assertNotEchoed(t, tc.in, err)
	}
}

func TestIDOrCreditCode(t *testing.T) {
	f := &Field{Name: "respondent_id", Type: TypeIDOrCreditCode}
	for _, tc := range []struct{ in, want string }{
		{"411528199003071237", "411528199003071237"},
		{"11010519491231002x", "11010519491231002X"},
		{"411528850307123", "411528198503071239"},
		{"91350100M000100Y43", "91350100M000100Y43"},
		{"91411528ma90000019", "91411528MA90000019"},
		{"", ""},
	} {
		if got, err := f.Normalize(tc.in); err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, reason string }{
		{"411528199003071238", "invalid resident ID number: check digit is wrong"},
		{"91350100M000100Y44", "invalid unified social credit code: check character is wrong"},
		{"4115281990", "invalid ID number or credit code: has 10 characters"},
	} {
		_, err := f.Normalize(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("Normalize(%q): %v, want %q", tc.in, err, tc.reason)
		}
	}
}
