package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSynthCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	cmd := newSynthCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--people", "500", "--seed", "3", "--out", dir, "--as-of", "2026-11-20"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"合成数据 synthetic data: 500 人 people", "截至 as of 2026-11-20",
		"police.deaths.csv", "court.enforcement_cases.xlsx", "medins.settlements.xlsx", "medins.settlements.csv",
		"hrss.pension_payments.csv", "真值 ground truth: truth.jsonl", "court.probation_detained", "清单 manifest: manifest.json",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, f := range []string{"truth.jsonl", "manifest.json", "police.traffic_accidents.csv", "court.criminal_judgments.xlsx"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestSynthCommandRefusesBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"--people", "5", "--out", t.TempDir()},
		{"--as-of", "20261120", "--out", t.TempDir()},
		{"--region", "999999", "--out", t.TempDir()},
		{"extra"},
	} {
		cmd := newSynthCmd()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(args)
		if err := cmd.Execute(); err == nil {
			t.Errorf("synth %v: no error", args)
		}
	}
}
