package envelope_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/qiao-exchange/qiao/crypto/envelope"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

func Example() {
	// The police adapter's signing key, the gateway's encryption key, and
	// another agency's signing key.
	police, err := sm2.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	gateway, err := sm2.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	court, err := sm2.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}

	// The adapter seals a batch to the gateway and sends the wire bytes.
	rows := []byte(`{"death_date":"2026-11-01","cancel_date":"2026-11-20"}` + "\n")
	env, err := envelope.Seal(police, gateway.PublicKey(), envelope.AssociatedData{
		Dataset:     "police.deaths",
		BatchID:     "20261125-0001",
		Created:     time.Date(2026, 11, 25, 19, 22, 0, 0, time.UTC),
		ContentType: "application/x-ndjson",
	}, rows)
	if err != nil {
		log.Fatal(err)
	}
	wire, err := envelope.Marshal(env)
	if err != nil {
		log.Fatal(err)
	}

	// The gateway, knowing from the request's signature that police called,
	// opens it with police's signing key and its own encryption key.
	received, err := envelope.Parse(wire)
	if err != nil {
		log.Fatal(err)
	}
	ad, payload, err := envelope.Open(received, gateway, police.PublicKey())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ad.Dataset, ad.BatchID, ad.Created.Format(time.RFC3339), ad.ContentType)
	fmt.Print(string(payload))

	// Presented as coming from the court, the same envelope is refused.
	_, _, err = envelope.Open(received, gateway, court.PublicKey())
	fmt.Println(errors.Is(err, envelope.ErrWrongSender))
	// Output:
	// police.deaths 20261125-0001 2026-11-25T19:22:00Z application/x-ndjson
	// {"death_date":"2026-11-01","cancel_date":"2026-11-20"}
	// true
}
