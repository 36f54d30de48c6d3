"""Storage: models, exact types, engines and sessions, migrations."""
