"""The batch tables: what a claim file holds and what a settlement file holds.

All money is **integer fen** (``int64``; 1 yuan = 100 fen), in columns ending ``_fen``.
Enumerations use the settlement contract's vocabulary (:mod:`yibao.vocabulary`), and a
set (flags, filings, procedures) is its members sorted and joined with ``+`` ("" for none).
``docs/batch/tables.md`` documents every column; this module is the one place they are
defined, and :func:`validate` checks a table against them with errors naming the bad rows.

persons   one row per insured person
visits    one row per claim (a visit or an inpatient stay), its bill already split by the
          catalogue (G3) — or left to be split from ``lines``
lines     optional bill lines; when given, they replace the visits' split columns
results   one row per visit: the settlement, in the national ``setlinfo`` amounts
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa

from yibao import vocabulary as V
from yibao.errors import YibaoError

MONEY = pa.int64()


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    required: bool  # a value must be present in every row
    allowed: frozenset[str] | None = None  # a closed vocabulary
    members: frozenset[str] | None = None  # a '+'-joined set of these
    doc: str = ""


def _v(vocab: dict) -> frozenset[str]:
    return frozenset(vocab)


PERSONS = (
    Column("person_id", pa.string(), True, doc="the person's identifier (unique)"),
    Column("city", pa.string(), True, _v(V.CITIES), doc="the agency (统筹区) settling this person's claims"),
    Column("scheme", pa.string(), True, _v(V.SCHEMES), doc="employee 职工医保 / resident 居民医保"),
    Column("category", pa.string(), True, _v(V.ALL_CATEGORIES), doc="在职/退休/灵活就业/领取失业金 · 少儿/大学生/成年/老年"),
    Column("grade", pa.int8(), True, frozenset({"1", "2"}), doc="contribution grade (档次), 1 or 2"),
    Column("birth_date", pa.date32(), False, doc="for age conditions; null when unknown"),
    Column("sex", pa.string(), False, frozenset({"F", "M"})),
    Column("assistance", pa.string(), False, _v(V.ASSISTANCE), doc="医疗救助 group; null for none"),
    Column("flags", pa.string(), True, members=_v(V.FLAGS), doc="'+'-joined flags, '' for none"),
    Column("chronic_filings", pa.string(), True, members=_v(V.DISEASES), doc="慢性病 filed, '+'-joined"),
    Column("special_filings", pa.string(), True, members=_v(V.DISEASES), doc="特殊病种 filed, '+'-joined"),
    Column("account_current_fen", MONEY, True, doc="当年账户 balance before the first claim"),
    Column("account_history_fen", MONEY, True, doc="历年账户 balance before the first claim"),
    Column("ci_cap_bonus_fen", MONEY, True, doc="raise of the 大病 payment limit for this person"),
)

SPLIT = ("fulamt_ownpay_amt_fen", "overlmt_selfpay_fen", "preselfpay_amt_fen", "inscp_scp_amt_fen")

VISITS = (
    Column("visit_id", pa.string(), True, doc="the claim's identifier (unique)"),
    Column("person_id", pa.string(), True, doc="a person of the persons table"),
    Column("date", pa.date32(), True, doc="the visit's date; an inpatient stay's discharge date"),
    Column("kind", pa.string(), True, _v(V.KINDS)),
    Column("level", pa.string(), True, _v(V.LEVELS)),
    Column("location", pa.string(), True, _v(V.LOCATIONS)),
    Column("route", pa.string(), False, _v(V.ROUTES), doc="non-local visits only"),
    Column("transfer_from", pa.string(), False, _v(V.LEVELS), doc="an inpatient transfer's first hospital level"),
    Column("disease", pa.string(), False, _v(V.DISEASES)),
    Column("procedure", pa.string(), True, members=_v(V.PROCEDURES), doc="family-planning procedures, '+'-joined"),
    Column("use_account", pa.bool_(), True, doc="the person lets the account pay"),
    Column("fulamt_ownpay_amt_fen", MONEY, True, doc="全自费 (class C)"),
    Column("overlmt_selfpay_fen", MONEY, True, doc="超限价自费"),
    Column("preselfpay_amt_fen", MONEY, True, doc="乙类先行自付"),
    Column("inscp_scp_amt_fen", MONEY, True, doc="符合政策范围"),
)

LINES = (
    Column("visit_id", pa.string(), True),
    Column("code", pa.string(), True, doc="catalogue code"),
    Column("item_class", pa.string(), True, _v(V.ITEM_CLASSES), doc="A 甲类 / B 乙类 / C 丙类"),
    Column("amount_fen", MONEY, True),
    Column("over_limit_fen", MONEY, True, doc="超限价 part of the amount"),
    Column("selfpay_ratio_ppm", pa.int32(), False, doc="乙类先行自付比例 in millionths; null: the city's default"),
)

RESULT_MONEY = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
    "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay",
    "psn_part_amt", "balc",
)

RESULTS = (
    Column("visit_id", pa.string(), True),
    Column("person_id", pa.string(), True),
    Column("city", pa.string(), True),
    Column("date", pa.date32(), True),
    Column("year", pa.int16(), True),
    Column("status", pa.string(), True, frozenset({"settled", "refused"})),
    Column("error", pa.string(), False, doc="why a refused visit was refused"),
    Column("plan", pa.int32(), True, doc="the compiled plan (rules and clauses) that settled it; see the plans file"),
    *(Column(f"{name}_fen", MONEY, True) for name in RESULT_MONEY),
)


def schema(columns: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type, nullable=not c.required, metadata={"doc": c.doc} if c.doc else None)
                      for c in columns])


class TableError(YibaoError, ValueError):
    """A claim table that cannot be settled as given; the message names the rows."""


def _rows(mask, ids: pa.Array | pa.ChunkedArray | None, limit: int = 5, first_row: int = 0) -> str:
    """"row 3 (V0003), row 9 (V0009) and 12 more" for a boolean mask (of a table whose first
    row is ``first_row`` of the whole)."""
    import numpy as np

    if isinstance(mask, (pa.Array, pa.ChunkedArray)):
        mask = mask.to_numpy(zero_copy_only=False) if isinstance(mask, pa.Array) else mask.combine_chunks().to_numpy(zero_copy_only=False)
    where = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(f"row {first_row + i}" + (f" ({ids[i].as_py()})" if ids is not None else "") for i in where[:limit])
    more = f" and {len(where) - limit} more" if len(where) > limit else ""
    return shown + more


def validate(table: pa.Table, columns: tuple[Column, ...], what: str, id_column: str | None = None, *,
             unique: bool = True, first_row: int = 0) -> pa.Table:
    """Check names, types, required values and vocabularies; return the table with its
    columns in the documented order and types. Raises :class:`TableError`. Bad rows are
    named by ``id_column``, which must be unique (unless ``unique`` is false: the caller
    checks it with :func:`check_unique`).

    A string column may come dictionary-encoded (as Parquet readers give it with
    ``read_dictionary``); it is kept so, and its vocabulary is checked on the dictionary.
    ``first_row`` is the table's first row in the whole, when it is a slice of a larger one
    (errors count rows in the whole)."""
    import pyarrow.compute as pc

    names = set(table.column_names)
    missing = [c.name for c in columns if c.name not in names]
    if missing:
        raise TableError(f"{what}: missing column(s) {', '.join(missing)}")
    ids = table.column(id_column) if id_column else None

    def rows(mask) -> str:
        return _rows(mask, ids, first_row=first_row)

    out, fields = [], []
    for c in columns:
        col = table.column(c.name)
        encoded = pa.types.is_dictionary(col.type) and c.type == pa.string() and pa.types.is_string(col.type.value_type)
        try:
            if not encoded and col.type != c.type:
                col = col.cast(c.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise TableError(f"{what}.{c.name}: expected {c.type}, found {table.column(c.name).type} ({exc})") from None
        if c.required and col.null_count:
            raise TableError(f"{what}.{c.name} is required but empty in {rows(pc.is_null(col))}")
        vocabulary = c.allowed if c.allowed is not None else None
        if vocabulary is not None or c.members is not None:
            values = _distinct(col, encoded)
            if vocabulary is not None:
                wrong = [v for v in values if v is not None and str(v) not in vocabulary]
                if wrong:
                    bad = pc.equal(col.cast(pa.string()), str(wrong[0]))
                    raise TableError(f"{what}.{c.name}: {str(wrong[0])!r} is not one of {', '.join(sorted(vocabulary))} "
                                     f"in {rows(pc.fill_null(bad, False))}")
            if c.members is not None:
                _check_members(values, col, c, what, rows)
        if c.type == MONEY:
            neg = pc.less(col, 0)
            if pc.any(neg).as_py():
                raise TableError(f"{what}.{c.name}: negative amount in {rows(neg)}")
        out.append(col)
        fields.append(pa.field(c.name, col.type, nullable=not c.required))
    result = pa.Table.from_arrays(out, schema=pa.schema(fields))
    if id_column and unique:
        check_unique(result, what, id_column)
    return result


def check_unique(table: pa.Table, what: str, id_column: str) -> None:
    """Raise :class:`TableError` naming an identifier that appears twice. (It runs in a
    compiled pass that releases the interpreter's lock: a caller may run it on a thread.)"""
    duplicate = first_duplicate(table.column(id_column))
    if duplicate is not None:
        raise TableError(f"{what}.{id_column}: {duplicate!r} appears more than once")


def _distinct(col: pa.ChunkedArray, encoded: bool) -> list:
    import pyarrow.compute as pc

    if encoded:  # the values are those of the chunks' dictionaries (and null, if any)
        return dictionary_values(col).to_pylist() + ([None] if col.null_count else [])
    return pc.unique(col).to_pylist()


def dictionary_values(col: pa.ChunkedArray) -> pa.Array:
    """The distinct values of a dictionary-encoded column: its chunks' dictionaries, merged
    (each chunk read from Parquet has its own)."""
    import pyarrow.compute as pc

    if not col.num_chunks:
        return pa.array([], col.type.value_type)
    return pc.unique(pa.concat_arrays([c.dictionary for c in col.chunks]))


def first_duplicate(ids: pa.ChunkedArray) -> str | None:
    """The first identifier that appears twice, or ``None``. Hashes the strings in a compiled
    pass and sorts the hashes; only if two hashes are equal are the strings compared."""
    import numpy as np

    from yibao.batch.kernel import repeated_hashes

    same = np.flatnonzero(repeated_hashes(id_hashes(ids)))
    if not len(same):
        return None
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(pa.string())
    seen: dict[str, int] = {}
    for i in same:
        value = ids[int(i)].as_py()
        if value in seen:
            return value
        seen[value] = int(i)
    return None


def id_hashes(ids: pa.ChunkedArray):
    """A 64-bit hash (FNV-1a) of each identifier, in a compiled pass over the strings' bytes."""
    import numpy as np

    from yibao.batch.kernel import string_hashes

    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(pa.string())
    parts = []
    for chunk in ids.chunks:
        offsets_buf, data_buf = chunk.buffers()[1], chunk.buffers()[2]
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(offsets_buf, width)[chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        parts.append(string_hashes(offsets, data))
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


class SeenIds:
    """The identifiers of a table read in slices, gathered as hashes (8 bytes each) so that
    a repeat across slices is found at the end without keeping the strings."""

    def __init__(self) -> None:
        self._hashes: list[Any] = []

    def add(self, ids: pa.ChunkedArray) -> None:
        self._hashes.append(id_hashes(ids))

    def check(self, what: str, id_column: str, read_all: Callable[[], pa.ChunkedArray]) -> None:
        """Raise :class:`TableError` naming an identifier given twice. Only when two hashes
        are equal are the identifiers read again (``read_all``) and compared."""
        import numpy as np

        from yibao.batch.kernel import repeated_hashes

        if not self._hashes or not repeated_hashes(np.concatenate(self._hashes)).any():
            return
        duplicate = first_duplicate(read_all())
        if duplicate is not None:
            raise TableError(f"{what}.{id_column}: {duplicate!r} appears more than once")


def _check_members(values: list, col, c: Column, what: str, rows: Callable[[Any], str]) -> None:
    import pyarrow.compute as pc

    for value in values:
        if value is None or value == "":
            continue
        parts = value.split("+")
        unknown = [p for p in parts if p not in c.members]
        if unknown or parts != sorted(set(parts)):
            bad = pc.fill_null(pc.equal(col.cast(pa.string()), value), False)
            problem = f"{unknown[0]!r} is not one of {', '.join(sorted(c.members))}" if unknown else \
                f"{value!r} must list its members once each, sorted"
            raise TableError(f"{what}.{c.name}: {problem} in {rows(bad)}")


if __name__ == "__main__":  # pragma: no cover - regenerates docs/batch/tables.md's tables
    for _title, _cols in (("persons", PERSONS), ("visits", VISITS), ("lines", LINES), ("results", RESULTS)):
        print(f"## {_title}\n\n| column | type | required | meaning |\n|---|---|---|---|")
        for _c in _cols:
            print(f"| `{_c.name}` | {_c.type} | {'yes' if _c.required else 'no'} | {_c.doc} |")
        print()
