package gmtls_test

import (
	"context"
	"fmt"
	"net"

	"github.com/qiao-exchange/qiao/crypto/ca"
	"github.com/qiao-exchange/qiao/crypto/gmtls"
	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// pair issues a double certificate and returns its halves with their keys.
func pair(root *ca.Root, req ca.Request) (sign, enc gmtls.KeyPair) {
	sk, _ := sm2.GenerateKey()
	ek, _ := sm2.GenerateKey()
	p, err := root.IssuePair(req, sk.PublicKey(), ek.PublicKey())
	if err != nil {
		panic(err)
	}
	return gmtls.KeyPair{Cert: p.Sign, Key: sk}, gmtls.KeyPair{Cert: p.Enc, Key: ek}
}

// A gateway and an agency authenticate each other over TLCP on loopback.
func Example() {
	rootKey, _ := sm2.GenerateKey()
	root, _ := ca.NewRoot(rootKey, ca.RootOptions{})
	roots := []*ca.Certificate{root.Certificate()}
	gwSign, gwEnc := pair(root, ca.Request{Principal: "gateway", Kind: ca.KindServer, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	police, _ := pair(root, ca.Request{Principal: "police.411528", Kind: ca.KindAgency})

	server, err := gmtls.ServerConfig(gwSign, gwEnc, roots)
	if err != nil {
		panic(err)
	}
	client, err := gmtls.ClientConfig(police, roots, "127.0.0.1")
	if err != nil {
		panic(err)
	}

	inner, _ := net.Listen("tcp", "127.0.0.1:0")
	ln := server.NewListener(inner)
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		peer, err := gmtls.Handshake(context.Background(), conn)
		if err != nil {
			panic(err)
		}
		seen <- peer.Principal()
	}()

	conn, err := client.Dial(context.Background(), "tcp", inner.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	peer, _ := gmtls.Handshake(context.Background(), conn)
	fmt.Println("client sees", peer.Principal())
	fmt.Println("server sees", <-seen)
	// Output:
	// client sees gateway
	// server sees police.411528
}
