package envelope

import (
	"bytes"
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// fuzzSeeds returns marshalled envelopes of the example: the golden file and
// a fresh seal.
func fuzzSeeds(tb testing.TB, k keys) [][]byte {
	golden, err := os.ReadFile(goldenFile)
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{golden, mustMarshal(tb, k.seal(tb, examplePlaintext))}
}

// FuzzOpen feeds wire bytes to Parse and Open: whatever the input, they
// return one of the package's errors or the genuine payload, and never panic.
// Only an envelope the sender's key really signed can open, so any success
// is one of the seeds.
func FuzzOpen(f *testing.F) {
	k := exampleKeys(f)
	for _, s := range fuzzSeeds(f, k) {
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(append(bytes.Clone(s), 0x1a, 0x00))
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse(data)
		if err != nil {
			if sentinelOf(err) == nil {
				t.Fatalf("Parse: %v is none of the package's errors", err)
			}
			return
		}
		again, err := Marshal(env)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("Marshal(Parse(b)) != b: %v", err)
		}
		ad, pt, err := Open(env, k.recipient, k.sender.PublicKey())
		if err != nil {
			if sentinelOf(err) == nil {
				t.Fatalf("Open: %v is none of the package's errors", err)
			}
			return
		}
		if ad != exampleAD || !bytes.Equal(pt, examplePlaintext) {
			t.Fatalf("opened a payload no seed holds: %+v %q", ad, pt)
		}
	})
}

// FuzzOpenSigned reaches past the signature: the input is content that a
// sender holding a valid key signs, as a compromised or buggy sender could.
// Open must refuse anything but a genuine seal with one of the package's
// errors; and content that passes the canonical check re-encodes to itself.
func FuzzOpenSigned(f *testing.F) {
	k := exampleKeys(f)
	for _, s := range fuzzSeeds(f, k) {
		env, err := Parse(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env.Content)
		f.Add(env.Content[:len(env.Content)-1])
		f.Add(append(bytes.Clone(env.Content), 0x08, 0x02))
		f.Add(resign(f, env, k.sender, func(c *exchangev1.EnvelopeContent) { c.AssociatedData.Dataset = "court.criminal_judgments" }).Content)
		f.Add(resign(f, env, k.sender, func(c *exchangev1.EnvelopeContent) { c.Version = 2 }).Content)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		c := new(exchangev1.EnvelopeContent)
		if checkCanonical(content, c.ProtoReflect().Descriptor()) == nil && proto.Unmarshal(content, c) == nil {
			again, err := canonical.Marshal(c)
			if err != nil || !bytes.Equal(again, content) {
				t.Fatalf("canonical content re-encodes differently: %v\n in %x\nout %x", err, content, again)
			}
		}
		if len(content) == 0 {
			return
		}
		env := signRaw(t, k.sender, content)
		ad, pt, err := Open(env, k.recipient, k.sender.PublicKey())
		if err != nil {
			if sentinelOf(err) == nil {
				t.Fatalf("Open: %v is none of the package's errors", err)
			}
			return
		}
		if ad != exampleAD || !bytes.Equal(pt, examplePlaintext) {
			t.Fatalf("opened a payload no seed holds: %+v %q", ad, pt)
		}
	})
}
