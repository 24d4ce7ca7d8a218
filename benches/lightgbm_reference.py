"""LightGBM on the design nsfsim trains on: the reference for `--model gbdt`.

Same rows and features as `nsfsim train --model gbdt` (export them with
`cargo run --release --example export_design -- DATA_DIR design.parquet`);
200 rounds, learning rate 0.1, num_leaves 31, 2 threads, as
../shared/anchors/anchor_bench.py. Prints fit seconds and the AUC on the
held-out registered users.
"""
import sys
import time

import lightgbm as lgb
import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

table = pq.read_table(sys.argv[1])
names = [n for n in table.column_names if n not in ("nsf", "train", "test_registered")]
x = np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float32)
y = table.column("nsf").to_numpy().astype(np.int8)
train = table.column("train").to_numpy()
test = table.column("test_registered").to_numpy()
t = time.perf_counter()
ds = lgb.Dataset(x[train], label=y[train])
booster = lgb.train(
    {"objective": "binary", "num_leaves": 31, "learning_rate": 0.1, "num_threads": 2, "verbose": -1},
    ds,
    num_boost_round=200,
)
fit_s = time.perf_counter() - t
auc = roc_auc_score(y[test], booster.predict(x[test]))
print(f"rows {train.sum()} features {len(names)} LightGBM fit {fit_s:.2f} s test AUC {auc:.6f}")
