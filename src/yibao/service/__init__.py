"""The settlement service: the national-interface gateway and the REST API over one database.

Layout::

    service/
      config.py       settings (database URL, clock skew, …) from the environment
      db/             SQLAlchemy models, exact money types, sessions, migrations runner;
                      the settlement path's SQL (hot.py), run at the driver (driver.py)
      migrations/     Alembic environment and versions
      codes/          national code tables ↔ the engine's vocabulary (data, one place)
      catalogue.py    the drug/service catalogue: CSV loading, dated lookup, per-line split
      ledger.py       running totals and personal-account balances, derived from entries
      settlement.py   settle a stored visit, record it; reverse it
      auth.py         credentials, roles, signed headers, nonces
      audit.py        the append-only audit log (names and certificate numbers masked)
      gateway/        POST /fsi/api/rsfComIfsService/callService and its transactions
      api/            REST under /api/v1
      app.py          the ASGI application
"""
