"""The stream read back by Spark SQL, as any user would read it: the 30-day
sums and 7-day counts recomputed from the stream's partitions equal the
snapshot columns `nsfsim generate` writes, for every user; the sharded
PySpark job writes the same rows as one process."""

import datetime as dt
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import stream_job  # noqa: E402

NSFSIM = os.environ.get("NSFSIM_BIN", os.path.join(REPO, "target", "release", "nsfsim"))
USERS = "4000"
PRESET = ["--preset", "case", "--users", USERS, "--seed", "11"]
AS_OF = dt.date(2019, 6, 27)  # population.as_of of the case preset
FROM, TO = AS_OF - dt.timedelta(days=44), AS_OF + dt.timedelta(days=15)  # 60 days
SHARDS = 3


def nsfsim(*args):
    done = subprocess.run([NSFSIM, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession
    s = (SparkSession.builder.master("local[2]").appName("nsfsim-test")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4")
         .config("spark.sql.session.timeZone", "UTC")
         .getOrCreate())
    yield s
    s.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("stream")
    pop, job, single = root / "pop", root / "job", root / "single"
    nsfsim("generate", *PRESET, "--out", str(pop), "--quiet")
    args = [*PRESET, "--from", FROM.isoformat(), "--to", TO.isoformat()]
    results = stream_job.run(spark, NSFSIM, str(job), SHARDS, args, threads=1)
    nsfsim("stream", *args, "--out", str(single))
    return {"pop": pop, "job": job, "single": single, "results": results}


def test_job_writes_every_shard_with_a_manifest(data):
    assert [r["shard"] for r in data["results"]] == list(range(SHARDS))
    assert all(r["rows"] > 0 for r in data["results"])
    for k in range(SHARDS):
        assert (data["job"] / "_manifests" / f"shard={k}-of-{SHARDS}" / "manifest.json").is_file()
    days = sorted(p.name for p in data["job"].iterdir() if p.name.startswith("date="))
    assert len(days) == 60 and days[0] == f"date={FROM.isoformat()}"
    for d in days:
        assert sorted(p.name for p in (data["job"] / d).iterdir()) == [
            f"shard={k}" for k in range(SHARDS)]


def test_sharded_job_equals_one_process(spark, data):
    cols = ["date", "user_id", "category", "count", "amount_krw"]
    a = spark.read.parquet(str(data["job"])).select(*cols)
    b = spark.read.parquet(str(data["single"])).select(*cols)
    n = a.count()
    assert n == b.count() and n > 10_000
    assert a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0
    # The partition column `shard` says which process wrote a row.
    assert spark.read.parquet(str(data["job"])).select("shard").distinct().count() == SHARDS


SNAPSHOT = {
    "topup_count_30d": "SUM(IF(category = 'topup', count, 0))",
    "topup_amount_30d_krw": "SUM(IF(category = 'topup', amount_krw, 0))",
    "payment_count_30d": "SUM(IF(category = 'payment', count, 0))",
    "payment_amount_30d_krw": "SUM(IF(category = 'payment', amount_krw, 0))",
    "card_payment_amount_30d_krw": "SUM(IF(category = 'card_payment', amount_krw, 0))",
    "remit_sent_amount_30d_krw": "SUM(IF(category = 'remit_sent', amount_krw, 0))",
    "remit_received_amount_30d_krw": "SUM(IF(category = 'remit_received', amount_krw, 0))",
    "withdrawal_amount_30d_krw": "SUM(IF(category = 'withdrawal', amount_krw, 0))",
    "topup_count_7d": "SUM(IF(category = 'topup' AND week, count, 0))",
    "payment_count_7d": "SUM(IF(category = 'payment' AND week, count, 0))",
    "remit_count_7d": "SUM(IF(category IN ('remit_sent', 'remit_received') AND week, count, 0))",
}


def test_snapshot_columns_derive_from_the_stream(spark, data):
    spark.read.parquet(str(data["job"])).createOrReplaceTempView("stream")
    spark.read.parquet(str(data["pop"] / "users.parquet")).createOrReplaceTempView("users")
    sums = ",\n".join(f"{expr} AS {name}" for name, expr in SNAPSHOT.items())
    spark.sql(f"""
        SELECT user_id, {sums}
        FROM (SELECT *, date > DATE '{AS_OF.isoformat()}' - 7 AS week FROM stream
              WHERE date BETWEEN DATE '{AS_OF.isoformat()}' - 29 AND DATE '{AS_OF.isoformat()}')
        GROUP BY user_id""").createOrReplaceTempView("derived")
    diff = " OR ".join(f"COALESCE(d.{c}, 0) <> u.{c}" for c in SNAPSHOT)
    row = spark.sql(f"""
        SELECT COUNT(*) AS users,
               SUM(IF({diff}, 1, 0)) AS mismatched,
               SUM(IF(d.user_id IS NOT NULL, 1, 0)) AS with_events,
               SUM(u.payment_count_30d) AS payments,
               SUM(u.remit_count_7d) AS remits_7d
        FROM users u LEFT JOIN derived d ON u.user_id = d.user_id""").collect()[0]
    assert row["users"] == int(USERS)
    assert row["mismatched"] == 0
    # Not vacuous: most users have events in the window, and counts are large.
    assert row["with_events"] > int(USERS) // 3
    assert row["payments"] > 1000 and row["remits_7d"] > 100
    # Every stream user is a population user.
    orphans = spark.sql(
        "SELECT COUNT(*) AS n FROM derived d LEFT ANTI JOIN users u ON d.user_id = u.user_id"
    ).collect()[0]["n"]
    assert orphans == 0


def test_a_changed_snapshot_is_caught(spark, data):
    """The comparison detects one altered user (the check can fail)."""
    spark.read.parquet(str(data["pop"] / "users.parquet")).createOrReplaceTempView("users")
    spark.read.parquet(str(data["job"])).createOrReplaceTempView("stream")
    n = spark.sql(f"""
        WITH d AS (SELECT user_id, SUM(IF(category = 'payment', count, 0)) AS c FROM stream
                   WHERE date BETWEEN DATE '{AS_OF.isoformat()}' - 29 AND DATE '{AS_OF.isoformat()}'
                   GROUP BY user_id),
             u AS (SELECT user_id, payment_count_30d + IF(user_id = 7, 1, 0) AS c FROM users)
        SELECT COUNT(*) AS n FROM u LEFT JOIN d ON u.user_id = d.user_id
        WHERE COALESCE(d.c, 0) <> u.c""").collect()[0]["n"]
    assert n == 1
