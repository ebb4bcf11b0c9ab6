package main

import (
	"context"
	"fmt"

	"github.com/qiao-exchange/qiao/config"
	"github.com/qiao-exchange/qiao/crypto/keystore"
	"github.com/qiao-exchange/qiao/crypto/keystore/vault"
)

// openKeystore constructs the keystore backend cfg selects.
func openKeystore(ctx context.Context, cfg config.Config) (keystore.Keystore, error) {
	switch cfg.Keystore.Backend {
	case "file":
		return keystore.NewFile(cfg.Path(cfg.Keystore.Dir))
	case "vault":
		v := cfg.Keystore.Vault
		return vault.New(ctx, vault.Config{
			Address:      v.Address,
			Namespace:    v.Namespace,
			CACertFile:   cfg.Path(v.CACertFile),
			Mount:        v.Mount,
			Prefix:       v.Prefix,
			Auth:         v.Auth,
			TokenFile:    cfg.Path(v.TokenFile),
			RoleID:       v.RoleID,
			SecretIDFile: cfg.Path(v.SecretIDFile),
			Timeout:      v.Timeout,
		})
	default:
		return nil, fmt.Errorf("keystore.backend %q is not file or vault", cfg.Keystore.Backend)
	}
}
