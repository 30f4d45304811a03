"""The headline measures in plain pandas, written the way an analyst would: read the store's
Parquet tables into DataFrames, merge, and use numpy's business-day count for working days.

Usage: pandas_baseline.py STORE_GEN_DIR HOLIDAYS_FILE REFERENCE_DATE OUT_CSV YEAR [YEAR...]

Measures (per LA and ALL, breakdown NONE; numerator, denominator, excluded - no `pending`, no
breakdowns, no quartiles):
  rereferral_12m                 referrals received in the year with an earlier referral of the
                                 same child to the same LA (strictly earlier date) within 12 months
  assessment_45wd_from_referral  assessments authorised in the year, wd(referral, authorisation)
                                 <= 45; no referral or negative: excluded
  icpc_15wd                      ICPCs held in the year, wd(s47 start, ICPC) <= 15; transfer-in or
                                 negative: excluded
  referral_to_assessment, referral_to_s47, referral_to_icpc, referral_to_cpp
                                 the threshold funnel: the cohort of referrals received in the
                                 year, followed to the reference date
wd(a, b) = working days d with a < d <= b = np.busday_count(a + 1, b + 1, holidays=...).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def wd(a: pd.Series, b: pd.Series, holidays) -> pd.Series:
    ok = a.notna() & b.notna()
    out = pd.Series(np.nan, index=a.index)
    a1 = a[ok].values.astype("datetime64[D]") + np.timedelta64(1, "D")
    b1 = b[ok].values.astype("datetime64[D]") + np.timedelta64(1, "D")
    # numpy counts a reversed range as -(days in (b, a]) shifted by one: count it forwards and negate.
    lo, hi = np.minimum(a1, b1), np.maximum(a1, b1)
    out[ok] = np.where(b1 < a1, -1, 1) * np.busday_count(lo, hi, holidays=holidays)
    return out


def summarise(df: pd.DataFrame, measure: str, period: str, rows: list) -> None:
    """df has la_code and outcome ('num', 'den', 'excluded')."""
    counts = df.groupby(["la_code", "outcome"]).size().unstack(fill_value=0)
    for c in ["num", "den", "excluded"]:
        if c not in counts:
            counts[c] = 0
    counts.loc["ALL"] = counts.sum()
    for la, r in counts.iterrows():
        rows.append({
            "measure_id": measure, "period": period, "la_code": la, "breakdown": "NONE",
            "breakdown_value": "", "numerator": r["num"], "denominator": r["num"] + r["den"],
            "excluded": r["excluded"],
        })


def main() -> None:
    gen, hol_file, ref = Path(sys.argv[1]), Path(sys.argv[2]), pd.Timestamp(sys.argv[3])
    out_csv, years = Path(sys.argv[4]), sys.argv[5:]
    holidays = [l.strip() for l in hol_file.read_text().splitlines() if l.strip()]

    referrals = pd.read_parquet(gen / "referrals")
    assessments = pd.read_parquet(gen / "assessments")
    s47 = pd.read_parquet(gen / "s47_enquiries")
    plans = pd.read_parquet(gen / "cp_plans")

    referrals["received_date"] = referrals["received_at"].dt.normalize()
    for df, cols in [(assessments, ["start_date", "authorisation_date"]),
                     (s47, ["start_date", "icpc_date"]), (plans, ["start_date"])]:
        for c in cols:
            df[c] = pd.to_datetime(df[c])
    s47["transfer_in"] = s47["transfer_in"].fillna(False).astype(bool)

    # Re-referrals: the latest earlier referral of the same child in the same LA.
    r = referrals.sort_values("received_date")
    prev = pd.merge_asof(
        r[["la_code", "child_id", "referral_id", "received_date"]],
        r[["la_code", "child_id", "received_date"]].rename(columns={"received_date": "prev_date"})
        .assign(prev_key=lambda x: x["prev_date"]),
        left_on="received_date", right_on="prev_key", by=["la_code", "child_id"],
        allow_exact_matches=False, direction="backward",
    )
    prev["rereferred"] = prev["prev_date"] >= prev["received_date"] - pd.DateOffset(months=12)
    referrals = referrals.merge(prev[["la_code", "referral_id", "rereferred"]],
                                on=["la_code", "referral_id"], how="left")

    # The funnel: what each referral reached by the reference date.
    assessed = assessments.loc[assessments["start_date"] <= ref, ["la_code", "referral_id"]]
    assessed = assessed.drop_duplicates().assign(assessed=True)
    s = s47[s47["start_date"] <= ref]
    s47_flag = s.groupby(["la_code", "referral_id"])["transfer_in"].agg(lambda t: (~t).any())
    s47_flag = s47_flag.rename("has_s47").reset_index()
    nt = s47[~s47["transfer_in"]].merge(
        plans[["la_code", "child_id", "start_date"]].drop_duplicates()
        .rename(columns={"start_date": "icpc_date"}).assign(plan_on_icpc=True),
        on=["la_code", "child_id", "icpc_date"], how="left")
    nt["icpc"] = nt["icpc_date"] <= ref
    nt["cpp"] = nt["icpc"] & ((nt["icpc_result"] == "CPP")
                              | (nt["icpc_result"].isna() & nt["plan_on_icpc"].fillna(False)))
    conf = nt.groupby(["la_code", "referral_id"])[["icpc", "cpp"]].any().reset_index()
    funnel = (referrals[["la_code", "referral_id", "received_date", "rereferred"]]
              .merge(assessed, on=["la_code", "referral_id"], how="left")
              .merge(s47_flag, on=["la_code", "referral_id"], how="left")
              .merge(conf, on=["la_code", "referral_id"], how="left"))

    # Assessment and ICPC clocks.
    a = assessments.merge(referrals[["la_code", "referral_id", "received_date"]],
                          on=["la_code", "referral_id"], how="left")
    a["wd"] = wd(a["received_date"], a["authorisation_date"], holidays)
    s47["wd"] = wd(s47["start_date"], s47["icpc_date"], holidays)

    rows: list = []
    for fy in years:
        start = pd.Timestamp(int(fy[:4]), 4, 1)
        end = pd.Timestamp(int(fy[:4]) + 1, 3, 31)
        cohort = funnel[funnel["received_date"].between(start, end)].copy()
        cohort["outcome"] = np.where(cohort["rereferred"].fillna(False), "num", "den")
        summarise(cohort, "rereferral_12m", fy, rows)
        cohort["outcome"] = np.where(cohort["assessed"].fillna(False), "num", "den")
        summarise(cohort, "referral_to_assessment", fy, rows)
        cohort["outcome"] = np.select(
            [cohort["has_s47"] == True, cohort["has_s47"] == False], ["num", "excluded"], "den")
        summarise(cohort, "referral_to_s47", fy, rows)
        cohort["outcome"] = np.where(cohort["icpc"].fillna(False), "num", "den")
        summarise(cohort, "referral_to_icpc", fy, rows)
        cohort["outcome"] = np.where(cohort["cpp"].fillna(False), "num", "den")
        summarise(cohort, "referral_to_cpp", fy, rows)

        x = a[a["authorisation_date"].between(start, end)].copy()
        x["outcome"] = np.select([x["wd"].isna() | (x["wd"] < 0), x["wd"] <= 45],
                                 ["excluded", "num"], "den")
        summarise(x, "assessment_45wd_from_referral", fy, rows)

        x = s47[s47["icpc_date"].between(start, end)].copy()
        x["outcome"] = np.select([x["transfer_in"] | x["wd"].isna() | (x["wd"] < 0), x["wd"] <= 15],
                                 ["excluded", "num"], "den")
        summarise(x, "icpc_15wd", fy, rows)

    pd.DataFrame(rows).to_csv(out_csv, index=False)
    print(f"pandas: {len(rows)} rows -> {out_csv}")


if __name__ == "__main__":
    main()
