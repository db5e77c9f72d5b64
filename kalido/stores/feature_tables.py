"""The work database's recommender tables (codes, history, learned weights) as the recommender's
arrays, and feature table counts."""

from __future__ import annotations

from dataclasses import replace

import duckdb

from kalido.db import run_sql
from kalido.features import recommender
from kalido.features.params import event_params, interactions
from kalido.policy import LEARNABLE_WEIGHTS, Policy


def catalogue(con: duckdb.DuckDBPyConnection) -> recommender.Catalogue:
    items = con.execute(
        "select c.category_code, i.in_stock from rec_items as i "
        "inner join rec_categories as c on c.category = i.category order by i.item"
    ).fetchnumpy()
    n_categories = con.execute("select count(*) from rec_categories").fetchone()[0]
    return recommender.Catalogue(
        category=items["category_code"].astype("int32"),
        in_stock=items["in_stock"].astype(bool),
        n_categories=max(n_categories, 1),
    )


def history(
    con: duckdb.DuckDBPyConnection, n_items: int, cutoff, policy: Policy
) -> recommender.Interactions:
    run_sql(con, "features/recommender_history", {"cutoff": cutoff, **event_params(policy)})
    n_users = con.execute("select count(*) from rec_users").fetchone()[0]
    columns = con.execute("select * from rec_history").fetchnumpy()
    return interactions(columns, n_users, n_items, group=columns["user_code"])


def counts(con: duckdb.DuckDBPyConnection, tables) -> dict:
    return {t: con.execute(f"select count(*) from feat_{t}").fetchone()[0] for t in tables}


def learned_params(con: duckdb.DuckDBPyConnection, params: recommender.RecParams):
    """`params` with tonight's learned weights (rec_weights, written by build_similarity)."""
    rows = con.execute("select name, value from rec_weights").fetchall()
    return replace(params, **{name: value for name, value in rows if name in LEARNABLE_WEIGHTS})
