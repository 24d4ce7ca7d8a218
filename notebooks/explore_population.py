"""Marginals, zero shares and correlations of a generated population.

Usage: python notebooks/explore_population.py synthetic/out/default
"""
import json
import sys

import pandas as pd

folder = sys.argv[1] if len(sys.argv) > 1 else "synthetic/out/default"
manifest = json.load(open(f"{folder}/manifest.json"))
users = pd.read_parquet(f"{folder}/users.parquet")
print("summary:", json.dumps(manifest["summary"], indent=1))
numeric = [a["name"] for a in manifest["attributes"] if a["role"] == "numeric"]
print(users[numeric].describe(percentiles=[0.5, 0.9, 0.99]).T)
print("share of zeros:\n", (users[numeric] == 0).mean().round(3))
print("NSF rate by registration:\n", users.groupby("apple_registered")["nsf"].mean())
print("NSF rate by auto top-up:\n", users.groupby("auto_topup")["nsf"].mean())
print("Spearman correlation with nsf_prob:\n", users[numeric + ["nsf_prob"]].corr("spearman")["nsf_prob"].round(3))
