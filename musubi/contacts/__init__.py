"""Layer 2: the people a business reaches — contacts and their identities, the consent ledger, suppression, tags."""
