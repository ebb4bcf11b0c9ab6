package envelope

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm3"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// fixedKey derives a deterministic key from a label: its scalar is
// SM3(label). docs/envelope.md lists the scalars of the example keys.
func fixedKey(tb testing.TB, label string) *sm2.PrivateKey {
	tb.Helper()
	d := sm3.Sum([]byte(label))
	k, err := sm2.NewPrivateKey(d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// The example keys of docs/envelope.md and testdata/.
const (
	senderLabel    = "qiao envelope example sender"
	recipientLabel = "qiao envelope example recipient"
)

// exampleAD is the associated data of the documented example.
var exampleAD = AssociatedData{
	Dataset:     "police.deaths",
	BatchID:     "20261125-0001",
	Created:     time.Date(2026, 11, 25, 19, 22, 0, 0, time.UTC),
	ContentType: "application/x-ndjson",
}

// examplePlaintext is the payload of the documented example: one synthetic row.
var examplePlaintext = []byte(`{"id_number":"110101190001010000","name":"示例","death_date":"2026-11-01","cancel_date":"2026-11-20"}` + "\n")

// sentinels are the errors Open, Parse and Marshal may return for bad input.
var sentinels = []error{
	ErrMalformed, ErrTooLarge, ErrUnsupportedVersion, ErrBadSignature,
	ErrWrongSender, ErrWrongRecipient, ErrDecrypt,
}

// sentinelOf returns the sentinel err wraps, or nil if it wraps none.
func sentinelOf(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// keys is a sender's signing key and a recipient's encryption key.
type keys struct {
	sender, recipient *sm2.PrivateKey
}

func exampleKeys(tb testing.TB) keys {
	return keys{sender: fixedKey(tb, senderLabel), recipient: fixedKey(tb, recipientLabel)}
}

// seal seals pt with the example associated data and returns the envelope.
func (k keys) seal(tb testing.TB, pt []byte) *exchangev1.Envelope {
	tb.Helper()
	env, err := Seal(k.sender, k.recipient.PublicKey(), exampleAD, pt)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// open parses wire bytes and opens them with k.
func (k keys) open(wire []byte) (AssociatedData, []byte, error) {
	env, err := Parse(wire)
	if err != nil {
		return AssociatedData{}, nil, err
	}
	return Open(env, k.recipient, k.sender.PublicKey())
}

// content parses env's content without any checks.
func content(tb testing.TB, env *exchangev1.Envelope) *exchangev1.EnvelopeContent {
	tb.Helper()
	c := new(exchangev1.EnvelopeContent)
	if err := proto.Unmarshal(env.Content, c); err != nil {
		tb.Fatal(err)
	}
	return c
}

// signRaw returns an envelope with raw as its content, signed by signer: what
// a sender holding a valid key could send.
func signRaw(tb testing.TB, signer *sm2.PrivateKey, raw []byte) *exchangev1.Envelope {
	tb.Helper()
	sig, err := signer.Sign(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return &exchangev1.Envelope{Content: raw, Signature: sig}
}

// resign applies mutate to env's content, re-encodes it canonically and signs
// it with signer.
func resign(tb testing.TB, env *exchangev1.Envelope, signer *sm2.PrivateKey, mutate func(*exchangev1.EnvelopeContent)) *exchangev1.Envelope {
	tb.Helper()
	c := content(tb, env)
	mutate(c)
	raw, err := canonical.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	return signRaw(tb, signer, raw)
}

func mustMarshal(tb testing.TB, env *exchangev1.Envelope) []byte {
	tb.Helper()
	b, err := Marshal(env)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
