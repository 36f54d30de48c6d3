#!/usr/bin/env bash
# One outpatient visit through the national gateway, with curl, as a hospital system would
# send it: 9001 签到 → 1101 人员信息 → 2201 挂号 → 2203 就诊信息 → 2204 费用明细 →
# 2206 预结算 → 2207 结算, for the demo 杭州 employee 张三 at the demo 杭州 hospital.
#
#   make run                      # in another terminal (serves http://127.0.0.1:8000)
#   scripts/demo_session.sh       # YIBAO_URL=http://host:port to call another server
#
# Each request is signed with the x-tif-* headers: signature = hex SHA-256 of
# timestamp + secret + nonce + timestamp. Every run opens and settles a new visit, so the
# account balance goes down from run to run. VISIT_DATE=YYYY-MM-DD dates the visit
# (default: today); the demo persons are covered from 2026-01-01 to 2026-12-31.
set -euo pipefail

URL=${YIBAO_URL:-http://127.0.0.1:8000}/fsi/api/rsfComIfsService/callService
CODE=H33010000001            # fixmedins_code, also the paasid of its credential
SECRET=demo-secret-hz-1      # the demo credential's secret (public: demo only)
AREA=330106                  # mdtrtarea_admvs: the hospital's 区划 (西湖区)
INSUPLC=330100               # insuplc_admdvs: the person's 参保地 (杭州)
PSN=33010000000001           # psn_no of 张三
CERT=330106198005010029      # her 身份证 number (mdtrt_cert_type 02)
DAY=${VISIT_DATE:-$(date +%Y-%m-%d)}

for tool in curl sha256sum python3; do
  command -v "$tool" >/dev/null || { echo "demo_session.sh needs $tool" >&2; exit 1; }
done
if command -v jq >/dev/null; then pretty() { jq .; }; else pretty() { python3 -m json.tool --no-ensure-ascii; }; fi

# get KEY... — a value from the last response ($OUT), e.g. `get output data mdtrt_id`
get() { python3 -c 'import json, sys
o = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    o = o[int(k)] if isinstance(o, list) else o[k]
print(o)' "$OUT" "$@"; }

SEQ=0
SIGN_NO=""
# call INFNO INPUT — post one envelope, print the answer, stop on infcode −1
call() {
  local infno=$1 input=$2 ts nonce sig msgid
  SEQ=$((SEQ + 1))
  ts=$(date +%s)
  nonce=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  sig=$(printf '%s%s%s%s' "$ts" "$SECRET" "$nonce" "$ts" | sha256sum | cut -d' ' -f1)
  msgid=$(printf '%s%s%04d' "$CODE" "$(date +%Y%m%d%H%M%S)" "$SEQ")   # 12 + 14 + 4 = 30 characters
  echo "── $infno  msgid $msgid"
  OUT=$(curl -sS -X POST "$URL" \
    -H 'content-type: application/json' \
    -H "x-tif-paasid: $CODE" -H "x-tif-timestamp: $ts" -H "x-tif-nonce: $nonce" -H "x-tif-signature: $sig" \
    --data-binary @- <<EOF
{"infno": "$infno", "msgid": "$msgid", "mdtrtarea_admvs": "$AREA", "insuplc_admdvs": "$INSUPLC",
 "recer_sys_code": "HIS", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "SM2", "infver": "V1.0",
 "opter_type": "1", "opter": "001", "opter_name": "收费员", "inf_time": "$(date '+%Y-%m-%d %H:%M:%S')",
 "fixmedins_code": "$CODE", "fixmedins_name": "杭州市第一人民医院", "sign_no": "$SIGN_NO",
 "input": $input}
EOF
  )
  pretty <<<"$OUT"
  if [ "$(get infcode)" != "0" ]; then echo "$infno refused: $(get err_msg)" >&2; exit 1; fi
}

call 9001 '{"signIn": {"opter_no": "001", "mac": "00-16-3E-00-00-01", "ip": "127.0.0.1"}}'
SIGN_NO=$(get output signinoutb sign_no)

call 1101 "{\"data\": {\"mdtrt_cert_type\": \"02\", \"mdtrt_cert_no\": \"$CERT\", \"psn_cert_type\": \"01\"}}"

call 2201 "{\"data\": {\"psn_no\": \"$PSN\", \"insutype\": \"310\", \"begntime\": \"$DAY 09:00:00\",
  \"mdtrt_cert_type\": \"02\", \"mdtrt_cert_no\": \"$CERT\", \"ipt_otp_no\": \"MZ$(date +%H%M%S)\", \"dept_code\": \"A03\"}}"
MDTRT=$(get output data mdtrt_id)

call 2203 "{\"mdtrtinfo\": {\"mdtrt_id\": \"$MDTRT\", \"psn_no\": \"$PSN\", \"med_type\": \"11\", \"begntime\": \"$DAY 09:00:00\"},
  \"diseinfo\": [{\"diag_type\": \"1\", \"diag_srt_no\": \"1\", \"diag_code\": \"E78.500\", \"diag_name\": \"高脂血症\", \"maindiag_flag\": \"1\"}]}"

# Fee lines: code, quantity, unit price, amount (= quantity × price)
line() { printf '{"feedetl_sn": "%s", "mdtrt_id": "%s", "psn_no": "%s", "chrg_bchno": "B1", "fee_ocur_time": "%s 09:30:00", "med_list_codg": "%s", "cnt": "%s", "pric": "%s", "det_item_fee_sumamt": "%s"}' \
  "$1" "$MDTRT" "$PSN" "$DAY" "$2" "$3" "$4" "$5"; }
FEES="[$(line 1 001101000030000-110100003 1 50.00 50.00),
 $(line 2 240300001-240300001 1 650.00 650.00),
 $(line 3 270300001-270300001 1 380.00 380.00),
 $(line 4 XA10AEG082B002010100876 8 175.00 1400.00),
 $(line 5 250305001-250305001 1 60.00 60.00),
 $(line 6 XC10AAA067A001010104089 28 0.30 8.40),
 $(line 7 XA11AAD023A001010100112 1 68.00 68.00)]"
call 2204 "{\"feedetail\": $FEES}"

SETTLE="{\"data\": {\"psn_no\": \"$PSN\", \"mdtrt_id\": \"$MDTRT\", \"mdtrt_cert_type\": \"02\", \"mdtrt_cert_no\": \"$CERT\",
  \"med_type\": \"11\", \"medfee_sumamt\": \"2616.40\", \"psn_setlway\": \"01\", \"chrg_bchno\": \"B1\", \"insutype\": \"310\", \"acct_used_flag\": \"1\"}}"
call 2206 "$SETTLE"
call 2207 "$SETTLE"
echo "settled: setl_id $(get output setlinfo setl_id) — medfee_sumamt $(get output setlinfo medfee_sumamt), fund $(get output setlinfo fund_pay_sumamt), account $(get output setlinfo acct_pay), cash $(get output setlinfo psn_cash_pay), balance left $(get output setlinfo balc)"
