"""Your own data, checked from Python (README, "Your own data").

- The `all` logistic arm of `compare --data` on the German credit fixture
  has the AUC scikit-learn's LogisticRegression (standardized features,
  C = 1, the same one-hot base levels) gets on the same split.
- nsfsim's own data set rewritten by pandas (CSV, snappy Parquet) trains
  and scores like the original folder.

Run by .ci/run: `.venv-ci/bin/python -m pytest -q tests/python`
(NSFSIM_BIN = the release binary).
"""

import json
import os
import pathlib
import subprocess

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("NSFSIM_BIN", str(ROOT / "target" / "release" / "nsfsim"))
GERMAN = ROOT / "tests" / "data" / "german_credit.parquet"


def nsfsim(*args):
    r = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def design(d: pd.DataFrame, label: str) -> pd.DataFrame:
    """nsfsim's encoding: numbers as they are, text one-hot without the most
    frequent level (ties by name)."""
    cols = []
    for c in d.columns:
        if c == label:
            continue
        if pd.api.types.is_numeric_dtype(d[c]):
            cols.append(d[c].astype(float).rename(c))
            continue
        v = d[c].astype(str)
        counts = v.value_counts()
        levels = sorted(counts.index, key=lambda l: (-counts[l], l))
        for l in levels[1:]:
            cols.append((v == l).astype(float).rename(f"{c}={l}"))
    return pd.concat(cols, axis=1)


def test_all_logistic_auc_matches_sklearn(tmp_path):
    out = tmp_path / "run"
    nsfsim("compare", "--data", GERMAN, "--label", "creditability", "--positive", "bad",
           "--simulate-consent", "random", "--consent-rate", "0.5", "--replicates", "2",
           "--families", "logistic", "--export-predictions", "--quiet",
           "--out", out, "--registry", tmp_path / "reg")
    m = json.loads((out / "metrics.json").read_text())
    pred = pd.read_parquet(out / "predictions.parquet")
    d = pd.read_parquet(GERMAN)
    x = design(d, "creditability")
    y = (d["creditability"] == "bad").to_numpy()
    for k, rep in enumerate(m["replicates"]):
        ours = next(a for a in rep["arms"] if a["arm"] == "all" and a["family"] == "logistic")
        p = pred[(pred.replicate == k + 1) & (pred.arm == "all") & (pred.family == "logistic")]
        test = np.zeros(len(d), bool)
        test[p.user_id.to_numpy()] = True
        scaler = StandardScaler().fit(x[~test])
        lr = LogisticRegression(C=1.0, max_iter=10_000).fit(scaler.transform(x[~test]), y[~test])
        auc = roc_auc_score(y[test], lr.predict_proba(scaler.transform(x[test]))[:, 1])
        assert abs(auc - ours["evaluation"]["auc"]) < 0.01, (auc, ours["evaluation"]["auc"])
        # Same rows, same labels, and our own predictions give our AUC.
        assert int(test.sum()) == rep["test_users"]
        ours_p = p.sort_values("user_id")
        assert roc_auc_score(y[test], ours_p.prob.to_numpy()) == pytest.approx(
            ours["evaluation"]["auc"], abs=1e-12)
    assert m["own_data"]["sha256"] and m["own_data"]["rows"] == 1000


def test_nsfsim_data_rewritten_by_pandas_trains_like_the_original(tmp_path):
    data = tmp_path / "pop"
    nsfsim("generate", "--preset", "small", "--users", "6000", "--seed", "11", "--quiet",
           "--out", data)
    users = pd.read_parquet(data / "users.parquet")
    users.to_csv(tmp_path / "users.csv", index=False)
    users.to_parquet(tmp_path / "users.parquet", index=False)  # pandas default: snappy
    reg = tmp_path / "reg"
    ids = {}
    for src in [data, tmp_path / "users.csv", tmp_path / "users.parquet"]:
        ids[src.name] = nsfsim("train", "--data", src, "--split-seed", "11", "--quiet",
                               "--registry", reg).strip().splitlines()[-1]
    aucs = {}
    for name, i in ids.items():
        man = json.loads((reg / i / "manifest.json").read_text())
        aucs[name] = (man["metrics"]["auc"], man["training_members"]["digest"])
    # Same members, same model, same held-out AUC, whatever the file.
    assert len(set(aucs.values())) == 1, aucs
    out = tmp_path / "scores.csv"
    nsfsim("score", "--model", ids["users.csv"], "--data", tmp_path / "users.parquet",
           "--out", out, "--registry", reg)
    s = pd.read_csv(out)
    assert {"user_id", "score", "prob", "holdout", "nsf"} <= set(s.columns)
    assert len(s) == 6000 and 0.1 < s.holdout.mean() < 0.3
