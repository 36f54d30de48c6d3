"""Writing a simulation out: ``summary.json``, PNG charts and a self-contained ``report.html``.

Everything here reads the JSON-ready summary of :func:`yibao.batch.simulate.compare`
(money as yuan strings); the charts turn those strings into floats for drawing only.
The files are reproducible: the same inputs give byte-identical outputs (no timestamp;
matplotlib's PNG writer is deterministic). Charts are drawn with the object-oriented
Agg canvas, so no global pyplot state is touched; their labels are the vocabulary's
keys in Latin letters, since a CJK font cannot be assumed — the HTML tables carry the
Chinese terms.
"""

from __future__ import annotations

import base64
import html
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa

from yibao import vocabulary as V

CHARTS = ("funds", "burden_category", "burden_decile", "histogram")

_UP, _DOWN, _GREY = "#c0392b", "#2e8b57", "#7f8c8d"


def _y(text: str | None) -> float:
    return float(Decimal(text)) if text is not None else 0.0


# ---------------------------------------------------------------------- charts


def _figure(width: float = 7.5, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _bars(labels: list[str], values: list[float], title: str, ylabel: str, notes: list[str] | None = None,
          horizontal: bool = False) -> bytes:
    fig = _figure(7.5, max(3.0, 0.45 * len(labels) + 1.2) if horizontal else 4.0)
    ax = fig.add_subplot()
    colors = [_UP if v > 0 else _DOWN if v < 0 else _GREY for v in values]
    positions = list(range(len(labels)))
    if horizontal:
        ax.barh(positions, values, color=colors)
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel(ylabel)
    else:
        ax.bar(positions, values, color=colors)
        ax.set_xticks(positions, labels, rotation=30 if max((len(x) for x in labels), default=0) > 6 else 0,
                      ha="right" if max((len(x) for x in labels), default=0) > 6 else "center")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_ylabel(ylabel)
    for pos, value, note in zip(positions, values, notes or [None] * len(values)):
        text = note if note is not None else f"{value:,.2f}"
        if horizontal:
            ax.annotate(text, (value, pos), xytext=(4 if value >= 0 else -4, 0), textcoords="offset points",
                        ha="left" if value >= 0 else "right", va="center", fontsize=8)
        else:
            ax.annotate(text, (pos, value), xytext=(0, 3 if value >= 0 else -3), textcoords="offset points",
                        ha="center", va="bottom" if value >= 0 else "top", fontsize=8)
    lo, hi = min([0.0, *values]), max([0.0, *values])
    span = (hi - lo) or 1.0
    room = 0.55 if horizontal else 0.2  # for the labels beyond the bars' ends
    limits = (lo - (room if lo < 0 else 0.05) * span, hi + (room if hi > 0 or lo == 0 else 0.05) * span)
    ax.set_xlim(*limits) if horizontal else ax.set_ylim(*limits)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
    return _png(fig)


def negate(text: str) -> str:
    """A yuan string's opposite: what a fund saves is minus what it spends more."""
    if text.startswith("-"):
        return text[1:]
    return text if text == "0.00" else "-" + text


def shift(change: str, who: str) -> str:
    """A change in words: ``funds save 1.00 yuan`` / ``persons pay 1.00 yuan more``."""
    if who == "funds":
        return f"funds save {negate(change)} yuan" if change.startswith("-") else \
            "funds spend the same" if change == "0.00" else f"funds spend {change} yuan more"
    return f"{who} pay {negate(change)} yuan less" if change.startswith("-") else \
        f"{who} pay the same" if change == "0.00" else f"{who} pay {change} yuan more"


def _pct(p: float | None) -> str:
    return "n/a" if p is None else f"{p:+.2f}%"


def charts(summary: dict[str, Any]) -> dict[str, bytes]:
    """The PNG charts, by name (:data:`CHARTS`)."""
    funds = summary["funds"]
    rows = [*funds["funds"], funds["account"]]
    burden = summary["burden"]["psn_part"]
    labels = [r["key"] for r in rows] + ["total funds", "persons (psn_part)"]
    values = [_y(r["change"]) for r in rows] + [_y(funds["total"]["change"]), _y(burden["change"])]
    pcts = [r["change_pct"] for r in rows] + [funds["total"]["change_pct"], burden["change_pct"]]
    out = {"funds": _bars(labels, values, "Change in spending, reform - current (yuan)", "yuan",
                          [f"{v:,.2f} ({_pct(p)})" for v, p in zip(values, pcts)], horizontal=True)}

    cats = summary["groups"]["category"]
    out["burden_category"] = _bars(
        [r["key"] for r in cats], [_y(r["mean_change_per_claimant"]) for r in cats],
        "Mean change in personal burden per claimant, by category", "yuan per claimant",
        [f"{_y(r['mean_change_per_claimant']):,.2f}\n({_pct(r['change_pct'])})" for r in cats])

    deciles = summary["groups"]["decile"]
    out["burden_decile"] = _bars(
        [r["label"] for r in deciles], [_y(r["mean_change_per_claimant"]) for r in deciles],
        "Mean change in personal burden, by decile of baseline burden", "yuan per claimant",
        [f"{_y(r['mean_change_per_claimant']):,.2f}\n({_pct(r['change_pct'])})" for r in deciles])

    hist = summary["histogram"]
    fig = _figure()
    ax = fig.add_subplot()
    if hist["counts"]:
        edges = [_y(e) for e in hist["edges"]]
        lefts, widths = edges[:-1], [b - a for a, b in zip(edges, edges[1:])]
        colors = [_UP if a >= 0 else _DOWN for a in lefts]
        ax.bar(lefts, hist["counts"], width=widths, align="edge", color=colors, edgecolor="white", linewidth=0.5)
        ax.axvline(0, color="black", linewidth=0.8)
    else:
        ax.text(0.5, 0.5, "no claimant's burden changes", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(f"Per-person change in burden (claimants; {hist['zero']:,} unchanged, not shown)", fontsize=11)
    ax.set_xlabel("change in yuan (reform - current)")
    ax.set_ylabel("persons")
    ax.grid(axis="y", alpha=0.3)
    out["histogram"] = _png(fig)
    return out


# ---------------------------------------------------------------------- html

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right;vertical-align:top}
th{background:#f4f6f8}td.l,th.l{text-align:left}
.up{color:#c0392b}.down{color:#2e8b57}.muted{color:#777}
.headline{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:14em}
.card .big{font-size:1.5em;font-weight:600}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.6em;overflow-x:auto;font-size:.85em}
img{max-width:100%;height:auto}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _signed(text: str | None) -> str:
    if text is None:
        return '<span class="muted">—</span>'
    if text.startswith("-"):
        return f'<span class="down">{_e(text)}</span>'
    if text == "0.00":
        return _e(text)
    return f'<span class="up">+{_e(text)}</span>'


def _pct_html(p: float | None) -> str:
    return '<span class="muted">—</span>' if p is None else _e(f"{p:+.2f}%")


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], left: int = 1) -> str:
    """``rows`` hold HTML already escaped; the first ``left`` columns are left-aligned."""
    head = "".join(f'<th class="{"l" if i < left else ""}">{h}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"></p>'


def _group_table(rows: list[dict[str, Any]], decile: bool = False) -> str:
    headers = ["group", "persons", "claimants", "burden current", "burden reform", "change", "%",
               "cash change", "mean per person", "mean per claimant", "pay more", "pay less"]
    if decile:
        headers[1:1] = ["baseline burden range"]
    out = []
    for r in rows:
        label = _e(r["label"]) + (f' <span class="muted">{_e(r["key"])}</span>' if not decile else "")
        cells = [label, f"{r['persons']:,}", f"{r['claimants']:,}", _e(r["base"]), _e(r["reform"]),
                 _signed(r["change"]), _pct_html(r["change_pct"]), _signed(r["cash_change"]),
                 _signed(r["mean_change_per_person"]), _signed(r["mean_change_per_claimant"]),
                 f"{r['pay_more']:,}", f"{r['pay_less']:,}"]
        if decile:
            cells[1:1] = [_e(f"{r['base_min']} – {r['base_max']}")]
        out.append(cells)
    return _table(headers, out, left=2 if decile else 1)


def _person_table(rows: list[dict[str, Any]]) -> str:
    return _table(["person", "scheme", "category", "assistance", "visits", "burden current", "burden reform",
                   "change", "cash change"],
                  [[_e(r["person_id"]), _e(V.SCHEMES.get(r["scheme"], r["scheme"])),
                    _e(V.ALL_CATEGORIES.get(r["category"], r["category"])),
                    _e(V.ASSISTANCE.get(r["assistance"], "—" if r["assistance"] == "none" else r["assistance"])),
                    f"{r['visits']:,}", _e(r["base"]), _e(r["reform"]), _signed(r["change"]), _signed(r["cash_change"])]
                   for r in rows], left=4)


def render_html(summary: dict[str, Any], pngs: dict[str, bytes], reform_text: str | None = None) -> str:
    """The self-contained report: inline CSS, charts as data URIs, no external reference."""
    s = summary
    claims, funds, burden, wl, refused = s["claims"], s["funds"], s["burden"], s["winners_losers"], s["refused"]
    reform = s.get("reform") or {}
    city = s.get("city") or ""
    title = s.get("title") or f"Policy simulation — {V.CITIES.get(city, city)}"
    total = funds["total"]
    saving = negate(total["change"])
    total_pct = "—" if total["change_pct"] is None else f"{abs(total['change_pct']):.2f}%"
    parts = [f"<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{_e(title)}</h1>"]
    years = ", ".join(str(y) for y in claims["years"])
    parts.append(f'<p class="muted">{_e(V.CITIES.get(city, city))} ({_e(city)}) · claims {_e(s.get("inputs", {}).get("claims", ""))} · '
                 f'{claims["visits"]:,} visits of {claims["persons"]:,} persons ({claims["claimants"]:,} with compared visits) · '
                 f'{_e(claims["date_from"])} to {_e(claims["date_to"])} (year {_e(years)}) · billed {_e(claims["billed"])} yuan</p>')

    parts.append('<div class="headline">')
    saves = not total["change"].startswith("-") and total["change"] != "0.00"
    parts.append(f'<div class="card">{"Funds spend more" if saves else "Funds save"}'
                 f'<div class="big">{_e(total["change"] if saves else saving)} yuan</div>'
                 f'{_e(total_pct)} of pooled fund spending '
                 f'({_e(total["base"])} → {_e(total["reform"])})</div>')
    b = burden["psn_part"]
    parts.append(f'<div class="card">Personal burden changes by<div class="big">{_signed(b["change"])} yuan</div>'
                 f'{_pct_html(b["change_pct"])} ({_e(b["base"])} → {_e(b["reform"])})</div>')
    parts.append(f'<div class="card">Persons<div class="big"><span class="up">{wl["pay_more"]:,}</span> pay more · '
                 f'<span class="down">{wl["pay_less"]:,}</span> less</div>{wl["same"]:,} the same '
                 f'(of whom {wl["without_claims"]:,} without claims)</div>')
    parts.append("</div>")
    if refused["excluded_visits"]:
        parts.append(f'<p><b>{refused["excluded_visits"]:,} visits refused in at least one run are left out of every figure</b> '
                     f'(see <i>Refused visits</i> below).</p>')

    # the reform
    parts.append("<h2>The reform</h2>")
    if reform.get("description"):
        parts.append(f"<p>{_e(reform['description'])}</p>")
    base_overlays = reform.get("base_overlays") or []
    parts.append(f'<p>Overlay <code>{_e(reform.get("file", ""))}</code> laid over the current policy'
                 + (f' (base overlays: {", ".join(f"<code>{_e(o)}</code>" for o in base_overlays)})' if base_overlays else "")
                 + ".</p>")
    changes = reform.get("changes") or []
    if changes:
        parts.append(f"<p>It changes {len(changes)} parameter(s):</p>")
        for c in changes:
            parts.append(f"<h3><code>{_e(c['parameter'])}</code> <span class=\"muted\">{_e(c['description'])}</span></h3>"
                         f"<pre>{_e(c['diff'])}</pre>")
    elif reform:
        parts.append("<p><b>The overlay changes no parameter of the current policy.</b></p>")
    if reform_text is not None:
        parts.append(f"<details><summary>The overlay's text</summary><pre>{_e(reform_text)}</pre></details>")

    # funds
    parts.append("<h2>Fund spending</h2>")
    rows = [[f'{_e(r["label"])} <span class="muted">{_e(r["key"])}</span>', _e(r["base"]), _e(r["reform"]),
             _signed(r["change"]), _pct_html(r["change_pct"])] for r in [*funds["funds"], total, funds["account"]]]
    parts.append(_table(["fund", "current (yuan)", "reform (yuan)", "change", "%"], rows))
    check = funds["check"]
    parts.append(f'<p class="muted">Check: billed amounts equal in both runs: {"yes" if check["billed_equal"] else "NO"}; '
                 f'change in pooled funds + change in personal burden = {_e(check["funds_plus_burden_change"])} yuan.</p>')
    parts.append(_img(pngs["funds"], "change in fund spending"))

    # burden
    parts.append("<h2>Personal burden</h2>")
    cash = burden["cash"]
    parts.append(_table(["", "current (yuan)", "reform (yuan)", "change", "%"], [
        [_e(b["label"]), _e(b["base"]), _e(b["reform"]), _signed(b["change"]), _pct_html(b["change_pct"])],
        [_e(cash["label"]), _e(cash["base"]), _e(cash["reform"]), _signed(cash["change"]), _pct_html(cash["change_pct"])],
    ]))
    parts.append(f"<p>Mean change per person {_signed(burden['mean_change_per_person'])} yuan "
                 f"({burden['persons']:,} persons); per claimant {_signed(burden['mean_change_per_claimant'])} yuan "
                 f"({burden['claimants']:,} claimants; cash alone {_signed(burden['mean_cash_change_per_claimant'])}).</p>")
    for key, heading in (("category", "By category"), ("scheme", "By scheme"), ("assistance", "By assistance group")):
        parts.append(f"<h3>{heading}</h3>" + _group_table(s["groups"][key]))
        if key == "category":
            parts.append(_img(pngs["burden_category"], "burden change by category"))
    parts.append("<h3>By decile of baseline burden</h3>")
    parts.append('<p class="muted">Claimants ranked by their burden under the current policy (ties by person id), '
                 "in ten groups of equal size; D1 is the lowest burden.</p>")
    parts.append(_group_table(s["groups"]["decile"], decile=True))
    parts.append(_img(pngs["burden_decile"], "burden change by decile"))

    # winners and losers
    parts.append("<h2>Winners and losers</h2>")
    parts.append(_table(["", "persons"], [
        ["pay more", f'<span class="up">{wl["pay_more"]:,}</span>'],
        ["pay less", f'<span class="down">{wl["pay_less"]:,}</span>'],
        ["the same, with claims", f'{wl["same_with_claims"]:,}'],
        ["the same, without claims", f'{wl["without_claims"]:,}'],
        ["all persons", f'{wl["persons"]:,}'],
    ]))
    parts.append(f"<p>Increases total {_signed(wl['increase_total'])} yuan, decreases {_signed(wl['decrease_total'])} yuan.</p>")
    q = wl["claimant_change_quantiles"]
    if q:
        parts.append("<p>Per-claimant change (nearest rank): " + ", ".join(f"{_e(k)} {_signed(v)}" for k, v in q.items()) + ".</p>")
    parts.append(_img(pngs["histogram"], "distribution of per-person change"))
    if wl["largest_increases"]:
        parts.append(f"<h3>Largest increases (top {len(wl['largest_increases'])})</h3>" + _person_table(wl["largest_increases"]))
    if wl["largest_decreases"]:
        parts.append(f"<h3>Largest decreases (top {len(wl['largest_decreases'])})</h3>" + _person_table(wl["largest_decreases"]))

    # refused
    parts.append("<h2>Refused visits</h2>")
    parts.append(_table(["", "visits"], [
        ["refused under the current policy", f"{refused['base']['count']:,}"],
        ["refused under the reform", f"{refused['reform']['count']:,}"],
        ["… only under the current policy", f"{refused['base_only']:,}"],
        ["… only under the reform", f"{refused['reform_only']:,}"],
        ["… in both runs", f"{refused['both']:,}"],
        ["left out of the comparison", f"{refused['excluded_visits']:,}"],
    ]))
    for run, heading in (("base", "current policy"), ("reform", "reform")):
        msgs = refused[run]["messages"]
        if msgs:
            parts.append(f"<h3>Most frequent messages — {heading}</h3>" + _table(
                ["message", "visits", "first visit"], [[_e(m["message"]), f"{m['count']:,}", _e(m["first_visit"])] for m in msgs]))

    parts.append("<h2>Definitions</h2><ul>"
                 "<li><b>Compared visits</b>: settled in both runs; a visit refused in either run is left out of every money figure and counted above.</li>"
                 "<li><b>Burden</b>: a person's 个人负担 <code>psn_part_amt</code> (account + cash) summed over their compared visits; <b>cash</b> is <code>psn_cash_pay</code> alone.</li>"
                 "<li><b>Change</b>: reform minus current — positive means the person pays (or the fund spends) more.</li>"
                 "<li><b>Claimants</b>: persons with at least one compared visit; <b>per person</b> means divide by all persons of the group.</li>"
                 "<li><b>Deciles</b>: claimants ranked by baseline burden (ties by person id); rank r of k is in decile r·10÷k+1.</li>"
                 "<li>Money is summed exactly in fen; means are rounded half up to the fen.</li></ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


# ---------------------------------------------------------------------- files


def write_report(out_dir: str | Path, summary: dict[str, Any], persons: pa.Table | None = None,
                 reform_text: str | None = None) -> dict[str, Path]:
    """Write ``summary.json``, the charts, ``report.html`` (and ``person_changes.parquet`` with each
    person's figures when ``persons`` is given); return the paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    path = out / "summary.json"
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    written["summary"] = path
    pngs = charts(summary)
    for name, png in pngs.items():
        path = out / f"{name}.png"
        path.write_bytes(png)
        written[name] = path
    path = out / "report.html"
    path.write_text(render_html(summary, pngs, reform_text), encoding="utf-8")
    written["report"] = path
    if persons is not None:
        import pyarrow.parquet as pq

        path = out / "person_changes.parquet"
        pq.write_table(persons, path)
        written["persons"] = path
    return written


__all__ = ["CHARTS", "charts", "negate", "render_html", "shift", "write_report"]
