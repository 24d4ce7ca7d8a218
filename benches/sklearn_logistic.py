"""scikit-learn's lbfgs logistic regression on the design nsfsim trains on.

The reference for `nsfsim train --model logistic`: same rows, same features,
same C; StandardScaler + LogisticRegression(lbfgs, C=1.0, max_iter=200) as in
../shared/anchors/anchor_bench.py. Prints fit seconds and the AUC on the
held-out registered users.

    cargo run --release --example export_design -- DATA_DIR design.parquet
    python benches/sklearn_logistic.py design.parquet
"""
import sys
import time

import numpy as np
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

t = time.perf_counter()
table = pq.read_table(sys.argv[1])
names = [n for n in table.column_names if n not in ("nsf", "train", "test_registered")]
x = np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float32)
y = table.column("nsf").to_numpy()
train = table.column("train").to_numpy()
test = table.column("test_registered").to_numpy()
read_s = time.perf_counter() - t
t = time.perf_counter()
scaler = StandardScaler().fit(x[train])
xs = scaler.transform(x)
scale_s = time.perf_counter() - t
t = time.perf_counter()
model = LogisticRegression(solver="lbfgs", C=1.0, max_iter=200).fit(xs[train], y[train])
fit_s = time.perf_counter() - t
auc = roc_auc_score(y[test], model.predict_proba(xs[test])[:, 1])
print(f"rows {train.sum()} features {len(names)} read {read_s:.2f} s scale {scale_s:.2f} s fit {fit_s:.2f} s iterations {model.n_iter_[0]} test AUC {auc:.6f}")
