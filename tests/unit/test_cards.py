"""Card numbers in free text: what is a card, what is masked, and the DuckDB pre-filter."""

from __future__ import annotations

import random
import sys
import unicodedata

import duckdb
import pytest

from kalido import cards
from kalido.cards import CARD_MASK, CARD_PREFILTER_RE2, has_card, luhn_valid, mask_cards
from kalido.db import connect

VISA = "4111111111111111"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SEPARATORS = [" ", "  ", "-", ".", "/", "+", "%20", "\u00a0", "\u3000", "\u200b", "\u2013", "_"]


def grouped(number: str, separator: str, size: int = 4) -> str:
    return separator.join(number[i : i + size] for i in range(0, len(number), size))


def digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def with_check_digit(body: str) -> str:
    """`body` followed by the digit that makes it pass Luhn."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


USUAL = [
    grouped(VISA, " "),
    grouped(VISA, "-"),
    f"q={VISA}&x",
    grouped("5500000000000004", " "),
    grouped("4222222222222", " "),  # 13 digits
    grouped(with_check_digit("6011" + "0" * 14), " "),  # 19 digits
]
URL_ENCODED = [grouped(VISA, "+"), grouped(VISA, "%20"), f"/search?q={grouped(VISA, '%2F')}"]
ODD_SEPARATORS = [
    grouped(VISA, "  "),
    grouped(VISA, "."),
    grouped(VISA, "/"),
    grouped(VISA, " / "),
    grouped(VISA, "\u00a0"),  # non-breaking space
    grouped(VISA, "\u202f"),  # narrow non-breaking space
    grouped(VISA, "\u3000"),  # ideographic space
    grouped(VISA, "\u200b"),  # zero-width space
    grouped(VISA, "\u2013"),  # en dash
    grouped(VISA, "_"),
    grouped(VISA, "%C2%A0"),  # an escaped non-breaking space
    grouped(VISA, "%E2%80%8B"),  # an escaped zero-width space
    grouped(VISA, "\u0301"),  # a lone combining accent
    grouped("378282246310005", " ", 5),  # Amex, 15 digits in threes of five
]
OTHER_DIGITS = [
    grouped(VISA, " ").translate(FULL_WIDTH),
    VISA.translate(FULL_WIDTH),
    grouped(VISA, "\u3000").translate(FULL_WIDTH),
    grouped(VISA, " ").translate(ARABIC_INDIC),
    "⁴¹¹¹ ¹¹¹¹ ¹¹¹¹ ¹¹¹¹",  # superscripts
    "%EF%BC%94%EF%BC%91%EF%BC%91%EF%BC%91" + "1" * 12,  # escaped full-width digits
]
IN_LONGER_RUNS = [
    grouped(VISA, " ") + " 123",
    "06 12 34 56 78 " + grouped(VISA, " "),
    "Tél. 06 12 34 56 78, " + grouped(VISA, " "),
    grouped(VISA, " ") + " / " + grouped("5500000000000004", " "),
]
IN_TEXT = {
    "Ma carte : " + grouped(VISA, " ") + " exp 12/28": f"Ma carte : {CARD_MASK} exp 12/28",
    "12 rue de la Paix, CB " + grouped(VISA, "-"): f"12 rue de la Paix, CB {CARD_MASK}",
    f"payé avec la carte{VISA}merci": f"payé avec la carte{CARD_MASK}merci",  # letters end a run
    "col\x1f" + grouped(VISA, " ") + "\x1fcol": f"col\x1f{CARD_MASK}\x1fcol",
}
POSITIVES = USUAL + URL_ENCODED + ODD_SEPARATORS + OTHER_DIGITS + IN_LONGER_RUNS + list(IN_TEXT)

# Everyday numbers that must not be flagged. Where joining their digits would pass Luhn, the test
# below proves it, so the case shows the rule holds rather than a lucky checksum.
TIMESTAMP_WOULD_PASS = "2026-11-24 10:15:06"
IP_AND_PORT_WOULD_PASS = "192.168.100.200:8002"
EVERYDAY = [
    TIMESTAMP_WOULD_PASS,
    "2026-11-24T10:15:06Z",
    "2026-11-24T10:15:06.123456+01:00",
    "2026-11-24 10:15:06.123456",
    "24/11/2026 10:15:06",
    "24.11.2026",
    "du 24/11/2026 au 25/11/2026",
    "10h15",
    "192.168.100.200",
    "255.255.255.255",
    IP_AND_PORT_WOULD_PASS,
    "connexion depuis 192.168.100.200 le 24/11/2026",
    "12,50 €",
    "1 299,99 €",
    "€1,299.99",
    "Total 1 234 567,89 EUR TTC dont TVA 205 761,32 EUR",
    "+33 6 12 34 56 78",
    "+33 (0)6 12 34 56 78",
    "06.12.34.56.78",
    "0612345678",
    "550e8400-e29b-41d4-a716-446655440000",
    "123456789012",  # twelve digits
    "4111 1111 1111 1112",  # sixteen digits, failing Luhn
    grouped(VISA, "    "),  # four-character gaps end a run
    grouped(VISA, " x "),  # so do letters
    grouped(VISA, " : "),  # and colons
    "4111 1111\x1f1111 1111",  # a number is never assembled across two columns
    VISA[:8] + "\x1f" + VISA[8:],
]


@pytest.fixture(scope="module")
def db():
    with duckdb.connect() as con:
        yield con


def prefilter_misses(db, texts: list[str]) -> list[str]:
    """The texts DuckDB's regexp_matches with CARD_PREFILTER_RE2 lets through, in order."""
    rows = db.execute(
        "select t from unnest($texts) as u(t) where not regexp_matches(t, $re)",
        {"texts": texts, "re": CARD_PREFILTER_RE2},
    ).fetchall()
    missed = {t for (t,) in rows}
    return [t for t in texts if t in missed]


