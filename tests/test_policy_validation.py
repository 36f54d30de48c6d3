"""Policy files and overlays are validated at load (docs/policy-format.md).

A wrong type, an unknown key, an unknown selector value, an overlapping ``until`` and a gap
each fail with :class:`PolicyError` naming the file and the key — in an overlay (through
``load_city`` and ``yibao settle --overlay``) and in a shipped file (a copy of the data
folder, monkeypatched in). A valid overlay that changes a figure from a new date changes
settlements on and after that date only.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

import yibao.policy.loader as loader
from support import case, run_cli, settle, visit, write_case
from yibao.errors import PolicyError
from yibao.policy.loader import load_city


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    """Loads are cached per (city, overlays): start and end every test with a clean cache."""
    loader._load.cache_clear()
    yield
    loader._load.cache_clear()


def overlay(tmp_path: Path, body: str, name: str = "overlay.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


def load_error(city: str, path: str) -> str:
    with pytest.raises(PolicyError) as err:
        load_city(city, [path])
    return str(err.value)


HZ_OUTPATIENT = "hangzhou/employee/outpatient/deductible.yaml"
HZ_INPATIENT = "hangzhou/employee/inpatient/deductible.yaml"


# ----------------------------------------------------------------- overlays: each error


def test_overlay_wrong_type_names_file_and_key(tmp_path):
    """policy-format: a figure of the wrong type fails at load, naming the file and the key."""
    path = overlay(
        tmp_path,
        """
        city: hangzhou
        parameters:
          employee.outpatient.deductible:
            values:
              2026-01-01:
                value:
                  standard:
                    base:
                      by_category: {other: six hundred}
        """,
    )
    msg = load_error("hangzhou", path)
    assert path in msg and HZ_OUTPATIENT in msg
    assert "values[2026-01-01].value.standard.base.by_category[other]" in msg
    assert "six hundred" in msg


def test_overlay_wrong_type_of_a_flag_and_a_rate(tmp_path):
    """policy-format benefit: `account_first` is true or false; a rate is 0–100 points."""
    flag = overlay(
        tmp_path,
        """
        city: jiaxing
        parameters:
          employee.outpatient.benefit:
            values:
              2025-01-01:
                value: {account_first: "yes"}
        """,
        "flag.yaml",
    )
    msg = load_error("jiaxing", flag)
    assert flag in msg and "jiaxing/employee/outpatient/benefit.yaml" in msg and "account_first" in msg
    rate = overlay(
        tmp_path,
        """
        city: jiaxing
        parameters:
          employee.inpatient.rates:
            values:
              2025-01-01:
                value:
                  scale:
                    - {from: 0, rate: {by_level: {secondary: 185}}}
                    - {}
        """,
        "rate.yaml",
    )
    msg = load_error("jiaxing", rate)
    assert rate in msg and "jiaxing/employee/inpatient/rates.yaml" in msg
    assert "values[2025-01-01].value.scale[0].rate.by_level[secondary]" in msg and "185" in msg


def test_overlay_unknown_key_in_a_value(tmp_path):
    """policy-format: unknown keys inside a value are refused."""
    path = overlay(
        tmp_path,
        """
        city: hangzhou
        parameters:
          employee.outpatient.deductible:
            values:
              2026-01-01:
                value: {minimum: 5}
        """,
    )
    msg = load_error("hangzhou", path)
    assert path in msg and HZ_OUTPATIENT in msg and "values[2026-01-01].value" in msg and "minimum" in msg


@pytest.mark.parametrize(
    "body, key",
    [
        ("city: hangzhou\nparamaters: {}\n", "paramaters"),
        (
            "city: hangzhou\nparameters:\n  employee.outpatient.deductible:\n    valeus: {}\n",
            "parameters.employee.outpatient.deductible.valeus",
        ),
        (
            "city: hangzhou\nparameters:\n  employee.outpatient.deductible:\n    values:\n"
            "      2026-01-01:\n        value: {regime: annual}\n        comment: x\n",
            "values[2026-01-01].comment",
        ),
    ],
    ids=["top-level", "parameter", "version"],
)
def test_overlay_unknown_keys_at_every_level(tmp_path, body, key):
    """policy-format Overlays: the same format as the shipped files, nothing else."""
    path = overlay(tmp_path, body)
    msg = load_error("hangzhou", path)
    assert path in msg and key in msg


def test_overlay_unknown_selector_value(tmp_path):
    """policy-format Selectors: a typo such as level `tertairy` fails at load."""
    path = overlay(
        tmp_path,
        """
        city: hangzhou
        parameters:
          employee.inpatient.deductible:
            values:
              2026-01-01:
                value:
                  standard:
                    by_level: {tertairy: 900}
        """,
    )
    msg = load_error("hangzhou", path)
    assert path in msg and HZ_INPATIENT in msg
    assert "values[2026-01-01].value.standard.by_level[tertairy]" in msg and "'tertairy' is not a level" in msg


@pytest.mark.parametrize(
    "when, problem",
    [
        ("{level: tertairy}", "'tertairy' is not a level"),
        ("{colour: red}", "unknown condition 'colour'"),
        ("{flag: vip}", "'vip' is not a flag"),
    ],
)
def test_overlay_unknown_condition_key_or_value(tmp_path, when, problem):
    """policy-format Conditions: `when` keys and values are checked at load."""
    path = overlay(
        tmp_path,
        f"""
        city: jiaxing
        parameters:
          employee.outpatient.rates:
            values:
              2025-01-01:
                value:
                  adjust:
                    - when: {when}
                      add: 5
                    - {{}}
                    - {{}}
                    - {{}}
        """,
    )
    msg = load_error("jiaxing", path)
    assert path in msg and "jiaxing/employee/outpatient/rates.yaml" in msg
    assert "values[2025-01-01].value.adjust[0].when" in msg and problem in msg


def test_overlay_unknown_selector_dimension(tmp_path):
    path = overlay(
        tmp_path,
        """
        city: hangzhou
        parameters:
          employee.inpatient.expense_limit:
            values:
              2026-01-01:
                value: {by_colour: {red: 1}}
        """,
    )
    msg = load_error("hangzhou", path)
    assert path in msg and "hangzhou/employee/inpatient/expense_limit.yaml" in msg and "by_colour" in msg


def test_overlay_overlapping_until(tmp_path):
    """policy-format: an overlap between versions is a load error naming the file and key."""
    path = overlay(
        tmp_path,
        """
        city: hangzhou
        parameters:
          employee.outpatient.deductible:
            values:
              2026-01-01:
                until: 2026-12-31
              2026-07-01:
                value:
                  standard:
                    base:
                      by_category: {other: 800}
        """,
    )
    msg = load_error("hangzhou", path)
    assert path in msg and HZ_OUTPATIENT in msg
    assert "values[2026-01-01].until" in msg and "overlap" in msg


def test_overlay_gap_between_versions(tmp_path):
    """policy-format: versions must cover the document's whole span — a gap is an error."""
    path = overlay(
        tmp_path,
        """
        city: hangzhou
        parameters:
          employee.outpatient.deductible:
            values:
              2026-01-01:
                until: 2026-03-31
              2026-07-01:
                value:
                  standard:
                    base:
                      by_category: {other: 800}
        """,
    )
    msg = load_error("hangzhou", path)
    assert path in msg and HZ_OUTPATIENT in msg
    assert "values[2026-01-01].until" in msg and "gap" in msg


