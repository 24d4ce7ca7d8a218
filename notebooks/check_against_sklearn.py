"""Recomputes nsfsim's evaluation of a score file with scikit-learn.

    nsfsim score --model ID --data DIR --out scores.parquet
    nsfsim evaluate --model ID --data DIR
    python notebooks/check_against_sklearn.py DIR scores.parquet

Reproduces the held-out split (train::is_holdout: SplitMix64 of data seed and
user_id) and prints AUC, Brier and log loss on the held-out registered users,
to compare with `nsfsim evaluate`'s line.
"""
import sys, numpy as np, pyarrow.parquet as pq, json
from sklearn.metrics import roc_auc_score, brier_score_loss, log_loss
M=(1<<64)-1
def mix64(z):
    z=(z+0x9E3779B97F4A7C15)&M
    z=((z^(z>>30))*0xBF58476D1CE4E5B9)&M
    z=((z^(z>>27))*0x94D049BB133111EB)&M
    return z^(z>>31)
data, scores = sys.argv[1], sys.argv[2]
seed=json.load(open(data+"/manifest.json"))["seed"]
u=pq.read_table(data+"/users.parquet", columns=["user_id","nsf","apple_registered"]).to_pandas()
s=pq.read_table(scores).to_pandas()
assert (u.user_id.values==s.user_id.values).all()
hold=np.array([((mix64(seed ^ 0x686F6C646F757400 ^ mix64(int(x)))>>11)/(1<<53))<0.2 for x in u.user_id.values])
m=hold & u.apple_registered.values
y=u.nsf.values[m]; p=s.prob.values[m]
print("n", m.sum(), "AUC %.10f"%roc_auc_score(y,p), "Brier %.10f"%brier_score_loss(y,p), "logloss %.10f"%log_loss(y,p))
