"""The benchmark behind ``make bench``: the app against a bare-WSGI floor (docs/performance.md)."""
