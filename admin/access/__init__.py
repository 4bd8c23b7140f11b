"""People and access: users and roles, passwords, sessions, API tokens, throttling, CSRF."""
