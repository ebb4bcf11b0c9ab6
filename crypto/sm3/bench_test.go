package sm3

// SM3 beside SHA-256 on the same 1 MiB, so that a ratio can be read:
//
//	go test -run '^$' -bench . ./crypto/sm3/

import (
	"crypto/sha256"
	"testing"
)

var benchData = make([]byte, 1<<20)

func BenchmarkSM3_1MiB(b *testing.B) {
	b.SetBytes(int64(len(benchData)))
	for b.Loop() {
		Sum(benchData)
	}
}

func BenchmarkSHA256_1MiB(b *testing.B) {
	b.SetBytes(int64(len(benchData)))
	for b.Loop() {
		sha256.Sum256(benchData)
	}
}
