"""The named mechanisms the regulations are built from, each written once.

- :mod:`.axis`        the cumulative axis: split a visit's interval by segment boundaries,
                      a threshold and an expense limit (G5);
- :mod:`.deductible`  the deductible regimes (annual, highest-level top-up,
                      per-admission capped, decreasing per admission).

They know nothing about cities: the policy data chooses and parameterises them.
"""
