"""A RetailRocket-scale event log for `kalido evaluate`:
`python -m kalido.tools.synthetic_retailrocket
--out events.csv [--item-properties item_properties.csv]` (RetailRocket's columns and sparsity;
the real log is not redistributed here).

About 4M events of 1.4M visitors on 235k products over 2015-05-03..2015-09-18, as in the public
log: most visitors come once or twice, a few a lot; products have power-law popularity and
belong to hidden groups of related products (a visitor keeps to one group three times in four,
within a visit and across visits days apart); 2.5 % of events are add-to-carts, a third of them
bought. The item properties, as RetailRocket's, hold weekly snapshots of `categoryid` and
`available`: about 1,200 categories, each holding a few hidden groups; 5 % of products sit in an
unrelated category, 3 % have none and 2 % move to another category later. Fixed seeds: the same
files every time (the events do not depend on whether the properties are written).
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
WEEK_MS = 7 * 86_400_000


def _hidden_groups(rng: np.random.Generator, products: int, groups: int) -> np.ndarray:
    """Each product's hidden group: the first draw of the events' generator, so that
    item_properties() finds the same groups from the same seed."""
    return rng.integers(0, groups, products)


def generate(visitors: int = 1_400_000, products: int = 235_000, groups: int = 4_000) -> pa.Table:
    rng = np.random.default_rng(SEED)
    group_of = _hidden_groups(rng, products, groups)
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


def item_properties(
    products: int = 235_000, groups: int = 4_000, categories: int = 1_200
) -> pa.Table:
    """The properties of generate()'s products (same sizes give the same hidden groups)."""
    group_of = _hidden_groups(np.random.default_rng(SEED), products, groups)
    rng = np.random.default_rng(SEED + 1)
    category = rng.integers(0, categories, groups)[group_of]
    unrelated = rng.random(products) < 0.05
    category[unrelated] = rng.integers(0, categories, int(unrelated.sum()))
    item = np.flatnonzero(rng.random(products) >= 0.03)
    first_seen = START_MS + rng.integers(0, 4, len(item)) * WEEK_MS
    moved = rng.random(len(item)) < 0.02
    later = first_seen[moved] + rng.integers(1, 10, int(moved.sum())) * WEEK_MS
    available = rng.integers(0, 2, len(item))
    timestamp = np.r_[first_seen, later, first_seen]
    itemid = np.r_[item, item[moved], item]
    value = np.r_[category[item], rng.integers(0, categories, int(moved.sum())), available]
    prop = np.r_[np.zeros(len(item) + int(moved.sum()), np.int8), np.ones(len(item), np.int8)]
    order = np.lexsort((prop, itemid, timestamp))
    return pa.table(
        {
            "timestamp": timestamp[order],
            "itemid": itemid[order],
            "property": pa.array(np.array(["categoryid", "available"])[prop[order]]),
            "value": value[order],
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kalido.tools.synthetic_retailrocket")
    parser.add_argument("--out", type=Path, required=True, help="the events file")
    parser.add_argument("--item-properties", type=Path, help="also write the item properties")
    args = parser.parse_args(argv)
    options = pcsv.WriteOptions(quoting_style="none")
    table = generate()
    pcsv.write_csv(table, args.out, options)
    print(f"wrote {table.num_rows} events to {args.out}")
    if args.item_properties is not None:
        properties = item_properties()
        pcsv.write_csv(properties, args.item_properties, options)
        print(f"wrote {properties.num_rows} item properties to {args.item_properties}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
