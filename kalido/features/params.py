"""The recommender's and the interests' parameters from the policy, and event columns as the
recommender's arrays: one source of weights for interests, recommendations and the evaluation."""

from __future__ import annotations

from kalido.features import recommender
from kalido.policy import Policy, Profiling


def rec_params(profiling: Profiling) -> recommender.RecParams:
    """The recommender's parameters from the policy."""
    tuning = profiling.recommender
    return recommender.RecParams(
        min_users=profiling.similarity_min_distinct_users,
        per_product=profiling.similar_products_per_product,
        per_user=profiling.recommendations_per_user,
        half_life_days=float(profiling.interest_half_life_days),
        exclude_bought_days=float(profiling.exclude_bought_within_days),
        exclude_viewed_days=float(profiling.exclude_viewed_within_days),
        **{name: getattr(tuning, name) for name in tuning.__dataclass_fields__},
    )


def interactions(columns: dict, n_users: int, n_items: int, group=None) -> recommender.Interactions:
    return recommender.Interactions(
        user=columns["user_code"].astype("int32"),
        item=columns["item"].astype("int32"),
        age_days=columns["age_days"].astype("float64"),
        kind=columns["kind"].astype("int8"),
        group=columns["grp"].astype("int64") if group is None else group,
        n_users=n_users,
        n_items=n_items,
    )


def event_params(policy: Policy) -> dict:
    """The SQL parameters every event query shares: the order lines no feature counts (one list,
    from the policy) and the recommender's codes of a view, an add-to-cart and an order line."""
    return {
        "ignored_statuses": list(policy.profiling.ignored_order_statuses),
        "view_kind": recommender.VIEW,
        "cart_kind": recommender.CART,
        "order_kind": recommender.ORDER,
    }


def interest_params(policy: Policy, cutoff) -> dict:
    """What features/interests.sql reads: the recommender's event weights, one half-life and the
    order filter, so personalisation and advertising interests weigh events alike."""
    tuning = policy.profiling.recommender
    return {
        "cutoff": cutoff,
        "half_life_days": policy.profiling.interest_half_life_days,
        "view_weight": tuning.view_weight,
        "cart_weight": tuning.cart_weight,
        "order_weight": tuning.order_weight,
        **event_params(policy),
    }
