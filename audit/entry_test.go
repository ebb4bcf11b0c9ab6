package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/audit/merkle"
)

var goldenEntry = Entry{
	Seq:           7,
	Time:          time.Date(2026, 11, 25, 8, 30, 0, 123456000, time.UTC),
	Actor:         Actor{Principal: "gongan.hz.system", Agency: "gongan.hz", Roles: []string{"sender", "reader"}},
	Action:        ActionDatasetPush,
	Resource:      Resource{Kind: KindBatch, ID: "2026-11-25-001"},
	Dataset:       "household_registry",
	Decision:      Decision{Effect: Allow, Reasons: []string{"sender of dataset", "<schema> & \"v2\""}, PolicyRevision: "rev-42"},
	RequestDigest: strings.Repeat("ab", 32),
	Result:        Result{Status: StatusOK},
	Tokens:        []string{strings.Repeat("1f", 32), strings.Repeat("0e", 32)},
}

const goldenEncoding = `{"action":"dataset.push","actor":{"agency":"gongan.hz","principal":"gongan.hz.system","roles":["reader","sender"]},"dataset":"household_registry","decision":{"effect":"allow","policy_revision":"rev-42","reasons":["sender of dataset","<schema> & \"v2\""]},"request_digest":"abababababababababababababababababababababababababababababababab","resource":{"id":"2026-11-25-001","kind":"batch"},"result":{"code":"","status":"ok"},"seq":7,"time":"2026-11-25T08:30:00.123456Z","tokens":["0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e","1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f"],"v":1}`

const goldenLeafHash = "271fa6d06d3d5b034018ccbccd84448bdd429696333921a9e829481ae4b09b14"

func TestEntryGolden(t *testing.T) {
	b, err := goldenEntry.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != goldenEncoding {
		t.Fatalf("Encode:\n got %s\nwant %s", b, goldenEncoding)
	}
	// The leaf hash docs/audit.md gives, which OpenSSL reproduces.
	if h := merkle.LeafHash(b).String(); h != goldenLeafHash {
		t.Fatalf("leaf hash %s, want %s", h, goldenLeafHash)
	}
	e, err := ParseEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Encode()
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("re-encoding differs: %s, %v", again, err)
	}
}

func TestParseEntryRefusesNonCanonical(t *testing.T) {
	g := goldenEncoding
	cases := map[string]string{
		"space after colon":    strings.Replace(g, `"action":`, `"action": `, 1),
		"trailing newline":     g + "\n",
		"leading space":        " " + g,
		"keys out of order":    strings.Replace(g, `"result":{"code":"","status":"ok"}`, `"result":{"status":"ok","code":""}`, 1),
		"unsorted roles":       strings.Replace(g, `["reader","sender"]`, `["sender","reader"]`, 1),
		"duplicate role":       strings.Replace(g, `["reader","sender"]`, `["reader","reader","sender"]`, 1),
		"unknown field":        strings.Replace(g, `"v":1}`, `"v":1,"x":1}`, 1),
		"missing field":        strings.Replace(g, `"dataset":"household_registry",`, ``, 1),
		"null array":           strings.Replace(g, `"roles":["reader","sender"]`, `"roles":null`, 1),
		"escaped letter":       strings.Replace(g, `"dataset.push"`, `"d\u0061taset.push"`, 1),
		"escaped html":         strings.Replace(g, `<schema>`, `\u003cschema>`, 1),
		"upper-case key":       strings.Replace(g, `"action"`, `"Action"`, 1),
		"duplicate key":        strings.Replace(g, `"v":1}`, `"v":1,"v":1}`, 1),
		"time without micros":  strings.Replace(g, `08:30:00.123456Z`, `08:30:00.123Z`, 1),
		"time zone offset":     strings.Replace(g, `08:30:00.123456Z`, `08:30:00.123456+00:00`, 1),
		"seq with exponent":    strings.Replace(g, `"seq":7`, `"seq":7e0`, 1),
		"seq with leading 0":   strings.Replace(g, `"seq":7`, `"seq":07`, 1),
		"upper-case digest":    strings.Replace(g, strings.Repeat("ab", 32), strings.Repeat("AB", 32), 1),
		"version 2":            strings.Replace(g, `"v":1}`, `"v":2}`, 1),
		"unknown decision":     strings.Replace(g, `"effect":"allow"`, `"effect":"maybe"`, 1),
		"invalid UTF-8":        strings.Replace(g, `household`, "house\xffhold", 1),
		"two values":           g + g,
		"empty":                ``,
		"error result no code": strings.Replace(g, `"status":"ok"`, `"status":"error"`, 1),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseEntry([]byte(in)); !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("ParseEntry = %v, want ErrNonCanonical", err)
			}
		})
	}
}

func TestEntryValidate(t *testing.T) {
	ok := testEntry(1)
	ok.Time = time.Now()
	cases := map[string]func(*Entry){
		"no time":         func(e *Entry) { e.Time = time.Time{} },
		"bad action":      func(e *Entry) { e.Action = "Push" },
		"unknown kind":    func(e *Entry) { e.Resource.Kind = "table" },
		"kind without ID": func(e *Entry) { e.Resource.ID = "" },
		"ID without kind": func(e *Entry) { e.Resource.Kind = "" },
		"no decision":     func(e *Entry) { e.Decision.Effect = "" },
		"bad digest":      func(e *Entry) { e.RequestDigest = "abc" },
		"plaintext token": func(e *Entry) { e.Tokens = []string{"110101199001011234"} },
		"ok with code":    func(e *Entry) { e.Result.Code = "internal" },
		"no result":       func(e *Entry) { e.Result.Status = "" },
		"invalid UTF-8":   func(e *Entry) { e.Actor.Agency = "\xff" },
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range cases {
		e := ok
		mod(&e)
		if _, err := e.Encode(); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%s: Encode = %v, want ErrInvalidEntry", name, err)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(goldenEncoding))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err != nil {
			return
		}
		again, err := e.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %q but re-encodes to %q, %v", b, again, err)
		}
	})
}
