package checkpoint_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/qiao-exchange/qiao/audit/checkpoint"
)

// FuzzParse reads arbitrary text as a checkpoint: what is accepted marshals
// back to exactly the same text (one encoding per checkpoint), what is
// refused is ErrMalformed.
func FuzzParse(f *testing.F) {
	text, _ := testCheckpoint().Marshal()
	f.Add(text)
	f.Add([]byte("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n"))
	f.Add([]byte("o\n0\nGrIdg1XPoX+OYRlIMegajyK+yMco/vt0ftA161CCqis=\n"))
	f.Add([]byte("o\n01\n\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := checkpoint.Parse(text)
		if err != nil {
			if !errors.Is(err, checkpoint.ErrMalformed) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("parsed checkpoint %+v does not marshal: %v", c, err)
		}
		if !bytes.Equal(out, text) {
			t.Fatalf("%q parses and marshals to %q", text, out)
		}
		again, err := checkpoint.Parse(out)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}

// FuzzOpen gives Open arbitrary notes: it must not panic, must classify
// every refusal with a documented error, and may accept a note only if its
// signature by the key is genuine — here, only a note made by Sign (or a
// copy with other keys' signature lines added, removed or reordered).
func FuzzOpen(f *testing.F) {
	k := testKey(f, "log key")
	v := testVerifier(f, origin, k)
	good := sign(f, testCheckpoint(), origin, k)
	text, _ := testCheckpoint().Marshal()
	f.Add(good)
	f.Add(append(bytes.Clone(good), sigLine("witness.example", 1, []byte("sig"))...))
	f.Add(append(bytes.Clone(text), "\n— x AAAAAAA=\n"...))
	f.Add([]byte("\n\n— a AAAAAAA=\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, n []byte) {
		c, err := checkpoint.Open(n, v)
		if err != nil {
			for _, e := range []error{checkpoint.ErrMalformedNote, checkpoint.ErrUnverified, checkpoint.ErrSignature, checkpoint.ErrMalformed} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("undocumented error %v", err)
		}
		// Only the signed text can have been accepted.
		got, err := c.Marshal()
		if err != nil || !bytes.Equal(got, text) {
			t.Fatalf("accepted a note with text %q, %v", got, err)
		}
	})
}

// FuzzParseVerifier reads arbitrary verifier keys: what is accepted prints
// back as the same string.
func FuzzParseVerifier(f *testing.F) {
	f.Add(testVerifier(f, origin, testKey(f, "log key")).String())
	f.Add("a+00000000+AA==")
	f.Add("")
	f.Fuzz(func(t *testing.T, vkey string) {
		v, err := checkpoint.ParseVerifier(vkey)
		if err != nil {
			if !errors.Is(err, checkpoint.ErrVerifierKey) && !errors.Is(err, checkpoint.ErrKeyName) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if v.String() != vkey {
			t.Fatalf("%q parses and prints as %q", vkey, v.String())
		}
	})
}
