// Package keystoretest is the conformance suite of keystore.Keystore: one set
// of tests that every backend (the file backend, Vault) must pass, so that
// callers can rely on the interface's contract whichever backend is
// configured.
//
// It is for tests only; it holds no backend and no fixtures of its own.
package keystoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/qiao-exchange/qiao/crypto/keystore"
)

// Run runs the conformance suite as subtests of t. newStore returns an empty
// keystore for one subtest; it is called once per subtest and must arrange
// its own cleanup through t.
func Run(t *testing.T, newStore func(t *testing.T) keystore.Keystore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, ks keystore.Keystore)
	}{
		{"GetMissing", testGetMissing},
		{"CreateGet", testCreateGet},
		{"CreateExisting", testCreateExisting},
		{"List", testList},
		{"InvalidNames", testInvalidNames},
		{"ConcurrentCreate", testConcurrentCreate},
		{"SM2", testSM2},
		{"Canceled", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// pemFor returns a distinct PEM document for a test key.
func pemFor(label string) []byte {
	body := bytes.Repeat([]byte(label+"\x00"), 8)
	var b strings.Builder
	b.WriteString("-----BEGIN QIAO TEST KEY-----\n")
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i, c := range body {
		b.WriteByte(enc[int(c)%64])
		if i%64 == 63 {
			b.WriteByte('\n')
		}
	}
	b.WriteString("\n-----END QIAO TEST KEY-----\n")
	return []byte(b.String())
}

func testGetMissing(t *testing.T, ks keystore.Keystore) {
	ctx := t.Context()
	for _, name := range []string{"gateway/sign", "master", "principals/police.411528/enc"} {
		_, err := ks.Get(ctx, name)
		if !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("Get(%q) on an empty keystore: err = %v, want ErrNotFound", name, err)
		}
	}
}

func testCreateGet(t *testing.T, ks keystore.Keystore) {
	ctx := t.Context()
	names := []string{
		"gateway/sign",
		"gateway/master",
		"principals/police.411528/sign",
		"principals/user:alice/enc",
		"ca/sm2-root",
		"top_level-key",
	}
	for _, name := range names {
		want := pemFor(name)
		in := bytes.Clone(want)
		if err := ks.Create(ctx, name, in); err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
		clear(in) // the store must not keep the caller's slice
		got, err := ks.Get(ctx, name)
		if err != nil {
			t.Fatalf("Get(%q): %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
	// A name that is a prefix of another, or a directory of others, is its
	// own key.
	for _, name := range []string{"gateway", "principals/police.411528"} {
		if _, err := ks.Get(ctx, name); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want ErrNotFound", name, err)
		}
		if err := ks.Create(ctx, name, pemFor(name)); err != nil {
			t.Fatalf("Create(%q) beside keys below it: %v", name, err)
		}
		if got, err := ks.Get(ctx, name); err != nil || !bytes.Equal(got, pemFor(name)) {
			t.Errorf("Get(%q) = %q, %v", name, got, err)
		}
	}
	if got, err := ks.Get(ctx, "gateway/sign"); err != nil || !bytes.Equal(got, pemFor("gateway/sign")) {
		t.Errorf("Get(gateway/sign) after creating gateway = %q, %v", got, err)
	}
}

func testCreateExisting(t *testing.T, ks keystore.Keystore) {
	ctx := t.Context()
	const name = "gateway/master"
	first := pemFor("first")
	if err := ks.Create(ctx, name, first); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, second := range [][]byte{pemFor("second"), first, {}} {
		err := ks.Create(ctx, name, second)
		if !errors.Is(err, keystore.ErrExists) {
			t.Errorf("second Create(%q): err = %v, want ErrExists", name, err)
		}
	}
	got, err := ks.Get(ctx, name)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, first) {
		t.Errorf("key was overwritten: Get = %q, want %q", got, first)
	}
}

func testList(t *testing.T, ks keystore.Keystore) {
	ctx := t.Context()
	if got, err := ks.List(ctx, ""); err != nil || len(got) != 0 {
		t.Fatalf("List(\"\") on an empty keystore = %q, %v; want none", got, err)
	}
	names := []string{
		"ca/sm2-root",
		"ca/tls-root",
		"gateway/enc",
		"gateway/master",
		"gateway/sign",
		"principals/court.411528/enc",
		"principals/court.411528/sign",
		"principals/police.411528/enc",
		"principals/police.411528/sign",
		"principals/police.411528/tls",
		"principals/police.4115280/sign",
		"principals/user:alice/sign",
	}
	// Create in an order other than the sorted one.
	for i := len(names) - 1; i >= 0; i-- {
		if err := ks.Create(ctx, names[i], pemFor(names[i])); err != nil {
			t.Fatalf("Create(%q): %v", names[i], err)
		}
	}
	filter := func(prefix string) []string {
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				out = append(out, n)
			}
		}
		return out
	}
	for _, prefix := range []string{
		"",
		"ca/",
		"gateway/",
		"gateway/s",
		"gateway/sign",
		"principals/",
		"principals/police.411528/",
		"principals/police.411528",
		"principals/police",
		"principals/user:",
		"p",
		"nothing/",
		"nothing",
		"gateway/sign/",
		"/",
		"../",
		"Gateway/",
	} {
		got, err := ks.List(ctx, prefix)
		if err != nil {
			t.Errorf("List(%q): %v", prefix, err)
			continue
		}
		if want := filter(prefix); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
}

// invalidNames are malformed names every backend must refuse.
var invalidNames = []string{
	"",
	"/",
	"/gateway/sign",
	"gateway/sign/",
	"gateway//sign",
	".",
	"..",
	"../gateway/sign",
	"gateway/../sign",
	"gateway/./sign",
	"Gateway/sign",
	"gateway/sign key",
	"gateway\\sign",
	"gateway/sign\n",
	"gateway/sign\x00",
	"principals/公安/sign",
	"gateway/sign?version=1",
	"gateway/sign#x",
	"gateway/%2e%2e/sign",
	strings.Repeat("a", 201),
}

func testInvalidNames(t *testing.T, ks keystore.Keystore) {
	ctx := t.Context()
	for _, name := range invalidNames {
		if _, err := ks.Get(ctx, name); !errors.Is(err, keystore.ErrName) {
			t.Errorf("Get(%q): err = %v, want ErrName", name, err)
		}
		if err := ks.Create(ctx, name, pemFor("x")); !errors.Is(err, keystore.ErrName) {
			t.Errorf("Create(%q): err = %v, want ErrName", name, err)
		}
	}
	if got, err := ks.List(ctx, ""); err != nil || len(got) != 0 {
		t.Errorf("after refused Creates, List = %q, %v; want none", got, err)
	}
	// The longest valid name works.
	long := strings.Repeat("a", 200)
	if err := ks.Create(ctx, long, pemFor("long")); err != nil {
		t.Errorf("Create of a 200-character name: %v", err)
	}
}

func testConcurrentCreate(t *testing.T, ks keystore.Keystore) {
	ctx := t.Context()
	const (
		name = "principals/police.411528/sign"
		n    = 16
	)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = ks.Create(ctx, name, pemFor(fmt.Sprint("racer", i)))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("Create succeeded for racers %d and %d", winner, i)
			}
			winner = i
		case !errors.Is(err, keystore.ErrExists):
			t.Errorf("racer %d: err = %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Create succeeded")
	}
	got, err := ks.Get(ctx, name)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if want := pemFor(fmt.Sprint("racer", winner)); !bytes.Equal(got, want) {
		t.Errorf("Get = %q, want the winner's %q", got, want)
	}
	if got, err := ks.List(ctx, ""); err != nil || !slices.Equal(got, []string{name}) {
		t.Errorf("List = %q, %v; want only %q", got, err, name)
	}
}

