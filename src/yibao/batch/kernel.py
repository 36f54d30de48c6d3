"""The compiled settlement pass: every visit, person by person, in date order.

One ``numba`` function walks the visits sorted by (person, date). It keeps the person-year's
running totals (the counters :class:`yibao.batch.plans.Counters` names) and the account
balances, and settles each visit by its plan with the same steps, in the same order, as
the reference engine's stages (G7):

    catalogue split (given) → A1 当年账户先行 → 统筹 lines (异地先行自付 → 起付标准 → segments
    and expense limit → 再支付 → caps; overflow to another line) → 职工大额 → 大病 →
    医疗救助 → 个人账户 → 现金

Money is integer fen. A rate is hundredths of a percentage point, so ``fen × bp`` is exact
in units of 1/10,000 fen; each fund's exact sum is rounded half up to the fen once per
visit (G1), as the reference engine does with ``Decimal``. The postings of a visit reach
the running totals only after the visit (the reference reads the totals before the visit
throughout), and not at all when the visit is refused.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from yibao.batch.plans import (
    A_ANNUAL, A_ERR, A_LIMIT_ERR, A_MASK, A_MINUS, A_NBURDEN, A_OUTP_CTR, A_OUTPATIENT, A_PAID, A_PRESENT, A_RATE,
    B_BEAR, B_PLUS, C_APPLIES, C_COUNTER, C_COUNTS, C_LIMIT, DED_CAPPED, DED_DECREASING, DED_TOP_UP,
    DED_TRANSFER, L_ADM, L_ADMISSION, L_AXIS, L_CAP, L_COUNTS, L_DED, L_ERR, L_FLOOR, L_LIMIT, L_NCAP, L_NSEG,
    L_OVERFLOW, L_PAYS, L_REGIME, L_SHARE, L_STD, L_STEP, L_TOP_MASK, L_TOP_RATE, L_TRANSFER, NONE,
    P_ACCOUNT_FIRST, P_ACCT_ERR, P_ACCT_SRC0, P_ACCT_SRC1, P_ERR, P_NLINES, P_OUTPATIENT, P_USE_ACCOUNT, S_ERR,
    S_RATE, S_START, Y_AXIS, Y_BONUS, Y_ERR, Y_LIMIT, Y_MASK, Y_NSEG, Y_PAID, Y_PAYLIMIT, Y_PRESENT, Y_THRESHOLD,
)

BP = 10_000  # a rate's unit: 1/10,000 (hundredths of a percentage point)

#: Output columns of :func:`settle_sorted`, in order.
OUTPUTS = ("status", "act_pay_dedc", "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "acct_pay", "psn_cash_pay", "balc")


@njit(cache=True, inline="always")
def _round(x, unit):
    """``x / unit`` rounded half up (away from zero), as ``Decimal.quantize(ROUND_HALF_UP)``."""
    if x >= 0:
        return (x + unit // 2) // unit
    return -((-x + unit // 2) // unit)


@njit(cache=True, inline="always")
def _components(mask, fulamt, overlmt, pre, pooled, beyond):
    total = 0
    if mask & 1:
        total += fulamt
    if mask & 2:
        total += overlmt
    if mask & 4:
        total += pre
    if mask & 8:
        total += pooled
    if mask & 16:
        total += beyond
    return total


@njit(cache=True, inline="always")
def _axis(start, length, segs, nseg, threshold, limit):
    """Where ``[start, start+length)`` falls among the segments, the threshold and the limit
    (:func:`yibao.mechanisms.axis.cut`): a part is payable at or above the threshold and below
    the limit, at its segment's rate. Segment *s* spans from its start to the next one's.

    Returns (exact payment in 1/10,000 fen, length not payable, error id of a blank rate)."""
    if length <= 0:
        return 0, 0, 0
    end = start + length
    exact = 0
    payable = 0
    for s in range(nseg):
        lo = max(start, segs[s, S_START])
        hi = end if s == nseg - 1 else min(end, segs[s + 1, S_START])
        if hi <= lo:
            continue
        low = max(lo, threshold)
        high = hi if limit == NONE else min(hi, limit)
        if high <= low:
            continue
        if segs[s, S_ERR] != 0:
            return 0, 0, segs[s, S_ERR]
        exact += (high - low) * segs[s, S_RATE]
        payable += high - low
    return exact, length - payable, 0


@njit(cache=True, nogil=True)
def settle_sorted(person, day, year, plan_of, fulamt, overlmt, pre, inscp,  # per visit, sorted by (person, day)
                  acct_current0, acct_history0, ci_bonus,  # per person
                  PLAN, LINE, SEG, CAP, LAYER, LSEG, ASSIST, BURDEN, daily,  # plans and counters
                  o_status, o_dedc, o_hifp, o_hifob, o_hifmi, o_maf, o_acct, o_cash, o_balc):  # outputs
    """Settle the visits in order; write each of :data:`OUTPUTS` into its array."""
    n = person.shape[0]
    ncounters = daily.shape[0]
    cnt = np.zeros(ncounters, np.int64)
    pend = np.zeros(ncounters, np.int64)
    last_person = -1
    last_year = -1
    last_day = -1
    cur = 0
    hist = 0
    acct_year = -1
    for i in range(n):
        p = person[i]
        y = year[i]
        if p != last_person:
            cur = acct_current0[p]
            hist = acct_history0[p]
            acct_year = -1
            cnt[:] = 0
        elif y != last_year:
            cnt[:] = 0
        elif day[i] != last_day:
            for k in range(ncounters):
                if daily[k]:
                    cnt[k] = 0
        last_person, last_year, last_day = p, y, day[i]
        # year-end rollover: what is left of 当年 moves to 历年 (G8) — kept only if the visit settles
        before_cur, before_hist, before_year = cur, hist, acct_year
        if acct_year != -1 and y > acct_year and cur > 0:
            hist += cur
            cur = 0
        if acct_year == -1 or y > acct_year:
            acct_year = y

        q = plan_of[i]
        total = fulamt[i] + overlmt[i] + pre[i] + inscp[i]
        status = PLAN[q, P_ERR]
        ded_sum = 0
        hifp = 0
        hifob = 0
        hifmi = 0
        maf = 0
        af = 0
        take_cur = 0
        take_hist = 0
        pend[:] = 0
        if status == 0:
            # A1: the current-year account pays the in-scope amount first
            if PLAN[q, P_ACCOUNT_FIRST]:
                af = min(cur, inscp[i])
                if af < 0:
                    af = 0
            pooled_in = inscp[i] - af
            # 统筹基金, line by line
            amount = pooled_in
            beyond_sum = 0
            for j in range(PLAN[q, P_NLINES]):
                if amount <= 0:
                    break
                if LINE[q, j, L_ERR] != 0:
                    status = LINE[q, j, L_ERR]
                    break
                if not LINE[q, j, L_PAYS]:
                    break
                share = _round(amount * LINE[q, j, L_SHARE], BP)
                on_axis = amount - share
                regime = LINE[q, j, L_REGIME]
                paid_ded = cnt[LINE[q, j, L_DED]]
                owed = 0
                if regime == DED_TOP_UP:
                    owed = max(0, LINE[q, j, L_STD] - paid_ded)
                elif regime == DED_CAPPED:
                    cap = LINE[q, j, L_CAP]
                    owed = LINE[q, j, L_STD] if cap == NONE else min(LINE[q, j, L_STD], max(0, cap - paid_ded))
                elif regime == DED_DECREASING:
                    owed = max(LINE[q, j, L_FLOOR], LINE[q, j, L_STD] - LINE[q, j, L_STEP] * cnt[LINE[q, j, L_ADM]])
                elif regime == DED_TRANSFER:
                    owed = LINE[q, j, L_TRANSFER]
                taken = min(owed, on_axis)
                start = cnt[LINE[q, j, L_AXIS]]
                exact, beyond, err = _axis(start + taken, on_axis - taken, SEG[q, j], LINE[q, j, L_NSEG], 0, LINE[q, j, L_LIMIT])
                if err != 0:
                    status = err
                    break
                mask = LINE[q, j, L_TOP_MASK]
                if mask != 0:  # 再支付: part of the self-pay left after this line's exact payment
                    basis = _components(mask, fulamt[i], overlmt[i], pre[i], pooled_in, beyond_sum) * BP
                    if mask & 8:
                        basis -= hifp * BP + exact
                    if basis < 0:
                        basis = 0
                    paid = _round(exact * BP + basis * LINE[q, j, L_TOP_RATE], BP * BP)
                else:
                    paid = _round(exact, BP)
                for c in range(LINE[q, j, L_NCAP]):
                    limit = CAP[q, j, c, C_LIMIT]
                    if CAP[q, j, c, C_APPLIES] and limit != NONE:
                        ctr = CAP[q, j, c, C_COUNTER]
                        used = 0 if ctr == NONE else cnt[ctr]
                        room = max(0, limit - used)
                        if paid > room:
                            paid = room
                remainder = on_axis - paid - taken
                handed = remainder if (LINE[q, j, L_OVERFLOW] and remainder > 0) else 0
                pend[LINE[q, j, L_AXIS]] += on_axis - handed
                if LINE[q, j, L_COUNTS] and taken > 0:
                    pend[LINE[q, j, L_DED]] += taken
                if LINE[q, j, L_ADMISSION]:
                    pend[LINE[q, j, L_ADM]] += 1
                if paid > 0:
                    for c in range(LINE[q, j, L_NCAP]):
                        if CAP[q, j, c, C_COUNTS]:
                            pend[CAP[q, j, c, C_COUNTER]] += paid
                hifp += paid
                ded_sum += taken
                beyond_sum += beyond
                amount = handed
            # 职工大额 then 大病, each on its own axis
            for f in range(2):
                if status != 0 or not LAYER[q, f, Y_PRESENT]:
                    continue
                sp = _components(LAYER[q, f, Y_MASK], fulamt[i], overlmt[i], pre[i], pooled_in, beyond_sum)
                if LAYER[q, f, Y_MASK] & 8:
                    sp -= hifp
                if sp < 0:
                    sp = 0
                basis = sp - (hifob if f == 1 else 0)
                if basis <= 0:
                    continue
                if LAYER[q, f, Y_ERR] != 0:
                    status = LAYER[q, f, Y_ERR]
                    break
                exact, beyond, err = _axis(cnt[LAYER[q, f, Y_AXIS]], basis, LSEG[q, f], LAYER[q, f, Y_NSEG],
                                           LAYER[q, f, Y_THRESHOLD], LAYER[q, f, Y_LIMIT])
                if err != 0:
                    status = err
                    break
                paid = _round(exact, BP)
                cap = LAYER[q, f, Y_PAYLIMIT]
                if cap != NONE:
                    if LAYER[q, f, Y_BONUS]:
                        cap += ci_bonus[p]
                    room = max(0, cap - cnt[LAYER[q, f, Y_PAID]])
                    if paid > room:
                        paid = room
                pend[LAYER[q, f, Y_AXIS]] += basis
                pend[LAYER[q, f, Y_PAID]] += paid
                if f == 0:
                    hifob = paid
                else:
                    hifmi = paid
            # 医疗救助
            if status == 0 and ASSIST[q, A_PRESENT]:
                if ASSIST[q, A_ERR] != 0:
                    status = ASSIST[q, A_ERR]
                else:
                    mask = ASSIST[q, A_MASK]
                    sp = _components(mask, fulamt[i], overlmt[i], pre[i], pooled_in, beyond_sum)
                    if mask & 8:
                        sp -= hifp
                    if sp < 0:
                        sp = 0
                    minus = ASSIST[q, A_MINUS]
                    basis = sp - ((hifob if minus & 1 else 0) + (hifmi if minus & 2 else 0))
                    if basis < 0:
                        basis = 0
                    regular = 0
                    if ASSIST[q, A_RATE] > 0 and basis > 0:
                        if ASSIST[q, A_LIMIT_ERR] != 0:
                            status = ASSIST[q, A_LIMIT_ERR]
                        regular = _round(basis * ASSIST[q, A_RATE], BP)
                        if ASSIST[q, A_ANNUAL] != NONE:
                            room = max(0, ASSIST[q, A_ANNUAL] - cnt[ASSIST[q, A_PAID]])
                            if regular > room:
                                regular = room
                        if ASSIST[q, A_OUTPATIENT] != NONE:
                            room = max(0, ASSIST[q, A_OUTPATIENT] - cnt[ASSIST[q, A_OUTP_CTR]])
                            if regular > room:
                                regular = room
                    special = 0
                    for b in range(ASSIST[q, A_NBURDEN]):
                        bears = _round(inscp[i] * BURDEN[q, b, B_BEAR], BP) + _components(
                            BURDEN[q, b, B_PLUS], fulamt[i], overlmt[i], pre[i], pooled_in, beyond_sum)
                        extra = max(0, basis - bears)
                        if extra > special:
                            special = extra
                    paid = max(regular, special)
                    if paid > 0 and status == 0:
                        maf = paid
                        if paid == regular:
                            pend[ASSIST[q, A_PAID]] += paid
                            if PLAN[q, P_OUTPATIENT]:
                                pend[ASSIST[q, A_OUTP_CTR]] += paid
            # 个人账户 for what remains, then cash
            if status == 0:
                remaining = total - (hifp + hifob + hifmi + maf) - af
                if remaining > 0 and PLAN[q, P_USE_ACCOUNT]:
                    if PLAN[q, P_ACCT_ERR] != 0:
                        status = PLAN[q, P_ACCT_ERR]
                    else:
                        left = remaining
                        for k in range(2):
                            src = PLAN[q, P_ACCT_SRC0] if k == 0 else PLAN[q, P_ACCT_SRC1]
                            if src == 1:
                                take = min(left, max(0, cur - af))
                                take_cur += take
                                left -= take
                            elif src == 2:
                                take = min(left, max(0, hist))
                                take_hist += take
                                left -= take
        if status != 0:  # refused: nothing of this visit is recorded
            cur, hist, acct_year = before_cur, before_hist, before_year
            o_status[i] = status
            o_dedc[i] = o_hifp[i] = o_hifob[i] = o_hifmi[i] = o_maf[i] = o_acct[i] = o_cash[i] = o_balc[i] = 0
            continue
        for k in range(ncounters):
            cnt[k] += pend[k]
        cur -= af + take_cur
        hist -= take_hist
        fund = hifp + hifob + hifmi + maf
        acct = af + take_cur + take_hist
        o_status[i] = 0
        o_dedc[i] = ded_sum
        o_hifp[i] = hifp
        o_hifob[i] = hifob
        o_hifmi[i] = hifmi
        o_maf[i] = maf
        o_acct[i] = acct
        o_cash[i] = total - fund - acct
        o_balc[i] = cur + hist


@njit(cache=True, nogil=True)
def string_hashes(offsets, data):
    """FNV-1a hash of each string of an Arrow string array (its offsets and data buffers)."""
    n = offsets.shape[0] - 1
    hashes = np.empty(n, np.uint64)
    for i in range(n):
        h = np.uint64(14695981039346656037)
        for b in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[b])) * np.uint64(1099511628211)
        hashes[i] = h
    return hashes


@njit(cache=True, nogil=True)
def repeated_hashes(hashes):
    """Which entries share their hash with another: the hashes are partitioned by their top
    bits into cache-sized buckets, each checked with a small open-addressing table."""
    n = hashes.shape[0]
    bits = 0
    while (n >> bits) > 4096:
        bits += 1
    buckets = 1 << bits
    shift = np.uint64(64 - bits) if bits > 0 else np.uint64(0)
    counts = np.zeros(buckets + 1, np.int64)
    for i in range(n):
        b = np.int64(hashes[i] >> shift) if bits > 0 else 0
        counts[b + 1] += 1
    for b in range(buckets):
        counts[b + 1] += counts[b]
    fill = counts[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        b = np.int64(hashes[i] >> shift) if bits > 0 else 0
        order[fill[b]] = i
        fill[b] += 1
    repeated = np.zeros(n, np.bool_)
    largest = 0
    for b in range(buckets):
        largest = max(largest, counts[b + 1] - counts[b])
    size = 1
    while size < 2 * largest + 2:
        size *= 2
    slots = np.full(size, -1, np.int64)
    for b in range(buckets):
        lo, hi = counts[b], counts[b + 1]
        for k in range(lo, hi):
            i = order[k]
            j = np.int64(hashes[i] & np.uint64(size - 1))
            while slots[j] != -1:
                if hashes[slots[j]] == hashes[i]:
                    repeated[i] = True
                    repeated[slots[j]] = True
                j = (j + 1) & (size - 1)
            slots[j] = i
        for k in range(lo, hi):  # clear only what this bucket used
            i = order[k]
            j = np.int64(hashes[i] & np.uint64(size - 1))
            while slots[j] != -1:
                slots[j] = -1
                j = (j + 1) & (size - 1)
    return repeated


@njit(cache=True, inline="always")
def _row_hash(parts, i):
    h = np.uint64(14695981039346656037)
    for part in parts:
        h = (h ^ np.uint64(part[i])) * np.uint64(1099511628211)
    return h ^ (h >> np.uint64(29))


@njit(cache=True, inline="always")
def _same_row(parts, i, j):
    for part in parts:
        if part[i] != part[j]:
            return False
    return True


@njit(cache=True, nogil=True)
def distinct_rows(parts):
    """One code per distinct row of ``parts`` (equal-length int32 arrays read side by side),
    numbered in first-seen order, and each code's first row. Any number of parts, of any
    range: rows are hashed into an open-addressing table and compared part by part."""
    n = parts[0].shape[0]
    codes = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    size = 1024
    slots = np.full(size, -1, np.int64)
    count = 0
    for i in range(n):
        mask = np.uint64(size - 1)
        j = np.int64(_row_hash(parts, i) & mask)
        while True:
            c = slots[j]
            if c == -1:
                c = count
                first[c] = i
                slots[j] = c
                count += 1
                break
            if _same_row(parts, first[c], i):
                break
            j = np.int64((np.uint64(j) + np.uint64(1)) & mask)
        codes[i] = c
        if 2 * count > size:  # keep the table at most half full: grow and place every code again
            size *= 4
            slots = np.full(size, -1, np.int64)
            mask = np.uint64(size - 1)
            for k in range(count):
                j = np.int64(_row_hash(parts, first[k]) & mask)
                while slots[j] != -1:
                    j = np.int64((np.uint64(j) + np.uint64(1)) & mask)
                slots[j] = k
    return codes, first[:count].copy()
