"""The application object for ASGI servers: ``uvicorn yibao.service.asgi:app`` (settings from the environment)."""

from yibao.service.app import create_app

app = create_app()
