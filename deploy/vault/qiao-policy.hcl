# Vault policy of the Qiao gateway's keystore (KV version 2 at "secret",
# prefix "qiao/keys"; change both paths if the gateway is configured with
# another keystore.vault.mount or keystore.vault.prefix). See docs/keystore.md.
#
#   vault policy write qiao-keystore deploy/vault/qiao-policy.hcl
#
# It grants exactly what the gateway needs: read its keys, create new ones,
# list their names. No "update": Vault refuses any write to a name that
# already holds a key, on top of the gateway's own check-and-set (cas=0).
# No "delete" or "patch", and nothing on destroy/ or undelete/: the gateway
# never removes a key. Token lookup and renewal of its own token come from
# Vault's built-in "default" policy, which must stay attached.

# Read a key; write a key under a new name.
path "secret/data/qiao/keys/*" {
  capabilities = ["create", "read"]
}

# List key names, walking the tree below the prefix.
path "secret/metadata/qiao/keys/*" {
  capabilities = ["list"]
}
