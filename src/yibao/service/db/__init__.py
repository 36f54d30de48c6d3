"""Storage: models, exact types, engines and sessions, migrations; the settlement path's
statements (``hot``) and how they run at the driver (``driver``)."""
