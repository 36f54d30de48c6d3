"""``yibao serve`` and ``yibao service …``: run and administer the settlement service.

    yibao serve [--demo] [--host H] [--port P] [--database URL] [--workers N] [--gateway-threads N]
    yibao service migrate | load-demo | rebuild-totals [--check] | catalogue CITY FILE.csv
                | credential PAASID --role R [--institution CODE]

The database is ``--database`` or ``YIBAO_DATABASE_URL`` (default: the SQLite file
``var/yibao.db``); PostgreSQL URLs look like ``postgresql://user:pw@host/db``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from yibao.commands import whole_number
from yibao.errors import YibaoError


def _database(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database", metavar="URL", help="SQLAlchemy URL (default: $YIBAO_DATABASE_URL or sqlite:///var/yibao.db)")


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the settlement service (national gateway + REST API)",
                           description="Migrate the database, optionally load the demo data, and serve HTTP.")
    _database(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=whole_number, default=1, help="worker processes (default 1)")
    serve.add_argument("--gateway-threads", type=whole_number, metavar="N",
                       help="threads per worker answering gateway calls (default: one per database connection); "
                            "0: each worker's event loop answers one call at a time — fastest on few cores, "
                            "with --workers about twice the cores")
    serve.add_argument("--demo", action="store_true", help="load the demo data set first (if the database is empty)")
    serve.add_argument("--overlay", action="append", default=[], metavar="F",
                       help="a policy overlay (repeatable; each names its city) — figures the texts leave blank")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=run_serve)

    admin = sub.add_parser("service", help="administer the service's database",
                           description="Migrations, demo data, running totals, catalogue and credentials.")
    _database(admin)
    tasks = admin.add_subparsers(dest="task", required=True, metavar="TASK")
    tasks.add_parser("migrate", help="apply every pending migration").set_defaults(run=run_migrate)
    tasks.add_parser("load-demo", help="migrate and load the demo data set").set_defaults(run=run_load_demo)
    rebuild = tasks.add_parser("rebuild-totals", help="recompute every person-year's running totals from the settlements")
    rebuild.add_argument("--check", action="store_true", help="only compare; change nothing (exit 1 on a difference)")
    rebuild.set_defaults(run=run_rebuild)
    cat = tasks.add_parser("catalogue", help="load a catalogue CSV for a city (docs/service/catalogue.md)")
    cat.add_argument("city")
    cat.add_argument("file")
    cat.set_defaults(run=run_catalogue)
    cred = tasks.add_parser("credential", help="create a caller credential and print its secret once")
    cred.add_argument("paasid")
    cred.add_argument("--role", required=True, choices=("institution", "agency", "auditor"))
    cred.add_argument("--institution", metavar="CODE")
    cred.set_defaults(run=run_credential)


def database_url(args: argparse.Namespace) -> str:
    from yibao.service.config import Settings

    url = getattr(args, "database", None) or Settings().database_url
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return url


def run_migrate(args: argparse.Namespace) -> int:
    from yibao.service.db.migrate import upgrade

    url = database_url(args)
    upgrade(url)
    print(f"migrated {safe_url(url)} to the latest schema")
    return 0


def run_load_demo(args: argparse.Namespace) -> int:
    from yibao.service.db.engine import Database
    from yibao.service.db.migrate import upgrade
    from yibao.service.demo import load_demo

    url = database_url(args)
    upgrade(url)
    db = Database(url)
    report = load_demo(db)
    db.dispose()
    if report.already_loaded:
        print("the database already has data; demo not loaded again")
    else:
        print(f"demo loaded: {report.institutions} institutions, {report.credentials} credentials, "
              f"{report.catalogue_entries} catalogue entries, {report.persons} persons")
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    from yibao.service.db.engine import Database
    from yibao.service.ledger import compare_totals, rebuild_totals

    db = Database(database_url(args))
    with db.transaction() as session:
        report = compare_totals(session) if args.check else rebuild_totals(session)
    db.dispose()
    for key, stored, derived in report.differences[:20]:
        print(f"differs: {key[0]} {key[1]} {key[2]}: stored {stored}, from settlements {derived}")
    verdict = "identical" if report.identical else f"{len(report.differences)} difference(s)"
    action = "checked" if args.check else "rebuilt"
    print(f"running totals {action}: {report.person_years} person-years, {report.counters} counters — stored totals {verdict}")
    return 0 if report.identical or not args.check else 1


def run_catalogue(args: argparse.Namespace) -> int:
    from yibao.cli import read_input
    from yibao.service.catalogue import load_csv
    from yibao.service.db.engine import Database

    text = read_input(args.file)
    db = Database(database_url(args))
    with db.transaction() as session:
        report = load_csv(session, args.city, text, os.path.basename(args.file))
    db.dispose()
    print(f"catalogue {report.city}: {report.added} entries added, {report.closed} earlier versions closed")
    return 0


def run_credential(args: argparse.Namespace) -> int:
    from yibao.service.auth import AuthError, new_credential
    from yibao.service.db.engine import Database

    db = Database(database_url(args))
    try:
        with db.transaction() as session:
            secret = new_credential(session, args.paasid, args.role, args.institution)
    except AuthError as exc:
        raise YibaoError(str(exc)) from None
    db.dispose()
    print(f"credential {args.paasid} ({args.role}) created; secret (shown once): {secret}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    url = database_url(args)
    if args.workers < 1:
        raise YibaoError("--workers must be at least 1")
    os.environ["YIBAO_DATABASE_URL"] = url
    if args.gateway_threads is not None:
        os.environ["YIBAO_GATEWAY_THREADS"] = str(args.gateway_threads)
    if args.overlay:
        from yibao.service.policies import Policies

        Policies(tuple(os.path.abspath(o) for o in args.overlay))  # refuse a bad overlay before serving
        os.environ["YIBAO_OVERLAYS"] = os.pathsep.join(os.path.abspath(o) for o in args.overlay)
    if args.demo:
        run_load_demo(args)
    else:
        run_migrate(args)
    print(f"serving on http://{args.host}:{args.port}  (health: /health, API docs: /docs, "
          f"gateway: POST /fsi/api/rsfComIfsService/callService) — database {safe_url(url)}")
    if args.demo:
        print("try it: scripts/demo_session.sh plays 9001 → 1101 → 2201 → 2203 → 2204 → 2206 → 2207 with curl "
              "(README.md § Settlement service)")
    # the fastest event loop and HTTP parser (both dependencies), not uvicorn's fallbacks
    options = dict(host=args.host, port=args.port, log_level=args.log_level, access_log=False, loop="uvloop",
                   http="httptools")
    if args.workers == 1:
        uvicorn.run("yibao.service.asgi:app", **options)
        return 0
    _serve_workers(uvicorn.Config("yibao.service.asgi:app", workers=args.workers, **options))
    return 0


def _serve_workers(config: "uvicorn.Config") -> None:  # noqa: F821
    """Several worker processes on one listening socket. The socket is re-opened as an
    explicit TCP socket so that asyncio sets TCP_NODELAY on every connection; without it
    each answer waits for the client's delayed acknowledgement (about 40 ms)."""
    import socket

    from uvicorn.supervisors import Multiprocess

    bound = config.bind_socket()
    tcp = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    try:
        Multiprocess(config, sockets=[tcp]).run()
    except KeyboardInterrupt:
        pass


def safe_url(url: str) -> str:
    """A database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


__all__ = ["register", "YibaoError"]
