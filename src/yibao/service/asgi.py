"""The application object for ASGI servers: ``uvicorn yibao.service.asgi:app`` (settings from the environment)."""

from yibao.service.app import create_app, settle_heap

app = create_app()
settle_heap()  # a server process: its long-lived heap is built (see settle_heap)
