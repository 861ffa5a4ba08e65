"""People: users, their memberships (local roles) in tenants, passwords, sessions."""
