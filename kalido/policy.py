"""The personal-data policy, loaded from policy.yaml into frozen, self-validating dataclasses."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    cross_session_weight: float
    two_hop_weight: float
    popularity_exponent: float
    history_items: int
    repeat_weight: float
    profile_weight: float
    diversity_decay: float
    diversity_max_share: float
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
        if self.diversity_max_share > 1:
            raise ConfigError("policy: profiling.recommender.diversity_max_share must be in [0, 1]")


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


CLOCKS = {
    "last_activity",
    "event",
    "first_ad_grant",
    "ingested",
    "superseded",
    "latest_order",
    "completed",
    "file_time",
    "rebuilt",
    "referenced",
    "never",
}
UNTIMED_CLOCKS = {"rebuilt", "referenced", "never"}
_PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class Period:
    """An ISO-8601 calendar period (years, months, days)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(str(text))
        if not match or not any(match.groups()):
            raise ConfigError(f"policy: {text!r} is not an ISO-8601 period like P5Y, P13M, P30D")
        return cls(*(int(g or 0) for g in match.groups()))

    def before(self, moment: datetime) -> datetime:
        """`moment` minus the period, in calendar terms (31 March - P1M = 28/29 February)."""
        month_index = moment.year * 12 + moment.month - 1 - self.years * 12 - self.months
        year, month = divmod(month_index, 12)
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return moment.replace(year=year, month=month + 1, day=day) - timedelta(days=self.days)

    def after(self, moment: datetime) -> datetime:
        """`moment` plus the period (used for due dates)."""
        month_index = moment.year * 12 + moment.month - 1 + self.years * 12 + self.months
        year, month = divmod(month_index, 12)
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return moment.replace(year=year, month=month + 1, day=day) + timedelta(days=self.days)


@dataclass(frozen=True)
class RetentionRule:
    after: str
    keep: Period | None
    then: str | None = None

    def __post_init__(self) -> None:
        if self.after not in CLOCKS:
            raise ConfigError(f"policy: unknown retention clock {self.after}")
        if (self.keep is None) != (self.after in UNTIMED_CLOCKS):
            raise ConfigError(f"policy: retention clock {self.after} needs keep iff it is timed")


@dataclass(frozen=True)
class RetentionStore:
    """One store the pipeline writes, with why it exists and when its content goes."""

    name: str
    location: str
    table: str | None
    personal_data: bool
    purpose: str
    legal_basis: str
    rules: tuple[RetentionRule, ...]

    def __post_init__(self) -> None:
        if self.legal_basis not in LEGAL_BASES:
            raise ConfigError(f"policy: store {self.name} has unknown legal basis")
        if not self.rules or not self.purpose.strip():
            raise ConfigError(f"policy: store {self.name} needs a purpose and at least one rule")

    def period(self, clock: str) -> Period:
        """The period of this store's rule on `clock` (a ConfigError if it has none)."""
        for rule in self.rules:
            if rule.after == clock and rule.keep is not None:
                return rule.keep
        raise ConfigError(f"policy: store {self.name} has no rule on {clock}")


@dataclass(frozen=True)
class Policy:
    business_timezone: str
    age_limit: int
    request_due_months: int
    purposes: MappingProxyType
    profiling: Profiling
    email_feed: EmailFeed
    retention: MappingProxyType

    @property
    def request_due(self) -> Period:
        return Period(months=self.request_due_months)

    def store(self, name: str) -> RetentionStore:
        return self.retention[name]

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


def _store(name: str, spec: dict[str, Any]) -> RetentionStore:
    rules = tuple(
        RetentionRule(
            after=str(rule["after"]),
            keep=Period.parse(rule["keep"]) if "keep" in rule else None,
            then=rule.get("then"),
        )
        for rule in spec["rules"]
    )
    if not isinstance(spec["personal_data"], bool):
        raise ConfigError(f"policy: store {name}.personal_data must be true or false")
    return RetentionStore(
        name=name,
        location=str(spec["location"]),
        table=str(spec["table"]) if "table" in spec else None,
        personal_data=spec["personal_data"],
        purpose=str(spec["purpose"]),
        legal_basis=str(spec["legal_basis"]),
        rules=rules,
    )


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
        retention = {name: _store(name, spec) for name, spec in raw["retention"].items()}
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
