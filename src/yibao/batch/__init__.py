"""Batch settlement at city scale: claim tables in, settlement tables out.

* :mod:`yibao.batch.tables` — the documented Arrow schemas (persons, visits, lines, results)
  and their validation;
* :mod:`yibao.batch.plans` — compiles the policy, once per distinct visit profile, into
  numeric plans (the same rule resolution the reference engine makes per visit);
* :mod:`yibao.batch.kernel` — the compiled per-person, date-ordered pass over integer fen;
* :mod:`yibao.batch.engine` — reading, validating, settling and writing tables;
* :mod:`yibao.batch.synth`, :mod:`yibao.batch.simulate`, :mod:`yibao.batch.spark` — synthetic
  populations, policy simulation, and the same batch on Apache Spark.
"""
