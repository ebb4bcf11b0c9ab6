package checkpoint_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
	"github.com/qiao-exchange/qiao/audit/merkle"
	"github.com/qiao-exchange/qiao/crypto/sm3"
)

func rootOf(s string) merkle.Hash { return merkle.Hash(sm3.Sum([]byte(s))) }

func b64(h merkle.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func TestMarshalParse(t *testing.T) {
	h := rootOf("root")
	tests := []struct {
		name string
		c    checkpoint.Checkpoint
		text string
	}{
		{"empty tree", checkpoint.Checkpoint{Origin: "qiao.example/audit", Size: 0, Hash: merkle.EmptyRoot()},
			"qiao.example/audit\n0\nGrIdg1XPoX+OYRlIMegajyK+yMco/vt0ftA161CCqis=\n"},
		{"size", checkpoint.Checkpoint{Origin: "qiao.example/audit", Size: 20852163, Hash: h},
			"qiao.example/audit\n20852163\n" + b64(h) + "\n"},
		{"largest size", checkpoint.Checkpoint{Origin: "o", Size: 1<<64 - 1, Hash: h},
			"o\n18446744073709551615\n" + b64(h) + "\n"},
		{"extensions", checkpoint.Checkpoint{Origin: "o", Size: 1, Hash: h, Extensions: []string{"ext one", "— two"}},
			"o\n1\n" + b64(h) + "\next one\n— two\n"},
		{"origin with spaces and plus, as the format allows", checkpoint.Checkpoint{Origin: "桥 审计+log", Size: 7, Hash: h},
			"桥 审计+log\n7\n" + b64(h) + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.text {
				t.Fatalf("Marshal = %q, want %q", got, tc.text)
			}
			back, err := checkpoint.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.c) {
				t.Fatalf("Parse = %+v, want %+v", back, tc.c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	h := b64(rootOf("root"))
	raw := rootOf("root")
	tests := []struct{ name, text, want string }{
		{"empty", "", "empty"},
		{"no final newline", "o\n5\n" + h, "line 3: no final newline"},
		{"origin only", "o\n", "line 2 (tree size) missing"},
		{"no root hash", "o\n5\n", "line 3 (root hash) missing"},
		{"empty origin", "\n5\n" + h + "\n", "line 1 (origin): empty"},
		{"blank line only", "\n", "line 1 (origin): empty"},
		{"leading zero", "o\n05\n" + h + "\n", "line 2 (tree size)"},
		{"zero with a leading zero", "o\n00\n" + h + "\n", "line 2 (tree size)"},
		{"plus sign", "o\n+5\n" + h + "\n", "line 2 (tree size)"},
		{"minus sign", "o\n-5\n" + h + "\n", "line 2 (tree size)"},
		{"leading space", "o\n 5\n" + h + "\n", "line 2 (tree size)"},
		{"trailing space", "o\n5 \n" + h + "\n", "line 2 (tree size)"},
		{"hex", "o\n0x5\n" + h + "\n", "line 2 (tree size)"},
		{"underscore", "o\n1_000\n" + h + "\n", "line 2 (tree size)"},
		{"overflow", "o\n18446744073709551616\n" + h + "\n", "line 2 (tree size)"},
		{"empty size", "o\n\n" + h + "\n", "line 2 (tree size): empty"},
		{"hash not base64", "o\n5\n" + strings.Repeat("!", 44) + "\n", "line 3 (root hash)"},
		{"hash base64url", "o\n5\n" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)) + "\n", "line 3 (root hash)"},
		{"hash without padding", "o\n5\n" + strings.TrimRight(h, "=") + "\n", "line 3 (root hash)"},
		{"hash of 31 bytes", "o\n5\n" + base64.StdEncoding.EncodeToString(raw[:31]) + "\n", "line 3 (root hash)"},
		{"hash of 33 bytes", "o\n5\n" + base64.StdEncoding.EncodeToString(append(raw[:], 0)) + "\n", "line 3 (root hash)"},
		{"hash with non-zero padding bits", "o\n5\n" + h[:42] + "B=\n", "line 3 (root hash)"},
		{"hash in hex", "o\n5\n" + raw.String() + "\n", "line 3 (root hash)"},
		{"blank extension line", "o\n5\n" + h + "\n\n", "line 4 (extension): empty"},
		{"blank line between extensions", "o\n5\n" + h + "\na\n\nb\n", "line 5 (extension): empty"},
		{"CRLF", "o\r\n5\r\n" + h + "\r\n", "line 1 (origin): control character U+000D"},
		{"tab", "o\t1\n5\n" + h + "\n", "line 1 (origin): control character U+0009"},
		{"invalid UTF-8", "o\xff\n5\n" + h + "\n", "line 1 (origin): invalid UTF-8"},
		{"invalid UTF-8 in an extension", "o\n5\n" + h + "\nok\n\xc3\n", "line 5 (extension): invalid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkpoint.Parse([]byte(tc.text))
			if !errors.Is(err, checkpoint.ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, want ErrMalformed", tc.text, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	h := rootOf("root")
	for name, c := range map[string]checkpoint.Checkpoint{
		"empty origin":               {Origin: "", Size: 1, Hash: h},
		"newline in origin":          {Origin: "a\nb", Size: 1, Hash: h},
		"control character":          {Origin: "a\x00", Size: 1, Hash: h},
		"invalid UTF-8":              {Origin: "\xff", Size: 1, Hash: h},
		"empty extension":            {Origin: "o", Size: 1, Hash: h, Extensions: []string{""}},
		"newline in extension":       {Origin: "o", Size: 1, Hash: h, Extensions: []string{"a\n"}},
		"blank line as an extension": {Origin: "o", Size: 1, Hash: h, Extensions: []string{"x", "\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			if text, err := c.Marshal(); !errors.Is(err, checkpoint.ErrMalformed) {
				t.Errorf("Marshal = %q, %v; want ErrMalformed", text, err)
			}
		})
	}
}
