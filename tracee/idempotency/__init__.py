"""Idempotency keys: a POST done once per tenant and key, its answer kept to replay."""
