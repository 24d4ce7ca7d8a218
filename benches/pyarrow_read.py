"""The reference for `train`'s read (issue 17): pyarrow reading the columns
`nsfsim train` reads (the row key, the flags, the outcome and the 20
non-identifier attributes) of a generated data set, into an Arrow table (no
design matrix, no checks, no SHA-256). Not part of `cargo test` or
`cargo bench`; run it beside `nsfsim train` and compare with train's
"read" seconds:

    $HOME/anchors-venv/bin/python benches/pyarrow_read.py DATA_DIR [REPEATS]
"""

import json
import os
import resource
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = [
    "user_id", "apple_registered", "consented", "nsf", "nsf_prob",
    "account_age_days", "age_years", "region", "device_os", "balance_krw",
    "balance_avg_30d_krw", "balance_min_30d_krw", "topup_count_30d",
    "topup_amount_30d_krw", "auto_topup", "withdrawal_amount_30d_krw",
    "payment_count_30d", "payment_amount_30d_krw", "remit_sent_amount_30d_krw",
    "remit_received_amount_30d_krw", "registered_cards",
    "card_payment_amount_30d_krw", "topup_count_7d", "payment_count_7d",
    "remit_count_7d",
]


def main() -> int:
    data = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    path = os.path.join(data, "users.parquet")
    times, cpu = [], []
    for _ in range(repeats):
        t, r = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        table = pq.read_table(path, columns=COLUMNS)
        times.append(time.perf_counter() - t)
        r2 = resource.getrusage(resource.RUSAGE_SELF)
        cpu.append((r2.ru_utime - r.ru_utime, r2.ru_stime - r.ru_stime))
        rows = table.num_rows
        del table
    print(json.dumps({
        "rows": rows,
        "columns": len(COLUMNS),
        "pyarrow": pa.__version__,
        "cpu_count": pa.cpu_count(),
        "seconds": [round(x, 3) for x in times],
        "best_seconds": round(min(times), 3),
        "user_seconds": [round(u, 2) for u, _ in cpu],
        "sys_seconds": [round(s, 2) for _, s in cpu],
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
