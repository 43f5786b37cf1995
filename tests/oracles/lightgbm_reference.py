#!/usr/bin/env python3
"""Python lightgbm oracle for the LightGBM binding's parity test and benchmark.

Usage: lightgbm_reference.py <spec.json>

The spec (written by ts/test/lightgbm/parity.test.ts or bench/lightgbm.ts):

  {"n_features": k,
   "train_x": "<file of float64 little-endian, row-major n x k>",
   "train_y": "<file of float64>",
   "valid_x": "<file>", "valid_y": "<file>",       (optional)
   "feature_names": ["...", ...],                   (optional)
   "params": {...},                                 (passed to lightgbm.train as is)
   "predict_x": "<file>",                           (rows to predict)
   "out_pred": "<file>",                            (float64 predictions written here)
   "out_model": "<file>",                           (model text written here)
   "repeat": 1,                                     (optional: train this many times, report the fastest)
   "time_predict": false}                           (optional: also time batch and single-row predict)

Training follows lightgbm.train with the validation set (if any) as the only
valid_sets entry, so early_stopping_round in params works as in Python.
Prints one JSON object on stdout:

  {"lightgbm_version", "num_trees", "current_iteration", "best_iteration",
   "feature_names", "importance_gain", "importance_split",
   "train_seconds" (fastest of `repeat`), "train_seconds_all",
   "predict_batch_us_per_row", "predict_single_us_per_call" (with time_predict; null otherwise)}
"""
import json
import sys
import time

import lightgbm as lgb
import numpy as np


def matrix(path, k):
    return np.fromfile(path, dtype="<f8").reshape(-1, k)


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    k = spec["n_features"]
    x = matrix(spec["train_x"], k)
    y = np.fromfile(spec["train_y"], dtype="<f8")
    names = spec.get("feature_names") or "auto"
    params = spec["params"]
    times = []
    booster = None
    for _ in range(int(spec.get("repeat", 1))):
        train = lgb.Dataset(x, label=y, feature_name=names, params=params, free_raw_data=False)
        valid_sets = []
        if spec.get("valid_x"):
            vx = matrix(spec["valid_x"], k)
            vy = np.fromfile(spec["valid_y"], dtype="<f8")
            valid_sets.append(lgb.Dataset(vx, label=vy, reference=train, params=params, free_raw_data=False))
        t0 = time.perf_counter()
        booster = lgb.train(params, train, valid_sets=valid_sets, valid_names=["valid"] * len(valid_sets))
        times.append(time.perf_counter() - t0)
    px = matrix(spec["predict_x"], k)
    pred = booster.predict(px).astype("<f8")
    pred.tofile(spec["out_pred"])
    batch_us = single_us = None
    if spec.get("time_predict"):
        reps = 20
        t0 = time.perf_counter()
        for _ in range(reps):
            booster.predict(px)
        batch_us = (time.perf_counter() - t0) * 1e6 / (reps * len(px))
        n = min(2000, len(px))
        rows = [px[i:i + 1] for i in range(n)]
        t0 = time.perf_counter()
        for r in rows:
            booster.predict(r)
        single_us = (time.perf_counter() - t0) * 1e6 / n
    with open(spec["out_model"], "w") as f:
        f.write(booster.model_to_string())
    print(json.dumps({
        "lightgbm_version": lgb.__version__,
        "num_trees": booster.num_trees(),
        "current_iteration": booster.current_iteration(),
        "best_iteration": booster.best_iteration,
        "feature_names": booster.feature_name(),
        "importance_gain": booster.feature_importance("gain").tolist(),
        "importance_split": booster.feature_importance("split").tolist(),
        "train_seconds": min(times),
        "train_seconds_all": times,
        "predict_batch_us_per_row": batch_us,
        "predict_single_us_per_call": single_us,
    }))


if __name__ == "__main__":
    main()
