"""The ASGI application: the national gateway, the REST API under ``/api/v1``, ``/health``.

``create_app(settings)`` builds everything from settings, so tests, ``yibao serve`` and the
benchmark all run the same application on whichever database the URL names.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    service = Service(settings)
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.db.dispose()

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
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        from starlette.concurrency import run_in_threadpool

        answer = await run_in_threadpool(service.gateway.call, body, headers)
        return JSONResponse(answer.body, status_code=answer.status)

    try:
        from yibao.service.api import mount
    except ImportError:  # the REST API is optional while it is assembled
        pass
    else:
        mount(app, service)

    return app
