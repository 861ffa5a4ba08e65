"""Tenants, the tenant scope every query runs in, and the traversal roots."""