def test_overlay_gap_at_the_end(tmp_path):
    """policy-format: a last version ending while the document stays in force is a gap."""
    path = overlay(
        tmp_path,
        """
        city: jiaxing
        parameters:
          employee.inpatient.expense_limit:
            values:
              2025-01-01:
                until: 2025-12-31
        """,
    )
    msg = load_error("jiaxing", path)
    assert path in msg and "jiaxing/employee/inpatient/expense_limit.yaml" in msg and "gap" in msg


def test_overlay_for_another_city(tmp_path):
    path = overlay(tmp_path, "city: jiaxing\nparameters: {}\n")
    msg = load_error("hangzhou", path)
    assert path in msg and "city" in msg and "jiaxing" in msg


def test_overlay_cannot_change_a_type(tmp_path):
    path = overlay(
        tmp_path,
        """
        city: hangzhou
        parameters:
          employee.outpatient.deductible:
            type: rates
        """,
    )
    msg = load_error("hangzhou", path)
    assert path in msg and "employee.outpatient.deductible.type" in msg


def test_overlay_that_is_not_yaml(tmp_path):
    path = overlay(tmp_path, "city: [hangzhou\n")
    msg = load_error("hangzhou", path)
    assert path in msg and "YAML" in msg


def test_bad_overlay_through_the_cli(tmp_path):
    """`yibao settle --overlay`: the same validation, one line on stderr, nothing on stdout."""
    path = overlay(
        tmp_path,
        """
        city: hangzhou
        parameters:
          employee.inpatient.deductible:
            values:
              2026-01-01:
                value:
                  standard:
                    by_level: {tertairy: 900}
        """,
    )
    case_path = write_case(tmp_path, case("hangzhou", None, visit(date="2026-03-01", inscope="1000")))
    run = run_cli("settle", "--overlay", path, case_path)
    assert run.code != 0 and run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1
    assert path in lines[0] and HZ_INPATIENT in lines[0] and "by_level[tertairy]" in lines[0]


