"""How a tenant looks: branding found up the tenant chain, themes, QR codes."""
