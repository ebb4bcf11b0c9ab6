package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeBool(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"是", "true"}, {"否", "false"},
		{"有", "true"}, {"无", "false"},
		{"1", "true"}, {"0", "false"},
		{"１", "true"}, {"０", "false"},
		{"true", "true"}, {"false", "false"},
		{"TRUE", "true"}, {"False", "false"},
		{"Y", "true"}, {"N", "false"},
		{"y", "true"}, {"n", "false"},
		{"Ｙ", "true"}, {"ｎ", "false"},
		{"yes", "true"}, {"No", "false"},
		{" 是 ", "true"},
	} {
		got, err := NormalizeBool(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeBool(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "2", "-1", "对", "不是", "是的", "T", "F", "yes!", "NULL"} {
		if got, err := NormalizeBool(in); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("NormalizeBool(%q) = %q, %v; want ErrInvalidValue", in, got, err)
		}
	}
}

func TestFieldNormalizeEnum(t *testing.T) {
	r := mustLoad(t)
	d, _ := r.Get("police.traffic_accidents")
	f, _ := d.Field("responsibility")
	for _, tc := range []struct{ in, want string }{
		{"全部", "全部"}, {"全部责任", "全部"}, {"全责", "全部"},
		{"主要", "主要"}, {"主要责任", "主要"}, {"主责", "主要"},
		{"同等", "同等"}, {"同等责任", "同等"},
		{"次要", "次要"}, {"次要责任", "次要"}, {"次责", "次要"},
		{"无", "无"}, {"无责任", "无"}, {"无责", "无"},
		{" 次要 责任 ", "次要"},
		{"\u3000无责任\u3000", "无"},
		{"", ""},
	} {
		got, err := f.Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("responsibility %q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"部分", "主要责任方", "次", "无法认定", "1"} {
		_, err := f.Normalize(in)
		if err == nil || !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "not one of 全部/主要/同等/次要/无") {
			t.Errorf("responsibility %q: %v", in, err)
		}
	}

	c, _ := r.Get("court.enforcement_cases")
	m, _ := c.Field("closing_method")
	for _, tc := range []struct{ in, want string }{
		{"执行和解", "执行和解"}, {"和解", "执行和解"}, {"达成执行和解", "执行和解"},
		{"终本", "终结本次执行程序"}, {"执行完毕", "执行完毕"},
	} {
		if got, err := m.Normalize(tc.in); err != nil || got != tc.want {
			t.Errorf("closing_method %q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}

	// Latin enum values compare without case or width.
	f = &Field{Name: "level", Type: TypeEnum, Values: []EnumValue{{Value: "A", Accept: []string{"alpha"}}, {Value: "B"}}}
	if p := f.prepareEnum(); p != nil {
		t.Fatal(p)
	}
	for _, tc := range []struct{ in, want string }{{"a", "A"}, {"Ａ", "A"}, {"ALPHA", "A"}, {"b", "B"}} {
		if got, err := f.Normalize(tc.in); err != nil || got != tc.want {
			t.Errorf("level %q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestFieldNormalizeRequired(t *testing.T) {
	for _, typ := range types {
		f := &Field{Name: "x", Type: typ, Required: true, Values: []EnumValue{{Value: "甲"}}}
		f.prepareEnum()
		for _, in := range []string{"", " ", "\u3000", "\t\r\n", "\ufeff"} {
			_, err := f.Normalize(in)
			if err == nil || !errors.Is(err, ErrInvalidValue) || err.Error() != "required value is missing" {
				t.Errorf("%s required, %q: %v", typ, in, err)
			}
		}
		f.Required = false
		if got, err := f.Normalize("  "); err != nil || got != "" {
			t.Errorf("%s optional, blank: %q, %v", typ, got, err)
		}
	}
}

func TestFieldNormalizeText(t *testing.T) {
	f := &Field{Name: "name", Type: TypeString}
	for _, tc := range []struct{ in, want string }{
		{"张三", "张三"},
		{" 张三 ", "张三"},
		{"\u3000欧阳 娜娜\u3000", "欧阳 娜娜"},
		{"ＡＢＣ建筑有限公司", "ＡＢＣ建筑有限公司"}, // free text is kept as written
		{"第一行\n第二行", "第一行\n第二行"},
	} {
		if got, err := f.Normalize(tc.in); err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, reason string }{
		{"张\x00三", "control character"},
		{"张\x1b三", "control character"},
		{"张\u0085三", "control character"},
		{"张\xff三", "not valid UTF-8"},
	} {
		_, err := f.Normalize(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("Normalize(%q): %v, want %q", tc.in, err, tc.reason)
		}
	}
}

func mustLoad(t testing.TB) *Registry {
	t.Helper()
	r, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	return r
}
