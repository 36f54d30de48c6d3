"""The insured lifecycle: who is covered, what is owed, what sits in the account.

A person's *history* (:mod:`.history`) is the list of facts an agency records —
enrolments, monthly contributions, status events, credited years, relatives. Every
answer (coverage on a date, contributions due, retirement eligibility, the account
statement, the maternity allowance) is computed from it with the city's policy data.
"""
