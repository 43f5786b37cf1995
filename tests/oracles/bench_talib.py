#!/usr/bin/env python3
"""Times TA-Lib (C library via the PyPI wheel) on the indicator set of
bench/indicators.ts. Usage: bench_talib.py <candles.csv> <repeat> ; prints JSON
{"rows": n, "seconds": {"<indicator>": best of 3, ...}, "cpu_seconds": {...}} to
stdout: wall time (time.perf_counter) and this thread's CPU time
(time.thread_time, which a loaded machine's waits do not inflate)."""
import csv
import json
import sys
import time

import numpy as np
import talib


def main():
    path, repeat = sys.argv[1], int(sys.argv[2])
    cols = {k: [] for k in ("open", "high", "low", "close", "volume")}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k in cols:
                cols[k].append(float(row[k]))
    o, h, l, c, v = (np.tile(np.asarray(cols[k], dtype=np.float64), repeat) for k in ("open", "high", "low", "close", "volume"))
    calls = {
        "SMA(20)": lambda: talib.SMA(c, 20),
        "EMA(20)": lambda: talib.EMA(c, 20),
        "WMA(20)": lambda: talib.WMA(c, 20),
        "RSI(14)": lambda: talib.RSI(c, 14),
        "MACD(12,26,9)": lambda: talib.MACD(c, 12, 26, 9),
        "BBANDS(20,2)": lambda: talib.BBANDS(c, 20, 2, 2, 0),
        "ATR(14)": lambda: talib.ATR(h, l, c, 14),
        "NATR(14)": lambda: talib.NATR(h, l, c, 14),
        "OBV": lambda: talib.OBV(c, v),
        "STOCH(14,3,3)": lambda: talib.STOCH(h, l, c, 14, 3, 0, 3, 0),
        "STOCHRSI(14,14,3)": lambda: talib.STOCHRSI(c, 14, 14, 3, 0),
        "ADX(14)": lambda: talib.ADX(h, l, c, 14),
        "PLUS_DI(14)": lambda: talib.PLUS_DI(h, l, c, 14),
        "MINUS_DI(14)": lambda: talib.MINUS_DI(h, l, c, 14),
        "CCI(20)": lambda: talib.CCI(h, l, c, 20),
        "MFI(14)": lambda: talib.MFI(h, l, c, v, 14),
        "ROC(10)": lambda: talib.ROC(c, 10),
        "WILLR(14)": lambda: talib.WILLR(h, l, c, 14),
    }
    seconds = {}
    cpu_seconds = {}
    for name, call in calls.items():
        best = cpu_best = float("inf")
        for _ in range(3):
            c0 = time.thread_time()
            t0 = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - t0)
            cpu_best = min(cpu_best, time.thread_time() - c0)
        seconds[name] = best
        cpu_seconds[name] = cpu_best
    print(json.dumps({"rows": int(len(c)), "seconds": seconds, "cpu_seconds": cpu_seconds}))


if __name__ == "__main__":
    main()