func testSM2(t *testing.T, ks keystore.Keystore) {
	ctx := t.Context()
	const name = "gateway/sign"
	if _, err := keystore.LoadSM2(ctx, ks, name); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("LoadSM2 of a missing key: err = %v, want ErrNotFound", err)
	}
	k, created, err := keystore.EnsureSM2(ctx, ks, name)
	if err != nil || !created {
		t.Fatalf("EnsureSM2 = created %v, %v; want a new key", created, err)
	}
	k2, created, err := keystore.EnsureSM2(ctx, ks, name)
	if err != nil || created {
		t.Fatalf("second EnsureSM2 = created %v, %v; want the stored key", created, err)
	}
	if !k.Equal(k2) {
		t.Fatal("second EnsureSM2 returned another key")
	}
	k3, err := keystore.LoadSM2(ctx, ks, name)
	if err != nil {
		t.Fatalf("LoadSM2: %v", err)
	}
	if k3.PublicKey().KeyID() != k.PublicKey().KeyID() {
		t.Fatalf("LoadSM2 key ID %s, want %s", k3.PublicKey().KeyID(), k.PublicKey().KeyID())
	}
	msg := []byte("桥 round trip")
	sig, err := k3.Sign(msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := k.PublicKey().Verify(msg, sig); err != nil {
		t.Fatalf("Verify with the created key of a signature by the loaded key: %v", err)
	}
	// A stored document that is not an SM2 key is an error, not a new key.
	if err := ks.Create(ctx, "gateway/enc", pemFor("not sm2")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keystore.EnsureSM2(ctx, ks, "gateway/enc"); err == nil || errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("EnsureSM2 over a non-SM2 document: err = %v, want a parse error", err)
	}
}

func testCanceled(t *testing.T, ks keystore.Keystore) {
	if err := ks.Create(t.Context(), "gateway/sign", pemFor("kept")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ks.Get(ctx, "gateway/sign"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: err = %v, want context.Canceled", err)
	}
	if err := ks.Create(ctx, "gateway/enc", pemFor("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := ks.List(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := ks.Get(t.Context(), "gateway/enc"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("a Create with a canceled context stored a key: Get err = %v", err)
	}
}