# ----------------------------------------------------------------- shipped files (a copy)


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of the shipped data folder, used by the loader instead of the package's."""
    root = tmp_path / "yibao_data"
    shutil.copytree(Path(loader.__file__).parent / "data", root)
    monkeypatch.setattr(loader, "DATA", root)
    loader._load.cache_clear()
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_copy_loads_unchanged(data_copy):
    for city in ("jiaxing", "hangzhou", "suizhou"):
        assert load_city(city).parameters


def test_shipped_file_unknown_selector_value(data_copy):
    """policy-format: `tertairy` in a shipped file fails at load with the file and key."""
    _edit(data_copy / "jiaxing/employee/inpatient/deductible.yaml", "tertiary: 800", "tertairy: 800")
    with pytest.raises(PolicyError) as err:
        load_city("jiaxing")
    msg = str(err.value)
    assert "jiaxing/employee/inpatient/deductible.yaml" in msg
    assert "values[2025-01-01].value.standard.by_level[tertairy]" in msg


def test_shipped_file_wrong_type(data_copy):
    _edit(data_copy / "suizhou/employee/inpatient/deductible.yaml", "floor: 400", "floor: four hundred")
    with pytest.raises(PolicyError) as err:
        load_city("suizhou")
    msg = str(err.value)
    assert "suizhou/employee/inpatient/deductible.yaml" in msg and "values[2024-01-01].value.floor" in msg


def test_shipped_file_unknown_key(data_copy):
    _edit(data_copy / "hangzhou/layers/critical_illness.yaml", "type: layer", "type: layer\ncomment: x")
    with pytest.raises(PolicyError) as err:
        load_city("hangzhou")
    msg = str(err.value)
    assert "hangzhou/layers/critical_illness.yaml" in msg and "comment" in msg


def test_shipped_file_gap_at_the_start(data_copy):
    """policy-format: a parameter starting after the document's effective date leaves a gap."""
    _edit(data_copy / "jiaxing/employee/inpatient/rates.yaml", "  2025-01-01:", "  2025-02-01:")
    with pytest.raises(PolicyError) as err:
        load_city("jiaxing")
    msg = str(err.value)
    assert "jiaxing/employee/inpatient/rates.yaml" in msg and "values" in msg and "gap" in msg


