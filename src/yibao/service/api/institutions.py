"""Designated institutions (定点医药机构): hospitals and pharmacies with their national code,
pooling city, 医保区划 and level.

Every role reads them; the agency registers new ones. The level is the engine's
(``yibao.vocabulary.LEVELS``: clinic, primary, level1, secondary, tertiary, pharmacy), and
the 医保区划 must lie in the city (its first four digits are the city's).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from yibao import vocabulary as V
from yibao.case import City
from yibao.service.api.deps import AgencyCaller, AnyCaller, JsonBody, PagingDep, RequestId, ServiceDep, validated
from yibao.service.api.openapi import json_request
from yibao.service.api.problems import conflict, invalid, not_found, responses
from yibao.service.audit import audit
from yibao.service.db import models as m

router = APIRouter(tags=["institutions"])

Level = Literal[tuple(V.LEVELS)]  # type: ignore[valid-type]


class InstitutionInput(BaseModel):
    """A new designated institution."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z]+$", description="fixmedins_code 定点医药机构编号")
    name: str = Field(min_length=1, max_length=200)
    city: City
    admdvs: str = Field(pattern=r"^\d{6}$", description="医保区划, six digits")
    level: Level = Field(description="clinic, primary, level1, secondary, tertiary or pharmacy")


class InstitutionView(BaseModel):
    code: str
    name: str
    city: str
    admdvs: str
    level: str
    created_at: dt.datetime


class InstitutionPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[InstitutionView]


def view(inst: m.Institution) -> dict[str, Any]:
    return {"code": inst.code, "name": inst.name, "city": inst.city, "admdvs": inst.admdvs, "level": inst.level,
            "created_at": inst.created_at}


@router.get("/institutions", summary="List designated institutions", response_model=InstitutionPage,
            responses=responses(401, 422))
def list_institutions(caller: AnyCaller, service: ServiceDep, page: PagingDep,
                      city: Annotated[Optional[str], Query(description="only institutions of this city")] = None) -> dict[str, Any]:
    query = select(m.Institution)
    if city:
        query = query.where(m.Institution.city == city)
    with service.db.sessions() as session:
        return page.page(session, query, (m.Institution.code,), view)


@router.get("/institutions/{code}", summary="Read an institution", response_model=InstitutionView,
            responses=responses(401, 404))
def read_institution(code: str, caller: AnyCaller, service: ServiceDep) -> dict[str, Any]:
    with service.db.sessions() as session:
        inst = session.get(m.Institution, code)
        if inst is None:
            raise not_found(f"no institution with code {code}")
        return view(inst)


@router.post("/institutions", summary="Register an institution", status_code=201, response_model=InstitutionView,
             responses=responses(400, 401, 403, 409, 422),
             openapi_extra=json_request(InstitutionInput, {"code": "H33010000009", "name": "杭州市示例医院", "city": "hangzhou",
                                                           "admdvs": "330106", "level": "secondary"}))
def create_institution(caller: AgencyCaller, raw: JsonBody, service: ServiceDep, rid: RequestId,
                       response: Response) -> dict[str, Any]:
    """Register a designated institution (agency only). Its systems call once a credential
    names it (`yibao service credential`)."""
    data = validated(InstitutionInput, raw, "an institution")
    city_admdvs = service.codes.city_admdvs.get(data.city)
    if city_admdvs and data.admdvs[:4] != city_admdvs[:4]:
        raise invalid(f"admdvs {data.admdvs} is not in {data.city} (its 区划 begin {city_admdvs[:4]})")
    with service.db.transaction() as session:
        if session.get(m.Institution, data.code) is not None:
            raise conflict(f"institution {data.code} is already registered")
        inst = m.Institution(**data.model_dump())
        session.add(inst)
        session.flush()
        audit(session, caller, rid, "institution.create", "institution", data.code, data.model_dump(mode="json"))
        out = view(inst)
    response.headers["Location"] = f"/api/v1/institutions/{data.code}"
    return out
