package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMoney(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fen  int64
		want string
	}{
		{"0", 0, "0.00"},
		{"1234", 123400, "1234.00"},
		{"1234.5", 123450, "1234.50"},
		{"1234.56", 123456, "1234.56"},
		{"0.05", 5, "0.05"},
		{"1,234.56", 123456, "1234.56"},
		{"12,345,678.90", 1234567890, "12345678.90"},
		{"¥1,234.56", 123456, "1234.56"},
		{"￥1234.56", 123456, "1234.56"},
		{"¥ 800", 80000, "800.00"},
		{"1234.56元", 123456, "1234.56"},
		{"1234.56 元", 123456, "1234.56"},
		{"￥3,000元", 300000, "3000.00"},
		{"１２３４．５６", 123456, "1234.56"},
		{"１，２３４．５０", 123450, "1234.50"},
		{"12.3000", 1230, "12.30"},
		{"12.00", 1200, "12.00"},
		{"007", 700, "7.00"},
		{"+12", 1200, "12.00"},
		{"-12.30", -1230, "-12.30"},
		{"-¥12.30", -1230, "-12.30"},
		{"¥-12.30", -1230, "-12.30"},
		{"-0.00", 0, "0.00"},
		{"-0.05", -5, "-0.05"},
		{" 56.7 ", 5670, "56.70"},
		{"999999999999999.99", 99999999999999999, "999999999999999.99"},
	} {
		m, err := ParseMoney(tc.in)
		if err != nil || int64(m) != tc.fen || m.String() != tc.want {
			t.Errorf("ParseMoney(%q) = %d (%s), %v; want %d (%s)", tc.in, int64(m), m, err, tc.fen, tc.want)
		}
	}
	for _, tc := range []struct{ in, reason string }{
		{"1.234", "more than two decimal places"},
		{"0.001", "more than two decimal places"},
		{"12,50", "groups of three digits"},
		{"1,2345.00", "groups of three digits"},
		{"1234,567", "groups of three digits"},
		{"1,,234", "not a number"},
		{",123", "not a number"},
		{"1.5万", "万元 are not accepted"},
		{"3万元", "万元 are not accepted"},
		{"12.", "not a number of yuan"},
		{"12.5a", "not a number of yuan"},
		{".5", "not a number"},
		{"", "not a number"},
		{"¥", "not a number"},
		{"-", "not a number"},
		{"--12", "not a number"},
		{"12元整", "not a number"},
		{"$12", "not a number"},
		{"1e5", "not a number"},
		{"壹佰元", "not a number"},
		{"1 234", "not a number"},
		{"1234567890123456", "is too large"},
	} {
		m, err := ParseMoney(tc.in)
		if err == nil {
			t.Errorf("ParseMoney(%q) = %s, want error %q", tc.in, m, tc.reason)
			continue
		}
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("ParseMoney(%q): %v, want %q", tc.in, err, tc.reason)
		}
	}
}

func TestMoneyField(t *testing.T) {
	f := &Field{Name: "amount", Type: TypeMoney}
	if _, err := f.Normalize("-12.30"); err == nil || !strings.Contains(err.Error(), "negative amount is not allowed") {
		t.Errorf("negative amount: %v", err)
	}
	if got, err := f.Normalize("-0"); err != nil || got != "0.00" {
		t.Errorf("-0 = %q, %v", got, err)
	}
	f.AllowNegative = true
	if got, err := f.Normalize("-12.3"); err != nil || got != "-12.30" {
		t.Errorf("negative allowed: %q, %v", got, err)
	}
}

func TestNormalizeInt(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "0"},
		{"12", "12"},
		{"007", "7"},
		{"1,200", "1200"},
		{"１２", "12"},
		{"12.0", "12"},
		{"36.00", "36"},
		{"+5", "5"},
		{"-5", "-5"},
		{"-0", "0"},
		{"999999999999999999", "999999999999999999"},
	} {
		got, err := NormalizeInt(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeInt(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, reason string }{
		{"12.5", "must be a whole number"},
		{"12.", "not a number"},
		{"12人", "not a number"},
		{"三", "not a number"},
		{"1,20", "groups of three"},
		{"1e3", "not a number"},
		{"", "not a number"},
		{"1000000000000000000", "is too large"},
	} {
		_, err := NormalizeInt(tc.in)
		if err == nil || !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("NormalizeInt(%q): %v, want %q", tc.in, err, tc.reason)
		}
	}
	f := &Field{Name: "workers", Type: TypeInt}
	if _, err := f.Normalize("-3"); err == nil || !strings.Contains(err.Error(), "negative number is not allowed") {
		t.Errorf("negative int: %v", err)
	}
}
