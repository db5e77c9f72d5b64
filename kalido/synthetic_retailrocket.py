"""A RetailRocket-scale event log for `kalido evaluate`: `python -m kalido.synthetic_retailrocket
--out events.csv` (RetailRocket's columns and sparsity; the real log is not redistributed here).

About 4M events of 1.4M visitors on 235k products over 2015-05-03..2015-09-18, as in the public
log: most visitors come once or twice, a few a lot; products have power-law popularity and
belong to hidden groups of related products (a visitor keeps to one group three times in four,
within a visit and across visits days apart); 2.5 % of events are add-to-carts, a third of them
bought. Fixed seed: the same file every time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

SEED = 7
START_MS, END_MS = 1430611200000, 1442534400000  # 2015-05-03 .. 2015-09-18 UTC


def generate(visitors: int = 1_400_000, products: int = 235_000, groups: int = 4_000) -> pa.Table:
    rng = np.random.default_rng(SEED)
    group_of = rng.integers(0, groups, products)
    popularity = np.minimum(rng.zipf(1.6, products).astype(float), 5000)
    by_group = np.argsort(group_of, kind="stable")
    first = np.searchsorted(group_of[by_group], np.arange(groups))
    last = np.searchsorted(group_of[by_group], np.arange(groups), side="right")
    group_weight = np.bincount(group_of, weights=popularity, minlength=groups)
    group_weight /= group_weight.sum()
    events_per_visitor = np.minimum(rng.zipf(2.1, visitors), 2000)
    n = int(events_per_visitor.sum())
    visitor = np.repeat(np.arange(visitors), events_per_visitor)
    group = rng.choice(groups, visitors, p=group_weight)[visitor]
    elsewhere = rng.random(n) < 0.25
    group[elsewhere] = rng.choice(groups, int(elsewhere.sum()), p=group_weight)
    # Within a group, the first products (in a fixed random order) are the popular ones.
    size = last[group] - first[group]
    offset = np.minimum((rng.random(n) ** 2.5 * size).astype(np.int64), np.maximum(size - 1, 0))
    item = by_group[first[group] + offset]
    # Minutes apart within a visit, now and then days apart.
    gap = np.where(
        rng.random(n) < 0.8, rng.exponential(90_000, n), rng.exponential(5 * 86_400_000, n)
    ).astype(np.int64)
    starts = np.r_[True, visitor[1:] != visitor[:-1]]
    gap[starts] = 0
    elapsed = np.cumsum(gap)
    elapsed -= np.repeat(elapsed[starts], events_per_visitor)
    timestamp = rng.integers(START_MS, END_MS, visitors)[visitor] + elapsed
    cart = rng.random(n) < 0.025
    bought = cart & (rng.random(n) < 1 / 3)
    kind = np.where(bought, 2, cart.astype(np.int64))
    inside = timestamp < END_MS
    transaction = pa.array(np.arange(n)[inside]).cast(pa.string())
    return pa.table(
        {
            "timestamp": timestamp[inside],
            "visitorid": visitor[inside],
            "event": pa.array(np.array(["view", "addtocart", "transaction"])[kind[inside]]),
            "itemid": item[inside],
            "transactionid": pc.if_else(pa.array(bought[inside]), transaction, None),
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kalido.synthetic_retailrocket")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    table = generate()
    pcsv.write_csv(table, args.out, pcsv.WriteOptions(quoting_style="none"))
    print(f"wrote {table.num_rows} events to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
