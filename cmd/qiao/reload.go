package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/qiao-exchange/qiao/audit"
	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// reloadable are the options a configuration reload applies at once; a
// change of any other is recorded and takes effect at the next start.
var reloadable = []string{"log.level"}

// configReloader re-reads the gateway's configuration file when asked
// (SIGHUP), applies what can change while running, and writes every
// reload — and every refused one — to the audit log with the file's SM3
// digest.
type configReloader struct {
	running config.Config // the options in effect
	level   *slog.LevelVar
	log     *audit.Log
	actor   string
	slog    *slog.Logger
}

// notifyReload returns the channel of reload requests: SIGHUP. The caller
// stops it with signal.Stop.
func notifyReload() chan os.Signal {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup
}

// watch reloads on every signal of hup until ctx ends.
func (r *configReloader) watch(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload(ctx)
		}
	}
}

// reload re-reads the file once.
func (r *configReloader) reload(ctx context.Context) {
	e := audit.Entry{
		Actor:  audit.Actor{Principal: r.actor},
		Action: audit.ActionConfigReload,
		Result: audit.Result{Status: audit.StatusOK},
	}
	digest := "unreadable"
	if data, err := os.ReadFile(r.running.File); err == nil {
		digest = sm3.SumHex(data)
	}
	next, err := config.Load(r.running.File)
	if err != nil {
		e.Decision = audit.Decision{Effect: audit.Deny, Reasons: []string{"file sm3 " + digest,
			"configuration refused, previous kept: " + err.Error()}}
		e.Result = audit.Result{Status: audit.StatusError, Code: "INVALID_ARGUMENT"}
		r.slog.ErrorContext(ctx, "configuration reload refused", slog.Any("err", err))
	} else {
		changed := config.Changed(r.running, next)
		var applied, pending []string
		for _, k := range changed {
			if slices.Contains(reloadable, k) {
				applied = append(applied, k)
			} else {
				pending = append(pending, k)
			}
		}
		if slices.Contains(applied, "log.level") {
			r.level.Set(parseLevel(next.Log.Level))
			r.running.Log.Level = next.Log.Level
		}
		reasons := []string{"file sm3 " + digest}
		if len(changed) == 0 {
			reasons = append(reasons, "no option changed")
		}
		if len(applied) > 0 {
			reasons = append(reasons, "applied: "+strings.Join(applied, ", "))
		}
		if len(pending) > 0 {
			reasons = append(reasons, "changed, applied at the next start: "+strings.Join(pending, ", "))
		}
		e.Decision = audit.Decision{Effect: audit.Allow, Reasons: reasons}
		r.slog.InfoContext(ctx, "configuration reloaded", slog.String("applied", strings.Join(applied, ",")),
			slog.String("at_next_start", strings.Join(pending, ",")))
	}
	if _, err := r.log.Record(ctx, e); err != nil {
		r.slog.ErrorContext(ctx, "recording a configuration reload failed", slog.Any("err", err))
	}
}

// parseLevel reads a log level, info when it is not one.
func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
