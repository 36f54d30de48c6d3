"""yibao (医保): an open core system for Chinese municipal basic medical insurance.

The package is organised the way the law is:

- ``yibao.policy``      the law as data: dated, cited parameters per city, plus overlays;
- ``yibao.mechanisms``  the named, reusable mechanisms the cities choose between
                        (deductible regimes, cumulative-axis segment scales, caps …);
- ``yibao.engine``      the one-stop settlement pipeline (一单制) that chains the funds;
- ``yibao.case``        the external settlement contract (input and output);
- ``yibao.cli``         the ``yibao`` command.
"""

__version__ = "0.1.0"
