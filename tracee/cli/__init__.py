"""The ``tracee`` command: database, tenants, keys and demo data."""