def assert_masked(text: str) -> None:
    masked = mask_cards(text)
    assert has_card(text), text
    assert CARD_MASK in masked, text
    left = "".join(str(unicodedata.decimal(c)) for c in masked if c.isdecimal())
    assert "1111" not in left and "0000" not in left, masked


@pytest.mark.parametrize("text", USUAL)
def test_a_card_written_the_usual_way_is_masked(text):
    assert_masked(text)


@pytest.mark.parametrize("text", URL_ENCODED)
def test_a_card_split_by_url_encoded_spaces_is_masked(text):
    assert_masked(text)


@pytest.mark.parametrize("text", ODD_SEPARATORS)
def test_a_card_split_by_any_short_separator_is_masked(text):
    assert_masked(text)


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_a_card_in_full_width_or_other_decimal_digits_is_masked(text):
    assert_masked(text)


@pytest.mark.parametrize("text", IN_LONGER_RUNS)
def test_a_card_inside_a_longer_grouped_run_is_masked(text):
    assert_masked(text)


@pytest.mark.parametrize(("text", "expected"), IN_TEXT.items())
def test_a_card_in_free_text_is_masked_and_the_rest_kept(text, expected):
    assert_masked(text)
    assert mask_cards(text) == expected


def test_only_the_card_of_a_longer_run_is_masked():
    assert mask_cards(grouped(VISA, " ") + " 123") == CARD_MASK + " 123"
    assert mask_cards("2 x " + grouped(VISA, ".")) == "2 x " + CARD_MASK


def test_every_card_of_a_run_is_masked():
    masked = mask_cards(grouped(VISA, " ") + " / " + grouped("5500000000000004", " "))
    assert masked == f"{CARD_MASK} / {CARD_MASK}"


def test_a_card_after_a_phone_number_is_masked_whole():
    # A phone number whose digits and the card's first group pass Luhn together: masking only
    # that first valid window would leave twelve digits of the card.
    last = next(d for d in "0123456789" if luhn_valid(f"061234567{d}4111"))
    text = f"06 12 34 56 7{last} {grouped(VISA, ' ')}"
    assert mask_cards(text) == CARD_MASK


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_numbers_are_not_cards(text):
    assert not has_card(text)
    assert mask_cards(text) is text


def test_timestamps_and_ports_are_not_joined_into_one_run():
    assert luhn_valid(digits_of(TIMESTAMP_WOULD_PASS))  # 14 digits if the colons joined them
    assert luhn_valid(digits_of(IP_AND_PORT_WOULD_PASS))  # 16 digits if the colon joined them
    assert not has_card(TIMESTAMP_WOULD_PASS) and not has_card(IP_AND_PORT_WOULD_PASS)
    assert not has_card(TIMESTAMP_WOULD_PASS.replace(" ", "T") + "Z")


