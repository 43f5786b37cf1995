#!/usr/bin/env python3
"""Rebuild the sliced test files in data/test from the full shared data set.

Usage: python3 data/test/slice.py <shared data folder, e.g. ../shared/data>
Files copied whole are copied by hand (see README.md); this script makes only
the slices, so that anyone can check they hold nothing but source rows.
"""
import csv
import gzip
import sys
from pathlib import Path

src = Path(sys.argv[1])
dst = Path(__file__).resolve().parent

# FTX BTC-PERP 1-minute bars: the first rows up to 2022-01-03 23:59 (3 UTC days + 59 min), lines verbatim.
with open(src / 'candles/ftx_BTC-PERP_1m_20211231-20220201.csv', newline='') as f:
    lines = f.readlines()
keep = [lines[0]] + [l for l in lines[1:] if l < '2022-01-04']
(dst / 'candles').mkdir(exist_ok=True)
with open(dst / 'candles/ftx_BTC-PERP_1m_20211231-20220103.csv', 'w', newline='') as f:
    f.writelines(keep)

# Binance recordings: the first 3,000 lines verbatim, then only the @trade lines (verbatim).
(dst / 'ws-messages').mkdir(exist_ok=True)
for sym in ('btcusdt', 'ethusdt'):
    for day in ('20240808', '20240809'):
        with gzip.open(src / f'ws-messages/binance_spot_{sym}_{day}.gz', 'rb') as f:
            lines = f.read().split(b'\n')
        out = lines[:3000] + [l for l in lines[3000:] if f'"{sym}@trade"'.encode() in l]
        if lines[-1] == b'' and out[-1] != b'':
            out.append(b'')
        with open(dst / f'ws-messages/binance_spot_{sym}_{day}_head3000+trades.gz', 'wb') as raw:
            with gzip.GzipFile(filename='', mode='wb', fileobj=raw, compresslevel=9, mtime=0) as g:
                g.write(b'\n'.join(out))

# CryptoPanic headlines with votes: every row, only the columns the tests read, and the time.
cols = ['published_utc', 'title', 'votes_negative', 'votes_positive']
(dst / 'news-labeled').mkdir(exist_ok=True)
with open(src / 'news-labeled/cryptopanic_headlines_votes_2025-11_2026-02.csv', newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
with open(dst / 'news-labeled/cryptopanic_headlines_votes_2025-11_2026-02_cols.csv', 'w', newline='', encoding='utf-8') as f:
    w = csv.DictWriter(f, fieldnames=cols, extrasaction='ignore', lineterminator='\n')
    w.writeheader()
    w.writerows(rows)

# Binance BTCUSDT order book, 2024-08-08 file: every @depth@100ms line, plus the
# @bookTicker lines whose update id `u` equals a depth event's `u` (the best
# bid/ask at exactly that book state: the independent check of the rebuilt
# book). Lines verbatim, in file order.
import json
with gzip.open(src / 'ws-messages/binance_spot_btcusdt_20240808.gz', 'rb') as f:
    lines = f.read().split(b'\n')
depth_u = {json.loads(l.split(b' ', 1)[1])['data']['u'] for l in lines if b'"btcusdt@depth@100ms"' in l}
out = [l for l in lines if b'"btcusdt@depth@100ms"' in l
       or (b'"btcusdt@bookTicker"' in l and json.loads(l.split(b' ', 1)[1])['data']['u'] in depth_u)]
with open(dst / 'ws-messages/binance_spot_btcusdt_20240808_depth+ticker.gz', 'wb') as raw:
    with gzip.GzipFile(filename='', mode='wb', fileobj=raw, compresslevel=9, mtime=0) as g:
        g.write(b'\n'.join(out) + b'\n')
