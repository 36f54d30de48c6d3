"""The ASGI application: the national gateway, the REST API under ``/api/v1``, ``/health``.

``create_app(settings)`` builds everything from settings, so tests, ``yibao serve`` and the
benchmark all run the same application on whichever database the URL names.

The gateway's one endpoint carries nearly all the traffic, so :class:`GatewayFirst` answers
it straight from ASGI, ahead of the framework's middleware, routing and request objects;
FastAPI keeps the route, which documents it in ``/docs`` and answers the same way. A call
runs in the service's thread pool (as many threads as database connections per process, or
``gateway_threads``): the gateway is synchronous code that waits on the database. With
``gateway_threads`` 0 the event loop runs each call itself, one at a time per process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from yibao.service.audit import MaskingFilter
from yibao.service.cache import Caches
from yibao.service.codes import load_codes
from yibao.service.config import Settings
from yibao.service.policies import Policies
from yibao.service.db.engine import Database
from yibao.service.gateway.dispatch import Gateway

GATEWAY_PATH = "/fsi/api/rsfComIfsService/callService"


class Service:
    """What every request handler shares: settings, the database, the code tables."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.db = Database(settings.database_url, pool_size=settings.pool_size)
        self.codes = load_codes()
        self.caches = Caches()
        self.policies = Policies(settings.overlays)
        self.gateway = Gateway(self.db, self.codes, settings, self.caches, self.policies)
        threads = settings.pool_size if settings.gateway_threads is None else settings.gateway_threads
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix="gateway") if threads else None

    async def answer(self, body: bytes, headers: dict[str, str]) -> Response:
        """The gateway's answer to one call (``headers`` with lower-case names), as UTF-8 JSON."""
        if self.threads is None:  # gateway_threads 0: answered here, and the loop waits for it
            answer = self.gateway.call(body, headers)
        else:
            answer = await asyncio.get_running_loop().run_in_executor(self.threads, self.gateway.call, body, headers)
        return Response(orjson.dumps(answer.body), status_code=answer.status, media_type="application/json")

    def close(self) -> None:
        if self.threads is not None:
            self.threads.shutdown()
        self.db.dispose()


class GatewayFirst:
    """ASGI middleware: ``POST`` to the gateway's path is answered here; everything else goes on."""

    def __init__(self, app: Any, service: Service):
        self.app, self.service = app, service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != GATEWAY_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        response = await self.service.answer(body, headers)
        await response(scope, receive, send)


def settle_heap() -> None:
    """Tune the garbage collector of a server process once its application is built.

    Most of a server's heap lives as long as the process (modules, schemas, policies, compiled
    statements) while a call allocates many objects that live a few milliseconds. With the
    default thresholds the collector runs every 700 allocations, promotes whatever a call in
    flight still holds, and the promotions soon trigger full collections that walk the whole
    heap again — a measured 0.1–0.6 ms per settlement. So: the heap built so far is frozen (left
    out of every later collection), and the youngest generation is collected every 10 000
    allocations instead, by which time most of a call's objects are gone. Cycles are still
    collected, only less often; the memory they hold meanwhile is small."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    service = Service(settings)
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        lifespan=lifespan,
        title="yibao settlement service",
        version="0.1.0",
        description=(
            "Settlement for Chinese municipal basic medical insurance. Hospitals' systems call the national "
            f"interface at `POST {GATEWAY_PATH}`; agencies, institutions and auditors use the REST API under "
            "`/api/v1`. Every request authenticates (x-tif-* signed headers or `Authorization: Bearer paasid.secret`)."
        ),
    )
    app.state.service = service
    for handler in logging.getLogger().handlers + logging.getLogger("yibao").handlers:
        handler.addFilter(MaskingFilter())

    @app.get("/health", tags=["service"], summary="Liveness and database check")
    def health() -> dict[str, Any]:
        with service.db.sessions() as session:
            session.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok", "database": service.db.engine.dialect.name}

    @app.post(GATEWAY_PATH, tags=["national interface"], summary="The national platform's single endpoint (infno selects the transaction)")
    async def call_service(request: Request) -> Response:
        return await service.answer(await request.body(), {k.lower(): v for k, v in request.headers.items()})

    try:
        from yibao.service.api import mount
    except ImportError:  # the REST API is optional while it is assembled
        pass
    else:
        mount(app, service)

    app.add_middleware(GatewayFirst, service=service)  # added last: the outermost of the middleware
    return app
