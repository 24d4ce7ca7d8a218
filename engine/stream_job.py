"""Runs `nsfsim stream` on many machines with Spark: an RDD of shard ids
0..N-1, one task per shard, each task runs `nsfsim stream --shard K/N` into
the shared output folder. Spark schedules, retries failed tasks (the rerun
passes --force; a shard's rows depend only on the seed and its users, so a
retry writes the same files) and collects the shard manifests.

    spark-submit engine/stream_job.py --nsfsim /opt/nsfsim/nsfsim --shards 64 \
        --out /mnt/stream -- --preset case --from 2019-06-27 --to 2024-05-21

Everything after `--` goes to `nsfsim stream` unchanged (preset, users,
seed, --set, dates). `--out` must be a folder every executor can write: a
shared file system or an object store mounted on the executors. See the
README ("The daily transfer stream") for spark-submit, Kubernetes and Slurm.
"""

import argparse
import json
import os
import subprocess
import sys


def run_shard(nsfsim, out, shards, threads, stream_args, k):
    """Runs one shard; returns its manifest's summary. Raises on failure so
    that Spark retries the task."""
    cmd = [nsfsim, "stream", *stream_args, "--shard", f"{k}/{shards}",
           "--out", out, "--force"]
    if threads:
        cmd += ["--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"shard {k}/{shards}: exit {done.returncode}: {done.stderr.strip()}")
    path = os.path.join(out, "_manifests", f"shard={k}-of-{shards}", "manifest.json")
    with open(path) as f:
        m = json.load(f)
    return {"shard": k, "rows": m["totals"]["rows"], "bytes": m["bytes"],
            "seconds": m["seconds"], "users": m["user_range"]}


def run(spark, nsfsim, out, shards, stream_args, threads=None):
    """Maps shard ids to `nsfsim stream` tasks; returns the shard summaries
    in shard order."""
    nsfsim = os.path.abspath(nsfsim) if os.path.exists(nsfsim) else nsfsim
    out = os.path.abspath(out) if "://" not in out else out
    sc = spark.sparkContext
    # The tasks call run_shard from this module: ship it to the executors.
    sc.addPyFile(os.path.abspath(__file__))
    ids = sc.parallelize(range(shards), shards)
    args = list(stream_args)
    results = ids.map(lambda k: run_shard(nsfsim, out, shards, threads, args, k)).collect()
    return sorted(results, key=lambda r: r["shard"])


def main(argv):
    if "--" in argv:
        cut = argv.index("--")
        own, stream_args = argv[:cut], argv[cut + 1:]
    else:
        own, stream_args = argv, []
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nsfsim", required=True, help="path of the nsfsim binary on every executor")
    ap.add_argument("--shards", type=int, required=True, help="N: tasks (and shards)")
    ap.add_argument("--out", required=True, help="the stream folder, shared by all executors")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads per task (default: all cores of the executor)")
    a = ap.parse_args(own)
    if a.shards < 1:
        ap.error("--shards must be at least 1")
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName("nsfsim-stream").getOrCreate()
    try:
        results = run(spark, a.nsfsim, a.out, a.shards, stream_args, a.threads)
    finally:
        spark.stop()
    rows = sum(r["rows"] for r in results)
    print(f"{len(results)} shards written to {a.out}: {rows} rows, "
          f"{sum(r['bytes'] for r in results)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