def test_a_uuid_is_not_a_card_even_when_its_digit_groups_pass_luhn():
    tail = with_check_digit("123" + "44665544000")  # 15 digits across the last two groups
    uuid = f"550e8400-e29b-41d4-a{tail[:3]}-{tail[3:]}"
    assert has_card(f"a{tail[:3]}-{tail[3:]}")
    assert not has_card(uuid) and not has_card(f"event {uuid.upper()} ok")
    assert has_card(f"{uuid} {grouped(VISA, ' ')}")


def test_a_single_digit_string_counts_only_as_a_whole():
    too_long = VISA + "0000"  # 20 digits holding a valid 16
    assert not has_card(too_long)
    prefixed = "9" + VISA  # 17 digits, invalid as a whole
    assert not luhn_valid(prefixed) and not has_card(prefixed)
    assert not has_card(prefixed[:5] + " " + prefixed[5:9] + " " + prefixed[9:])


def test_a_number_is_never_assembled_across_columns():
    half = len(VISA) // 2
    for separator in (" ", "-", ""):
        assert not has_card(grouped(VISA[:half], separator) + "\x1f" + grouped(VISA[half:], " "))
    assert has_card("a\x1f" + grouped(VISA, " ") + "\x1fb")


def test_text_without_a_card_comes_back_as_the_same_object():
    # kalido_has_card compares mask_cards(txt) with txt: normalising alone must not count.
    texts = ["caf%C3%A9 +33 6 12 34 56 78", "ＡＢＣ １２３", "a+b=c", "100 %", "", "x" * 10_000]
    for text in texts:
        assert mask_cards(text) is text


def test_a_masked_text_is_url_decoded_and_nfkc_normalised():
    assert mask_cards("q=caf%C3%A9+" + grouped(VISA, "+")) == "q=café " + CARD_MASK
    assert mask_cards("ＣＢ " + grouped(VISA, " ").translate(FULL_WIDTH)) == "CB " + CARD_MASK


def test_none_is_no_card():
    assert mask_cards(None) is None and has_card(None) is False


def test_luhn():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_characters_that_nfkc_turns_into_several_digits_count_as_those_digits():
    circled = {n: chr(0x2469 + n - 10) for n in range(10, 21)}  # ⑩ to ⑳, two digits each
    body = "".join(circled[n] for n in range(12, 18))
    last = next(n for n in range(10, 20) if luhn_valid("".join(map(str, range(12, 18))) + str(n)))
    text = body + circled[last]  # seven characters, a 14-digit run
    assert has_card(text) and mask_cards(text) == CARD_MASK
    escaped = "".join(f"%{b:02X}" for b in text.encode())
    assert has_card(escaped)


def test_the_prefilter_matches_every_card_the_detector_finds(db):
    several = "⑫⑬⑭⑮⑯⑰⑱"
    texts = [*POSITIVES, several, "".join(f"%{b:02x}" for b in several.encode())]
    assert prefilter_misses(db, texts) == []


def test_the_prefilter_does_not_cross_the_column_separator(db):
    texts = ["4111 1111\x1f1111 1111", VISA[:8] + "\x1f" + VISA[8:], "41111\x1f11111111111"]
    assert prefilter_misses(db, texts) == texts


def test_the_prefilter_keeps_ordinary_rows_away_from_the_udf(db):
    rows = [
        "\x1f".join(
            [
                "e_0315536e0361caae",
                "2026-11-22T01:43:58Z",
                "https://www.kalido.fr/search?q=casque+audio+sans+fil&page=2",
                "84.157.95.149",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.0.0",
            ]
        ),
        "C0018827\x1fjean.dupont@example.fr\x1f+33 6 12 34 56 78\x1f12 rue de la Paix\x1f75002",
        "R000040\x1fC0019200\x1frectification\x1f2026-11-24T20:21:19Z",
        # ½ turns into "1⁄2" and a few such characters make a run: any of them goes to the UDF.
        "P000123\x1fCasque audio ½ prix\x1f1 299,99\x1f2026-11-24 10:15:06",
        TIMESTAMP_WOULD_PASS,
        IP_AND_PORT_WOULD_PASS,
        "du 24/11/2026 au 25/11/2026",
        "Total 1 234 567,89 EUR TTC dont TVA 205 761,32 EUR",
        "4111 1111\x1f1111 1111",
    ]
    assert prefilter_misses(db, rows) == rows[:3] + rows[4:]


