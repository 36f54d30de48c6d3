"""Request bodies in the OpenAPI document (``/docs``, ``/openapi.json``).

The handlers read their bodies themselves — JSON through :func:`yibao.case.decode_json`, so
that amounts never pass through binary floating point, and CSV as text — so FastAPI does
not see the body models. :func:`json_request` documents a route's body with the model that
validates it; :func:`install` adds those models (and the problem document) to the
components of the generated schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from yibao.service.api.problems import Problem

_MODELS: dict[str, type[BaseModel]] = {}
REF = "#/components/schemas/{model}"


def json_request(model: type[BaseModel], example: Any = None, description: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body ``model`` validates."""
    _MODELS[model.__name__] = model
    content: dict[str, Any] = {"schema": {"$ref": REF.format(model=model.__name__)}}
    if example is not None:
        content["example"] = example
    body: dict[str, Any] = {"required": True, "content": {"application/json": content}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def csv_request(example: str, description: str) -> dict[str, Any]:
    """``openapi_extra`` for a route whose body is CSV text."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {"text/csv": {"schema": {"type": "string"}, "example": example}}}}


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in [("Problem", Problem), *_MODELS.items()]:
            js = model.model_json_schema(ref_template=REF, mode="validation")
            for def_name, definition in js.pop("$defs", {}).items():
                components.setdefault(def_name, definition)
            components.setdefault(name, js)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
