#!/usr/bin/env python3
"""TA-Lib oracle for the indicators parity test.

Usage: talib_reference.py <candles.csv> <out.json>

Reads a candle CSV (columns named open, high, low, close, volume; any others
ignored), computes TA-Lib (the C library inside the PyPI `TA-Lib` wheel, see
requirements.txt) for a fixed list of configurations, and writes JSON:

  {"talib_version": ..., "rows": n,
   "columns": {"open": [...], "high": [...], "low": [...], "close": [...], "volume": [...]},
   "series": {"<tickcast feature name>": [value or null (NaN)], ...},
   "scale": {"<feature name>": factor}}

Keys of "series" are tickcast feature names (see crates/indicators feature
grammar); the value is what TA-Lib returns for the equivalent call, so the
test compares name by name. "scale" lists documented scale differences
(tickcast value = factor * TA-Lib value).
"""
import csv
import json
import math
import sys

import numpy as np
import talib


def load(path):
    cols = {k: [] for k in ("open", "high", "low", "close", "volume")}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k in cols:
                cols[k].append(float(row[k]))
    return {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}


def configs(o, h, l, c, v):
    """(feature name -> TA-Lib series) for every configuration tested."""
    out = {}
    for n in (2, 20, 200):
        out[f"sma_{n}"] = talib.SMA(c, n)
    for n in (2, 12, 50):
        out[f"ema_{n}"] = talib.EMA(c, n)
    for n in (2, 10, 30):
        out[f"wma_{n}"] = talib.WMA(c, n)
    for n in (2, 14, 30):
        out[f"rsi_{n}"] = talib.RSI(c, n)
    # signal 1 is left out: TA-Lib 0.6 returns a lookback off by one and
    # uninitialised values for it (tickcast accepts it: signal = line).
    for f_, s_, g_ in ((12, 26, 9), (5, 35, 5), (26, 12, 9), (2, 3, 2)):
        line, sig, hist = talib.MACD(c, f_, s_, g_)
        out[f"macd_{f_}_{s_}_{g_}_line"] = line
        out[f"macd_{f_}_{s_}_{g_}_signal"] = sig
        out[f"macd_{f_}_{s_}_{g_}_hist"] = hist
    for n, k, ks in ((20, 2.0, "2"), (10, 1.5, "1.5"), (2, 1.0, "1")):
        up, mid, lo = talib.BBANDS(c, n, k, k, 0)
        out[f"bb_{n}_{ks}_upper"] = up
        out[f"bb_{n}_{ks}_middle"] = mid
        out[f"bb_{n}_{ks}_lower"] = lo
    for n in (1, 14, 30):
        out[f"atr_{n}"] = talib.ATR(h, l, c, n)
    for n in (14, 30):  # NATR period 1: TA-Lib returns the raw true range (see natr.rs)
        out[f"natr_{n}"] = talib.NATR(h, l, c, n)
    out["obv"] = talib.OBV(c, v)
    for fk, sk, sd in ((14, 3, 3), (5, 1, 1), (1, 1, 1), (21, 5, 4)):
        k, d = talib.STOCH(h, l, c, fk, sk, 0, sd, 0)
        out[f"stoch_{fk}_{sk}_{sd}_k"] = k
        out[f"stoch_{fk}_{sk}_{sd}_d"] = d
    for n, fk, fd in ((14, 5, 3), (14, 14, 3), (2, 1, 1)):
        k, d = talib.STOCHRSI(c, n, fk, fd, 0)
        out[f"stochrsi_{n}_{fk}_{fd}_k"] = k
        out[f"stochrsi_{n}_{fk}_{fd}_d"] = d
    for n in (2, 14, 28):
        out[f"adx_{n}"] = talib.ADX(h, l, c, n)
    for n in (1, 2, 14, 30):
        out[f"plus_di_{n}"] = talib.PLUS_DI(h, l, c, n)
        out[f"minus_di_{n}"] = talib.MINUS_DI(h, l, c, n)
    for n in (2, 14, 20):
        out[f"cci_{n}"] = talib.CCI(h, l, c, n)
    for n in (2, 14, 30):
        out[f"mfi_{n}"] = talib.MFI(h, l, c, v, n)
    for n in (1, 10):
        out[f"roc_{n}"] = talib.ROC(c, n)
    for n in (2, 14):
        out[f"willr_{n}"] = talib.WILLR(h, l, c, n)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cols = load(sys.argv[1])
    series = configs(cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"])
    clean = lambda a: [None if math.isnan(x) else float(x) for x in a]
    doc = {
        "talib_version": talib.__version__,
        "talib_c_version": talib.__ta_version__.decode() if isinstance(talib.__ta_version__, bytes) else str(talib.__ta_version__),
        "rows": len(cols["close"]),
        "columns": {k: [float(x) for x in v] for k, v in cols.items()},
        "series": {k: clean(v) for k, v in series.items()},
        # TA-Lib's period-1 PLUS_DI/MINUS_DI return a fraction; tickcast keeps percent.
        "scale": {"plus_di_1": 100.0, "minus_di_1": 100.0},
    }
    with open(sys.argv[2], "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    main()
