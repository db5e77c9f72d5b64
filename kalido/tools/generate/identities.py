"""Names, phones, addresses and e-mails of customers, in the style of their country."""

from __future__ import annotations

from faker import Faker

from kalido.tools.generate.text import ascii_slug

LOCALES = ("fr_FR", "fr_BE", "nl_BE", "nl_NL")
LOCALE_SHARES = (0.68, 0.12, 0.08, 0.12)
LOCALE_COUNTRY = {"fr_FR": "FR", "fr_BE": "BE", "nl_BE": "BE", "nl_NL": "NL"}
EMAIL_DOMAINS = {
    "FR": ("gmail.com", "orange.fr", "free.fr", "hotmail.fr", "laposte.net", "sfr.fr", "yahoo.fr"),
    "BE": ("gmail.com", "skynet.be", "telenet.be", "hotmail.com", "outlook.be"),
    "NL": ("gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl", "outlook.com"),
}
# Faker has no French-speaking Belgian addresses; these give fr_BE customers real ones.
WALLOON_TOWNS = (
    ("1000", "Bruxelles"),
    ("1050", "Ixelles"),
    ("1180", "Uccle"),
    ("1030", "Schaerbeek"),
    ("1070", "Anderlecht"),
    ("1300", "Wavre"),
    ("1348", "Louvain-la-Neuve"),
    ("1400", "Nivelles"),
    ("1410", "Waterloo"),
    ("4000", "Liège"),
    ("4100", "Seraing"),
    ("4800", "Verviers"),
    ("5000", "Namur"),
    ("6000", "Charleroi"),
    ("6700", "Arlon"),
    ("7000", "Mons"),
    ("7100", "La Louvière"),
    ("7500", "Tournai"),
    ("7700", "Mouscron"),
)


class Identities:
    """Names, phones, addresses and e-mails from seeded Faker instances, one per locale.

    Names and addresses are drawn from pools Faker fills once per locale (a call per person made
    a 1M-customer zone spend minutes in Faker); phones and e-mails stay one per person."""

    POOL = 2048

    def __init__(self, seed: int):
        self.fakers = {locale: Faker(locale) for locale in LOCALES}
        for offset, faker in enumerate(self.fakers.values()):
            faker.seed_instance(seed + offset)
        self.emails: set[str] = set()
        self._pools: dict[tuple[str, str], list] = {}

    def _draw(self, locale: str, kind: str, make):
        pool = self._pools.get((locale, kind))
        if pool is None:
            pool = self._pools[(locale, kind)] = [make() for _ in range(self.POOL)]
        return pool[self.fakers[locale].random.randrange(self.POOL)]

    def first_name(self, locale: str, gender: str) -> str:
        """A first name matching the gender when there is one."""
        faker = self.fakers[locale]
        if gender == "F":
            return self._draw(locale, "F", faker.first_name_female)
        if gender == "M":
            return self._draw(locale, "M", faker.first_name_male)
        return self._draw(locale, "first", faker.first_name)

    def last_name(self, locale: str) -> str:
        """A family name."""
        return self._draw(locale, "last", self.fakers[locale].last_name)

    def phone(self, locale: str) -> str:
        """A phone number in the country's format, its last four digits the person's own."""
        faker = self.fakers["nl_BE" if locale == "fr_BE" else locale]
        number = list(self._draw(locale, "phone", faker.phone_number))
        own = f"{self.fakers[locale].random.randrange(10_000):04d}"
        digits = [i for i, char in enumerate(number) if char.isdigit()][-4:]
        for i, digit in zip(digits, own[4 - len(digits) :], strict=True):
            number[i] = digit
        return "".join(number)

    def address(self, locale: str) -> tuple[str, str, str]:
        """(street, postal code, city) in the country's style."""
        if locale == "fr_BE":
            postal_code, city = self.fakers["fr_BE"].random.choice(WALLOON_TOWNS)
            street = self._draw(locale, "street", self.fakers["fr_FR"].street_address)
            return street, postal_code, city
        faker = self.fakers[locale]
        return self._draw(
            locale, "address", lambda: (faker.street_address(), faker.postcode(), faker.city())
        )

    def email(self, locale: str, first: str, last: str, number: int) -> str:
        """A unique, plausible personal address built from the name."""
        draw = self.fakers[locale].random  # the seeded random.Random behind this Faker
        separator = draw.choice((".", "_", "", "."))
        local = ascii_slug(first, "") + separator + ascii_slug(last, "")
        if draw.random() < 0.5:
            local += str(draw.randint(1, 99))
        domain = draw.choice(EMAIL_DOMAINS[LOCALE_COUNTRY[locale]])
        address = f"{local}@{domain}"
        if address in self.emails:  # namesakes: the account number settles it
            address = f"{local}.{number}@{domain}"
        self.emails.add(address)
        return address
