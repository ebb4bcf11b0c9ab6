package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeCaseNo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"（2023）豫1528执123号", "（2023）豫1528执123号"},
		{"(2023)豫1528执123号", "（2023）豫1528执123号"},
		{"(2023）豫1528执123号", "（2023）豫1528执123号"},
		{"〔2023〕豫1528执123号", "（2023）豫1528执123号"},
		{"[2023]豫1528执123号", "（2023）豫1528执123号"},
		{"【2023】豫1528执123号", "（2023）豫1528执123号"},
		{"［２０２３］豫１５２８执１２３号", "（2023）豫1528执123号"},
		{"2023豫1528执123号", "（2023）豫1528执123号"},
		{" ( 2023 ) 豫1528 执 123 号 ", "（2023）豫1528执123号"},
		{"（２０２３）豫１５２８执１２３号", "（2023）豫1528执123号"},
		{"(2023)豫1528执0123号", "（2023）豫1528执123号"},
		{"(2024)豫1528执恢12号", "（2024）豫1528执恢12号"},
		{"(2023)豫1528行审45号", "（2023）豫1528行审45号"},
		{"(2023)豫1528刑初201号", "（2023）豫1528刑初201号"},
		{"(2023)豫1528民初3360号", "（2023）豫1528民初3360号"},
		{"(2024)豫15民终7号", "（2024）豫15民终7号"},
		{"(2023)豫民申100号", "（2023）豫民申100号"},
		{"(2023)最高法民申1号", "（2023）最高法民申1号"},
		{"(2023)最高法知民终5号", "（2023）最高法知民终5号"},
		{"(2023)京73知民初12号", "（2023）京73知民初12号"},
		{"(2023)沪72民初1号", "（2023）沪72民初1号"},
		{"(2023)兵0101民初9号", "（2023）兵0101民初9号"},
		{"(2022)黔01刑终3号", "（2022）黔01刑终3号"},
		{"(2023)豫1528执123号之一", "（2023）豫1528执123号之一"},
		{"(2023)豫1528执123号之2", "（2023）豫1528执123号之2"},
		// Before 2016 case numbers read 字第 and named the court otherwise.
		{"(2010)潢刑初字第12号", "（2010）潢刑初字第12号"},
		{"（2014）信中法民一终字第0345号", "（2014）信中法民一终字第345号"},
	} {
		got, err := NormalizeCaseNo(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeCaseNo(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeCaseNoInvalid(t *testing.T) {
	for _, tc := range []struct{ in, reason string }{
		{"(2023)豫1528执123", "must end with 号"},
		{"(2023)豫1528执123号码", "must end with 号"},
		{"(2023)豫1528执123号之", "must end with 号"},
		{"(2023)豫1528执123号之甲", "must end with 号"},
		{"(2023豫1528执123号", "bracket after the year is not closed"},
		{"2023)豫1528执123号", "bracket before the year is missing"},
		{"(23)豫1528执123号", "must start with the year"},
		{"豫1528执123号", "must start with the year"},
		{"执123号", "must start with the year"},
		{"", "must start with the year"},
		{"(1899)豫1528执123号", "year is outside 1900–2099"},
		{"(2023)美1528执123号", "court code does not start with"},
		{"(2023)1528执123号", "court code does not start with"},
		{"(2023)豫15288执123号", "more than four digits"},
		{"(2023)豫1528123号", "case type"},
		{"(2023)豫1528执号", "sequence number must be digits"},
		{"(2023)豫1528执12a号", "sequence number must be digits"},
		{"(2023)豫1528执0号", "sequence number is zero"},
		{"(2010)字第12号", "court and case type are missing"},
		{"(2010)潢刑初字第号", "sequence number is missing"},
		{"(2010)潢刑初字第十二号", "sequence number is missing"},
		{"(2023)豫1528执123号\xff", "not valid UTF-8"},
	} {
		got, err := NormalizeCaseNo(tc.in)
		if err == nil {
			t.Errorf("NormalizeCaseNo(%q) = %q, want error %q", tc.in, got, tc.reason)
			continue
		}
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("NormalizeCaseNo(%q): %v, want %q", tc.in, err, tc.reason)
		}
	}
}

func TestNormalizeDocNo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"豫潢人社监移〔2023〕5号", "豫潢人社监移〔2023〕5号"},
		{"豫潢人社监移(2023)5号", "豫潢人社监移〔2023〕5号"},
		{"豫潢人社监移（2023）5号", "豫潢人社监移〔2023〕5号"},
		{"豫潢人社监移[2023]5号", "豫潢人社监移〔2023〕5号"},
		{"豫潢人社监移【2023】5号", "豫潢人社监移〔2023〕5号"},
		{"豫潢人社监移［２０２３］５号", "豫潢人社监移〔2023〕5号"},
		{" 豫潢人社监移 〔2023〕 5号 ", "豫潢人社监移〔2023〕5号"},
		{"(2023)潢人社移1号", "〔2023〕潢人社移1号"},
		{"潢人社移字第5号", "潢人社移字第5号"},
		{"YS-2023-0005", "YS-2023-0005"},
		{"移(12345)号", "移(12345)号"},
		{"移(202)号", "移(202)号"},
		{"移(2023", "移(2023"},
	} {
		got, err := NormalizeDocNo(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeDocNo(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, reason string }{
		{"\u3000", "is empty"},
		{"移\x00号", "control character"},
		{"移\xff号", "not valid UTF-8"},
	} {
		_, err := NormalizeDocNo(tc.in)
		if err == nil || !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("NormalizeDocNo(%q): %v, want %q", tc.in, err, tc.reason)
		}
	}
}
