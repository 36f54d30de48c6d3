"""The national-interface gateway: ``POST /fsi/api/rsfComIfsService/callService``.

``envelope``   the request envelope and the response conventions
``registry``   the transaction table (infno → handler) and what each handler receives
``dispatch``   one call: authenticate, validate, replay or run in one transaction, answer
``people``     9001 sign-in, 1101 person info, 2001 eligibility
``visits``     registration, admission, discharge, diagnoses and fee lines (2201–2205, 2301–2302, 2401–2405)
``settling``   pre-settlement, settlement, reversal, 冲正 (2206–2208, 2303–2305, 2601)
``queries``    3201 reconciliation, 5203 settlement query, 5206 running totals
"""