def test_shipped_file_overlap(data_copy):
    """随州 resident deductible: the 2024 version runs to 2025-12-31; pushing it later overlaps."""
    _edit(data_copy / "suizhou/resident/inpatient/deductible.yaml", "until: 2025-12-31", "until: 2026-06-30")
    with pytest.raises(PolicyError) as err:
        load_city("suizhou")
    msg = str(err.value)
    assert "suizhou/resident/inpatient/deductible.yaml" in msg and "values[2024-01-01].until" in msg and "overlap" in msg


def test_shipped_file_gap_between_versions(data_copy):
    _edit(data_copy / "suizhou/resident/inpatient/deductible.yaml", "until: 2025-12-31", "until: 2025-11-30")
    with pytest.raises(PolicyError) as err:
        load_city("suizhou")
    msg = str(err.value)
    assert "suizhou/resident/inpatient/deductible.yaml" in msg and "values[2024-01-01].until" in msg and "gap" in msg


# ----------------------------------------------------------------- a valid overlay from a date

NEW_DEDUCTIBLE = """
city: hangzhou
description: 职工门诊起付标准 600 → 800 from 2026-07-01
parameters:
  employee.outpatient.deductible:
    values:
      2026-07-01:
        reference: an operator's overlay (test)
        value:
          standard:
            base:
              by_category: {other: 800}
"""


@pytest.mark.parametrize(
    "date, ded, fund",
    [
        ("2026-06-30", 600, 760),  # the shipped 600: (1600 − 600) × 76%
        ("2026-07-01", 800, 608),  # the overlay's 800: (1600 − 800) × 76%
        ("2026-12-31", 800, 608),
    ],
)
def test_valid_overlay_changes_a_figure_from_its_date_only(tmp_path, date, ded, fund):
    """policy-format: a new figure from a new date is a new version — earlier visits keep the old one."""
    path = overlay(tmp_path, NEW_DEDUCTIBLE)
    s = settle(case("hangzhou", None, visit(date=date, kind="outpatient", level="tertiary", inscope="1600")), (path,))[0]
    assert (s["act_pay_dedc"], s["hifp_pay"]) == (f"{ded}.00", f"{fund}.00")


def test_valid_overlay_keeps_the_rest_of_the_version(tmp_path):
    """policy-format Overlays: mappings merge key by key — 退休 200 and the family-doctor −300 stay."""
    path = overlay(tmp_path, NEW_DEDUCTIBLE)
    retired = settle(
        case("hangzhou", {"category": "retired"}, visit(date="2026-08-01", kind="outpatient", level="tertiary", inscope="1200")), (path,)
    )[0]
    assert (retired["act_pay_dedc"], retired["hifp_pay"]) == ("200.00", "820.00")
    doctor = settle(
        case("hangzhou", {"flags": ["family_doctor"]}, visit(date="2026-08-01", kind="outpatient", level="primary", inscope="1500")), (path,)
    )[0]
    # 800 − 300 = 500; 1000 × (86 + 3)% = 890
    assert (doctor["act_pay_dedc"], doctor["hifp_pay"]) == ("500.00", "890.00")


def test_valid_overlay_through_the_cli(tmp_path):
    """`yibao settle --overlay F`: the overlay applies from its date; without it, nothing changes."""
    path = overlay(tmp_path, NEW_DEDUCTIBLE)
    doc = case(
        "hangzhou",
        None,
        visit("V1", date="2026-03-01", kind="outpatient", level="tertiary", inscope="1600"),
    )
    before = run_cli("settle", "--overlay", path, write_case(tmp_path, doc, "before.json"))
    doc["visits"][0]["date"] = "2026-09-01"
    after = run_cli("settle", "--overlay", path, write_case(tmp_path, doc, "after.json"))
    plain = run_cli("settle", write_case(tmp_path, doc, "plain.json"))
    assert before.code == after.code == plain.code == 0, before.err + after.err + plain.err
    assert before.json["settlements"][0]["act_pay_dedc"] == "600.00"
    assert after.json["settlements"][0]["act_pay_dedc"] == "800.00"
    assert after.json["settlements"][0]["hifp_pay"] == "608.00"
    assert plain.json["settlements"][0]["act_pay_dedc"] == "600.00"
