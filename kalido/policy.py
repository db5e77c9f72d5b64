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

from kalido.ad_segments import Segment, load_segments
from kalido.config import ConfigError

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.yaml")
LEGAL_BASES = {"consent", "contract", "legal_obligation", "legitimate_interest"}
# What the record of processing (GDPR art. 30) states of each purpose, besides its legal basis.
RECORD_FIELDS = ("data_subjects", "categories", "stores", "recipients")
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
    """A purpose of processing, with what the record of processing (GDPR art. 30) states of it:
    whose data, which categories, the retention stores holding it, who receives it."""

    name: str
    legal_basis: str
    description: str
    data_subjects: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()  # outside KALIDO; none is a statement too

    def __post_init__(self) -> None:
        if self.legal_basis not in LEGAL_BASES:
            raise ConfigError(f"policy: purpose {self.name} has unknown legal basis")
        for name in RECORD_FIELDS:
            values = getattr(self, name)
            if not all(isinstance(v, str) and v.strip() for v in values):
                raise ConfigError(f"policy: purpose {self.name}.{name} must list names")
            if not values and name != "recipients":
                raise ConfigError(f"policy: purpose {self.name} needs {name}")


@dataclass(frozen=True)
class RecommenderTuning:
    view_weight: float
    cart_weight: float
    order_weight: float
    session_window: int
    coview_window_days: float
    cross_session_weight: float
    two_hop_weight: float
    popularity_exponent: float
    history_items: int
    repeat_weight: float
    profile_weight: float
    diversity_decay: float
    diversity_max_share: float
    category_prior: float
    trend_weight: float
    trend_half_life_days: float

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
        if self.trend_half_life_days <= 0:
            raise ConfigError("policy: profiling.recommender.trend_half_life_days must be > 0")


# The recommender's weights that depend on the shop, which the nightly self-check may learn from
# the log (features/holdout.py); half_life_days is the recommender's decay (its prior:
# interest_half_life_days).
LEARNABLE_WEIGHTS = (
    "half_life_days",
    "trend_half_life_days",
    "profile_weight",
    "trend_weight",
    "repeat_weight",
)


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
    exclude_viewed_within_days: int
    quality_holdout_days: int
    quality_sample_users: int
    learn_every_days: int  # the learned weights are chosen once per period (stores/learned.py)
    ignored_order_statuses: tuple[str, ...]
    recommender: RecommenderTuning
    learned_weights: tuple[str, ...] = ()  # LEARNABLE_WEIGHTS learned nightly, policy as prior


@dataclass(frozen=True)
class EmailFeed:
    required_purposes: tuple[str, ...]
    active_within_years: int


@dataclass(frozen=True)
class AdProfiling:
    """Advertising profiles (kalido/pipelines/ads.py); their lifetime is the retention rule on
    first_ad_grant, so the profiles and the purge keep one clock."""

    purpose: str
    segment_min_size: int  # k-anonymity of audiences: smaller segments are neither published
    interests_per_profile: int  # nor exported; a profile keeps this many top interests
    segments: tuple[Segment, ...]  # from the segments file the policy names


def _ad_profiling(spec: dict[str, Any]) -> AdProfiling:
    segments = Path(str(spec["segments"]))
    # A relative name is beside the shipped policy, also for a KALIDO_POLICY elsewhere.
    segments = segments if segments.is_absolute() else DEFAULT_POLICY_PATH.parent / segments
    return AdProfiling(
        purpose=str(spec["purpose"]),
        segment_min_size=_positive_int("ad_profiling", spec, "segment_min_size"),
        interests_per_profile=_positive_int("ad_profiling", spec, "interests_per_profile"),
        segments=load_segments(segments),
    )


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

    def iso(self) -> str:
        """The period as written in the policy (P5Y, P13M, P30D)."""
        parts = ((self.years, "Y"), (self.months, "M"), (self.days, "D"))
        return "P" + ("".join(f"{n}{unit}" for n, unit in parts if n) or "0D")


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
    # Erasure bytes are removed in a compaction this many days before the earliest pending
    # erasure is due (issue 25; purge.py).
    erasure_compaction_lead_days: int
    # The cookie retention rules remove, ahead, every cookie whose period ends within this many
    # days (purge.py), so that files are rewritten for them about once a week.
    cookie_expiry_ahead_days: int
    # Ingest recognises a row sent again within this many days of its first partition.
    duplicate_window_days: int
    purposes: MappingProxyType
    profiling: Profiling
    email_feed: EmailFeed
    ad_profiling: AdProfiling
    retention: MappingProxyType
    # Processing on other legal bases than consent; with `purposes`, the record of processing.
    processing: MappingProxyType

    @property
    def request_due(self) -> Period:
        return Period(months=self.request_due_months)

    def ad_cookie_lifetime(self) -> Period:
        """How long after its first ad_profiling grant a cookie may be profiled."""
        return self.store("raw_browsing").period("first_ad_grant")

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
        if self.ad_profiling.purpose != "ad_profiling":
            raise ConfigError("policy: ad_profiling.purpose must be ad_profiling")
        if set(self.processing) & set(self.purposes):
            raise ConfigError("policy: a processing entry has the name of a purpose")
        for purpose in (*self.purposes.values(), *self.processing.values()):
            unknown = ", ".join(sorted(set(purpose.stores) - set(self.retention)))
            if unknown:
                raise ConfigError(f"policy: purpose {purpose.name} names unknown stores {unknown}")


ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")


