"""The personal-data policy, loaded from policy.yaml into frozen, self-validating dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from kalido.config import ConfigError

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.yaml")
LEGAL_BASES = {"consent", "contract", "legal_obligation", "legitimate_interest"}
CONTRACT_PURPOSES = {
    "personalisation",
    "email_marketing",
    "partner_offers",
    "ad_profiling",
    "partner_sharing",
}


def _positive_int(section: str, values: dict[str, Any], name: str) -> int:
    value = values.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"policy: {section}.{name} must be a positive integer")
    return value


@dataclass(frozen=True)
class Purpose:
    name: str
    legal_basis: str
    description: str

    def __post_init__(self) -> None:
        if self.legal_basis not in LEGAL_BASES:
            raise ConfigError(f"policy: purpose {self.name} has unknown legal basis")


@dataclass(frozen=True)
class RecommenderTuning:
    view_weight: float
    cart_weight: float
    order_weight: float
    session_window: int
    popularity_exponent: float
    history_items: int
    repeat_weight: float
    profile_weight: float
    diversity_decay: float
    category_prior: float

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"policy: profiling.recommender.{name} must be a number >= 0")
        if self.session_window < 1 or self.history_items < 1:
            raise ConfigError("policy: profiling.recommender windows must be at least 1")
        if not 0 < self.diversity_decay <= 1:
            raise ConfigError("policy: profiling.recommender.diversity_decay must be in (0, 1]")


@dataclass(frozen=True)
class Profiling:
    purpose: str
    max_recent_views_per_user: int
    history_years: int
    interest_half_life_days: int
    similarity_min_distinct_users: int
    similar_products_per_product: int
    recommendations_per_user: int
    exclude_bought_within_days: int
    recommender: RecommenderTuning


@dataclass(frozen=True)
class EmailFeed:
    required_purposes: tuple[str, ...]
    active_within_years: int


@dataclass(frozen=True)
class RetentionRule:
    store: str
    purpose: str
    legal_basis: str
    keep: str


@dataclass(frozen=True)
class Policy:
    business_timezone: str
    age_limit: int
    request_due_months: int
    purposes: MappingProxyType
    profiling: Profiling
    email_feed: EmailFeed
    retention: MappingProxyType

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.business_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("policy: business_timezone is not a known time zone") from None
        missing = CONTRACT_PURPOSES - set(self.purposes)
        if missing:
            raise ConfigError(f"policy: purposes missing {', '.join(sorted(missing))}")
        used = {self.profiling.purpose, *self.email_feed.required_purposes}
        if not used <= set(self.purposes):
            raise ConfigError("policy: profiling or email_feed names an undeclared purpose")
        if self.profiling.purpose != "personalisation":
            raise ConfigError("policy: profiling.purpose must be personalisation")


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate the policy file; any defect is a ConfigError with a one-line message."""
    path = path or DEFAULT_POLICY_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"policy: cannot read {path.name}: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise ConfigError("policy: the file must hold a mapping")
    try:
        prof = raw["profiling"]
        feed = raw["email_feed"]
        tuning = prof["recommender"]
        profiling = Profiling(
            purpose=str(prof["purpose"]),
            recommender=RecommenderTuning(
                **{name: tuning[name] for name in RecommenderTuning.__dataclass_fields__}
            ),
            **{
                name: _positive_int("profiling", prof, name)
                for name in Profiling.__dataclass_fields__
                if name not in ("purpose", "recommender")
            },
        )
        email_feed = EmailFeed(
            required_purposes=tuple(feed["required_purposes"]),
            active_within_years=_positive_int("email_feed", feed, "active_within_years"),
        )
        purposes = {
            name: Purpose(name, spec["legal_basis"], spec.get("description", ""))
            for name, spec in raw["purposes"].items()
        }
        retention = {
            store: RetentionRule(store, spec["purpose"], spec["legal_basis"], str(spec["keep"]))
            for store, spec in raw["retention"].items()
        }
        return Policy(
            business_timezone=str(raw["business_timezone"]),
            age_limit=_positive_int("policy", raw, "age_limit"),
            request_due_months=_positive_int("policy", raw, "request_due_months"),
            purposes=MappingProxyType(purposes),
            profiling=profiling,
            email_feed=email_feed,
            retention=MappingProxyType(retention),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"policy: missing or malformed entry {exc}") from None