def test_kalido_has_card_in_duckdb_agrees_with_has_card(tmp_path):
    texts = POSITIVES + EVERYDAY
    with connect(spill_dir=tmp_path / "spill") as con:
        flags = dict(
            con.execute(
                "select t, kalido_has_card(t) from unnest($texts) as u(t)", {"texts": texts}
            ).fetchall()
        )
        masked = con.execute("select kalido_mask_cards($t)", {"t": grouped(VISA, "+")}).fetchone()
    assert flags == {t: t in POSITIVES for t in texts}
    assert masked == (CARD_MASK,)


def test_the_listed_code_points_are_those_nfkc_turns_into_digits():
    one, several = [], []
    for cp in range(0x80, sys.maxunicode + 1):
        count = sum(c.isdecimal() for c in unicodedata.normalize("NFKC", chr(cp)))
        if count:
            (one if count == 1 else several).append(cp)

    def listed(ranges: str) -> list[int]:
        return [cp for a, b in cards._code_point_ranges(ranges) for cp in range(a, b + 1)]

    assert listed(cards._ONE_DIGIT_CODE_POINTS) == one
    assert listed(cards._SEVERAL_DIGITS_CODE_POINTS) == several


def test_rows_without_a_candidate_skip_decoding_normalising_and_the_run_regex(monkeypatch):
    def forbidden(*_args, **_kwargs):
        raise AssertionError("called on a row without a candidate")

    row = "e_0315536e\x1f2026-11-22T01:43:58Z\x1f84.157.95.149\x1fMozilla/5.0 (X11; Linux)"
    with monkeypatch.context() as patched:  # undone before pytest itself normalises its output
        patched.setattr(cards, "unquote_plus", forbidden)
        patched.setattr(cards.unicodedata, "normalize", forbidden)
        patched.setattr(cards, "_RUN", type("Forbidden", (), {"finditer": forbidden})())
        masked, found = mask_cards(row), has_card(row)
    assert masked is row and not found


def random_card(rng: random.Random) -> str:
    body = str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=rng.randint(11, 17)))
    return with_check_digit(body)


def disguised(rng: random.Random, number: str) -> str:
    """`number` cut into random groups joined by random separators, maybe in full-width digits."""
    cuts = sorted(rng.sample(range(1, len(number)), rng.randint(0, min(6, len(number) - 1))))
    groups = [number[a:b] for a, b in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    if rng.random() < 0.3:
        groups = [g.translate(FULL_WIDTH) for g in groups]
    return "".join(g + rng.choice(SEPARATORS) for g in groups[:-1]) + groups[-1]


FILLERS = [
    "Bonjour, ma carte est",
    "n° de carte :",
    "CB",
    "paiement refusé (",
    ") merci !",
    "réf. commande",
    "Привет",
    "カード番号",
    "\x1fautre colonne\x1f",
    "",
    " ",
    "—",
    "«",
    "»",
]


def test_random_disguised_cards_are_always_found_and_masked(db):
    rng = random.Random(20261124)
    texts = []
    for _ in range(500):
        number = random_card(rng)
        assert luhn_valid(number) and 13 <= len(number) <= 19
        text = rng.choice(FILLERS) + disguised(rng, number) + rng.choice(FILLERS)
        texts.append(text)
        masked = mask_cards(text)
        assert has_card(text), text
        assert CARD_MASK in masked, text
        # The fillers hold no digit, so any digit left would be part of the card.
        assert not any(c.isdigit() for c in masked), (text, masked)
    assert prefilter_misses(db, texts) == []


def test_fields_of_a_row_are_never_joined_into_a_card_number():
    # A quarantined CSV line or a row as JSON: a customer id beside a date must stay readable
    # (an erasure finds the person's quarantined rows by it), however Luhn falls for the joint.
    joined = [
        n for n in range(19200, 19400) if luhn_valid(f"00{n}20261124")
    ]  # ids whose digits and the date's would pass Luhn as one run
    assert joined
    for n in joined:
        for field_break in (",", '","', ";", "|", "\t", ":"):
            line = f"C00{n}{field_break}2026-11-24"
            assert not has_card(line), line
            assert mask_cards(line) is line
