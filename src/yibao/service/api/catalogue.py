"""The drug and service catalogue (医保目录) of a city: dated lookup and CSV loading.

``GET`` answers the entries in force on a date (every version is kept; a fee is split by
the version of its own date). ``POST`` loads a catalogue CSV in the format of
:mod:`yibao.service.catalogue` in one transaction: a code already open is closed the day
before its new version begins. A file the loader refuses answers 422 with its message,
which names the line and the column.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from yibao import vocabulary as V
from yibao.service import catalogue
from yibao.service.api.deps import AgencyCaller, AnyCaller, CsvBody, PagingDep, RequestId, ServiceDep
from yibao.service.api.openapi import csv_request
from yibao.service.api.problems import not_found, responses
from yibao.service.audit import audit
from yibao.service.db import models as m

router = APIRouter(tags=["catalogue"])

CSV_EXAMPLE = (
    "code,name,class,selfpay_ratio,price_limit,begin_date,end_date\n"
    "XB01AC06A001,阿司匹林肠溶片,A,,,2026-01-01,\n"
    "XJ01DD04B002,头孢曲松钠注射剂,B,0.10,12.500000,2026-01-01,\n"
)


class CatalogueEntryView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    code: str = Field(description="med_list_codg 医保目录编码")
    name: str
    item_class: str = Field(alias="class", description="A 甲类, B 乙类, C 丙类")
    selfpay_ratio: Optional[str] = Field(default=None, description="乙类 先行自付比例 (blank: the city's default)")
    price_limit: Optional[str] = Field(default=None, description="最高限价 per unit")
    begin_date: dt.date
    end_date: Optional[dt.date] = None
    source: str


class CataloguePage(BaseModel):
    city: str
    date: dt.date
    total: int
    limit: int
    offset: int
    items: list[CatalogueEntryView]


class LoadResult(BaseModel):
    city: str
    added: int = Field(description="entries added")
    closed: int = Field(description="earlier versions closed the day before a new one begins")
    source: str


def _city(city: str) -> str:
    if city not in V.CITIES:
        raise not_found(f"no catalogue for city {city!r} (one of {', '.join(V.CITIES)})")
    return city


def entry_view(e: m.CatalogueItem) -> dict[str, Any]:
    return {"code": e.code, "name": e.name, "class": e.item_class,
            "selfpay_ratio": None if e.selfpay_ratio is None else str(e.selfpay_ratio),
            "price_limit": None if e.price_limit is None else str(e.price_limit),
            "begin_date": e.begin_date, "end_date": e.end_date, "source": e.source}


@router.get("/catalogue/{city}", summary="Catalogue entries in force on a date", response_model=CataloguePage,
            response_model_by_alias=True, responses=responses(401, 404, 422))
def read_catalogue(city: str, caller: AnyCaller, service: ServiceDep, page: PagingDep,
                   code: Annotated[Optional[str], Query(max_length=50, description="only this med_list_codg")] = None,
                   on: Annotated[Optional[dt.date], Query(alias="date", description="YYYY-MM-DD; default today")] = None) -> dict[str, Any]:
    """The version of each entry valid on the date, in code order."""
    _city(city)
    day = on or dt.date.today()
    c = m.CatalogueItem
    query = select(c).where(c.city == city, c.begin_date <= day, or_(c.end_date.is_(None), c.end_date >= day))
    if code:
        query = query.where(c.code == code)
    with service.db.sessions() as session:
        return {"city": city, "date": day, **page.page(session, query, (c.code, c.begin_date), entry_view)}


@router.post("/catalogue/{city}", summary="Load a catalogue CSV", status_code=201, response_model=LoadResult,
             responses=responses(400, 401, 403, 404, 413, 415, 422),
             openapi_extra=csv_request(CSV_EXAMPLE, "the catalogue as CSV (UTF-8, header row): "
                                                    "code,name,class,selfpay_ratio,price_limit,begin_date,end_date"))
def load_catalogue(city: str, caller: AgencyCaller, text: CsvBody, service: ServiceDep, rid: RequestId,
                   source: Annotated[Optional[str], Query(max_length=120,
                                                          description="a name for the file, kept with each entry")] = None,
                   ) -> dict[str, Any]:
    """Load the CSV for the city in one transaction (agency only). Any row the loader
    refuses refuses the whole file (422, nothing stored)."""
    _city(city)
    name = source or f"REST upload {rid}"
    with service.db.transaction() as session:
        report = catalogue.load_csv(session, city, text, name)
        audit(session, caller, rid, "catalogue.load", "catalogue", city,
              {"source": name, "added": report.added, "closed": report.closed})
    return {"city": report.city, "added": report.added, "closed": report.closed, "source": name}