def _order_statuses(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list) or not set(values) <= set(ORDER_STATUSES):
        known = ", ".join(ORDER_STATUSES)
        raise ConfigError(f"policy: profiling.ignored_order_statuses must list some of {known}")
    return tuple(values)


def _purpose(name: str, spec: dict[str, Any]) -> Purpose:
    def names(field: str) -> tuple[str, ...]:
        values = spec[field]
        if not isinstance(values, list):
            raise ConfigError(f"policy: purpose {name}.{field} must be a list")
        return tuple(values)

    return Purpose(
        name=name,
        legal_basis=str(spec["legal_basis"]),
        description=str(spec.get("description", "")),
        **{field: names(field) for field in RECORD_FIELDS},
    )


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


def _learned_weights(names: Any) -> tuple[str, ...]:
    if not isinstance(names, list) or any(name not in LEARNABLE_WEIGHTS for name in names):
        raise ConfigError(
            "policy: profiling.learned_weights must list some of " + ", ".join(LEARNABLE_WEIGHTS)
        )
    return tuple(dict.fromkeys(names))


def _lead_days(value: Any) -> int:
    # 0 compacts on the due date itself; more than a month would compact the night of the request.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 28:
        raise ConfigError("policy: erasure_compaction_lead_days must be an integer from 0 to 28")
    return value


def _ahead_days(value: Any) -> int:
    # 0 removes each cookie the night its period ends; past two months, data goes needlessly early.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 60:
        raise ConfigError("policy: cookie_expiry_ahead_days must be an integer from 0 to 60")
    return value


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
            ignored_order_statuses=_order_statuses(prof["ignored_order_statuses"]),
            learned_weights=_learned_weights(prof.get("learned_weights") or []),
            recommender=RecommenderTuning(
                **{name: tuning[name] for name in RecommenderTuning.__dataclass_fields__}
            ),
            **{
                name: _positive_int("profiling", prof, name)
                for name in Profiling.__dataclass_fields__
                if name
                not in ("purpose", "recommender", "ignored_order_statuses", "learned_weights")
            },
        )
        email_feed = EmailFeed(
            required_purposes=tuple(feed["required_purposes"]),
            active_within_years=_positive_int("email_feed", feed, "active_within_years"),
        )
        purposes = {name: _purpose(name, spec) for name, spec in raw["purposes"].items()}
        processing = {name: _purpose(name, spec) for name, spec in raw["processing"].items()}
        retention = {name: _store(name, spec) for name, spec in raw["retention"].items()}
        return Policy(
            business_timezone=str(raw["business_timezone"]),
            age_limit=_positive_int("policy", raw, "age_limit"),
            request_due_months=_positive_int("policy", raw, "request_due_months"),
            erasure_compaction_lead_days=_lead_days(raw.get("erasure_compaction_lead_days", 7)),
            cookie_expiry_ahead_days=_ahead_days(raw.get("cookie_expiry_ahead_days", 0)),
            duplicate_window_days=_positive_int("policy", raw, "duplicate_window_days"),
            purposes=MappingProxyType(purposes),
            profiling=profiling,
            email_feed=email_feed,
            ad_profiling=_ad_profiling(raw["ad_profiling"]),
            retention=MappingProxyType(retention),
            processing=MappingProxyType(processing),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"policy: missing or malformed entry {exc}") from None
