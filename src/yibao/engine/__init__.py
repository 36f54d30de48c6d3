"""The one-stop settlement engine (一单制).

:func:`yibao.engine.pipeline.settle_case` settles a case visit by visit. Each visit runs
through typed stages, each a small pure function from the visit's state to a new state
(payments, postings and trace):

    catalogue split → classify → current-account first (A1) → pooled fund
    → 职工大额 → 大病保险 → 医疗救助 → personal account → cash

Running totals are never stored: they are the sum of the postings of the settlements
already recorded for that person-year, so a reversal is just another posting.
"""

from yibao.engine.pipeline import settle_case  # noqa: F401
