"""The email platform's feed contract: recommendations.csv with exactly the contract's columns,
recipients.csv giving each recipient's pseudonym, a manifest that describes its files (names,
bytes, types, encoding, schema version, a revision raised by every rewrite), removals.csv naming
by recipient pseudonym and reason class who may no longer be mailed, rewrites swapped in whole
(feeds written before recipients.csv too), and a bucket mirror that carries all of it. One
generated zone run for two days: between them, four recipients of the first feed withdraw, are
erased, object, or close their account."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from kalido.config import load_settings
from kalido.stores import objectstore
from kalido.stores.email_feed import (
    FEED_COLUMNS,
    REASON_CLASSES,
    RECIPIENT_COLUMNS,
    REMOVAL_COLUMNS,
    SCHEMA_VERSION,
    FeedNotReady,
    manifest_for,
    verify_feed,
    verify_latest,
    write_manifest,
)
from kalido.stores.objectstore import mirror_exports
from kalido.stores.rewrite import Needles, rewrite_feed_dir
from tests.conftest import KEY, kalido, query

BEFORE, DAY = "2026-11-23", "2026-11-24"
CONTRACT_COLUMNS = ["customer_id", "rank", "product_id", "product_title", "product_url", "score"]
CUSTOMER_ID = re.compile(r"C\d{7}")


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:  # the CRM's files have a BOM
        return list(csv.DictReader(handle))


def feed(home: Path, day: str) -> Path:
    return home / f"exports/email_recommendations/dt={day}"


def recipient_pids(directory: Path) -> dict[str, str]:
    """customer_id -> recipient_pid, from the feed's recipients.csv."""
    return {r["customer_id"]: r["recipient_pid"] for r in read_csv(directory / "recipients.csv")}


def write_csv(path: Path, header, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _customer_row(landing: Path, customer_id: str) -> dict:
    """The customer's latest row in the generated CRM exports."""
    rows = [
        row
        for path in sorted((landing / "customers").glob("dt=*/*.csv"))
        for row in read_csv(path)
        if row["customer_id"] == customer_id
    ]
    return max(rows, key=lambda r: r["updated_at"])


@pytest.fixture(scope="module")
def zone(tmp_path_factory, generated_day_before) -> dict:
    # The generated zone after its night BEFORE, shared with test_warehouse_docs.
    assert BEFORE == "2026-11-23"
    home = tmp_path_factory.mktemp("feed_contract") / "home"
    shutil.copytree(generated_day_before, home, symlinks=True)
    env = {"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": KEY}
    first_removals = (feed(home, BEFORE) / "removals.csv").read_text()
    first_customers = {
        r["customer_id"] for r in read_csv(feed(home, BEFORE) / "recommendations.csv")
    }
    pids = recipient_pids(feed(home, BEFORE))
    withdrawn, erased, objecting, closing = sorted(pids)[:4]
    landing = home / "landing"
    at = f"{DAY}T09:00:00Z"
    consents = landing / f"consents/dt={DAY}/late_choices.jsonl"
    consents.write_text(
        json.dumps(
            {
                "subject_type": "customer",
                "subject_id": withdrawn,
                "purpose": "email_marketing",
                "status": "withdrawn",
                "recorded_at": at,
                "source": "email",
            }
        )
        + "\n"
    )
    requests = landing / f"requests/dt={DAY}/late_requests.jsonl"
    requests.write_text(
        "".join(
            json.dumps(
                {
                    "request_id": f"RFEED{i}",
                    "customer_id": customer,
                    "type": kind,
                    "purpose": purpose,
                    "received_at": at,
                }
            )
            + "\n"
            for i, (customer, kind, purpose) in enumerate(
                [(erased, "erasure", None), (objecting, "objection", "email_marketing")]
            )
        )
    )
    closed = {**_customer_row(landing, closing), "account_status": "closed", "updated_at": at}
    (landing / f"customers/dt={DAY}").mkdir(parents=True, exist_ok=True)
    with open(landing / f"customers/dt={DAY}/closed.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(closed))
        writer.writeheader()
        writer.writerow(closed)
    kalido("run", "--date", DAY, env=env)
    return {
        "home": home,
        "first_recipients": pids,
        "first_customers": first_customers,
        "first_removals": first_removals,
        "left": {
            withdrawn: "consent_withdrawn",
            erased: "erased",
            objecting: "objected",
            closing: "other",
        },
    }


def test_the_manifest_describes_each_file_of_the_feed(zone):
    directory = feed(zone["home"], DAY)
    manifest = json.loads((directory / "manifest.json").read_text())
    rows = read_csv(directory / "recommendations.csv")
    assert manifest["schema_version"] == SCHEMA_VERSION == 3
    assert manifest["logical_date"] == DAY and manifest["run_id"].startswith(f"cli__{DAY}")
    assert {"generated_at", "rows", "recipients", "sha256"} <= set(manifest)
    assert manifest["revision"] == 1
    assert (manifest["file"], manifest["encoding"], manifest["format"]) == (
        "recommendations.csv",
        "utf-8",
        "csv",
    )
    assert manifest["bytes"] == (directory / "recommendations.csv").stat().st_size
    assert manifest["columns"] == list(rows[0]) == list(FEED_COLUMNS) == CONTRACT_COLUMNS
    assert manifest["column_types"] == FEED_COLUMNS
    assert manifest["rows"] == len(rows)
    assert manifest["recipients"] == len({r["customer_id"] for r in rows})
    removals = manifest["removals"]
    assert removals["file"] == "removals.csv" and removals["column_types"] == REMOVAL_COLUMNS
    assert removals["bytes"] == (directory / "removals.csv").stat().st_size
    assert removals["rows"] == len(read_csv(directory / "removals.csv"))
    listed = manifest["recipient_pids"]
    assert (listed["file"], listed["encoding"], listed["format"]) == (
        "recipients.csv",
        "utf-8",
        "csv",
    )
    assert listed["columns"] == ["customer_id", "recipient_pid"]
    assert listed["column_types"] == RECIPIENT_COLUMNS
    assert listed["bytes"] == (directory / "recipients.csv").stat().st_size
    assert listed["rows"] == len(read_csv(directory / "recipients.csv")) == manifest["recipients"]
    assert verify_feed(directory)["revision"] == 1
    assert verify_latest(directory.parent)["logical_date"] == DAY


def test_a_first_feed_has_removals_with_a_header_only(zone):
    assert zone["first_removals"] == "recipient_pid,reason,last_feed_date\n"


def test_the_feed_csv_has_exactly_the_contract_header(zone):
    for day in (BEFORE, DAY):
        with open(feed(zone["home"], day) / "recommendations.csv", "rb") as handle:
            assert (
                handle.readline()
                == b"customer_id,rank,product_id,product_title,product_url,score\n"
            )


def test_recipients_csv_gives_each_recipient_of_the_feed_its_pseudonym_once(zone):
    home = zone["home"]
    directory = feed(home, DAY)
    assert (directory / "recipients.csv").read_bytes().startswith(b"customer_id,recipient_pid\n")
    rows = read_csv(directory / "recipients.csv")
    customers = [row["customer_id"] for row in rows]
    assert customers == sorted(customers) and len(set(customers)) == len(customers)
    feed_customers = {r["customer_id"] for r in read_csv(directory / "recommendations.csv")}
    assert set(customers) == feed_customers and feed_customers
    pids = [row["recipient_pid"] for row in rows]
    assert len(set(pids)) == len(pids) and all(pid.startswith("rcp_") for pid in pids)
    user_pids = {
        r[0] for r in query(home / "warehouse/analytics.duckdb", "select user_pid from people")
    }
    assert not set(pids) & user_pids
    assert not {pid.removeprefix("rcp_") for pid in pids} & user_pids
    # The same customer keeps the same pseudonym from one feed to the next.
    first = zone["first_recipients"]
    assert all(first[c] == pid for c, pid in zip(customers, pids, strict=True) if c in first)
    # The first feed, as published (before the purge rewrote it): the same customers.
    assert set(first) == zone["first_customers"]


def test_removals_name_the_recipients_of_the_previous_feed_by_pseudonym_and_reason(zone):
    home = zone["home"]
    removals = read_csv(feed(home, DAY) / "removals.csv")
    by_pid = {row["recipient_pid"]: row for row in removals}
    assert len(by_pid) == len(removals)
    for customer, reason in zone["left"].items():
        row = by_pid[zone["first_recipients"][customer]]
        assert (row["reason"], row["last_feed_date"]) == (reason, BEFORE), customer
    assert {row["reason"] for row in removals} <= set(REASON_CLASSES)
    # Only people the platform was given the day before, and none it is given today.
    today = set(recipient_pids(feed(home, DAY)).values())
    assert set(by_pid) <= set(zone["first_recipients"].values())
    assert not set(by_pid) & today
    assert not set(zone["left"]) & {
        r["customer_id"] for r in read_csv(feed(home, DAY) / "recommendations.csv")
    }


def test_removals_hold_no_identifier_and_no_warehouse_pseudonym(zone):
    home = zone["home"]
    text = (feed(home, DAY) / "removals.csv").read_text()
    assert not CUSTOMER_ID.search(text)
    recipient_pids = {row["recipient_pid"] for row in read_csv(feed(home, DAY) / "removals.csv")}
    assert all(pid.startswith("rcp_") for pid in recipient_pids)
    user_pids = {
        r[0] for r in query(home / "warehouse/analytics.duckdb", "select user_pid from people")
    }
    assert not recipient_pids & user_pids
    assert not {pid.removeprefix("rcp_") for pid in recipient_pids} & user_pids


def test_a_purge_rewrites_the_previous_feed_as_a_new_revision_with_its_removals(zone):
    directory = feed(zone["home"], BEFORE)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["revision"] == 2 and "revised_at" in manifest
    kept = {row["customer_id"] for row in read_csv(directory / "recommendations.csv")}
    # Everyone whose choice or request reached the purge left the old feed (closing an account
    # is not one of them: the gate stops their mail, the delivered feed keeps them).
    gone = {c for c, reason in zone["left"].items() if reason != "other"}
    assert not kept & gone
    assert kept == set(zone["first_recipients"]) - gone
    # recipients.csv lost the same people, and the others kept their pseudonyms.
    assert recipient_pids(directory) == {
        c: pid for c, pid in zone["first_recipients"].items() if c in kept
    }
    assert not any(c in (directory / "recipients.csv").read_text() for c in gone)
    assert manifest["recipient_pids"]["rows"] == manifest["recipients"] == len(kept)
    removals = {row["recipient_pid"]: row for row in read_csv(directory / "removals.csv")}
    for customer in gone:
        row = removals[zone["first_recipients"][customer]]
        assert (row["reason"], row["last_feed_date"]) == (zone["left"][customer], BEFORE)
    assert verify_feed(directory)["rows"] == manifest["rows"]


def test_an_erasure_rewrite_swaps_the_feed_directory_whole(tmp_path):
    directory = tmp_path / "dt=2026-11-24"
    directory.mkdir()
    rows = [
        ("C1", 1, "P1", "t", "u", 0.5),
        ("C1", 2, "P2", 't, "quoted"', "u", 0.25),
        ("C2", 1, "P1", "t", "u", 0.5),
    ]
    write_csv(directory / "recommendations.csv", FEED_COLUMNS, rows)
    write_csv(
        directory / "recipients.csv", RECIPIENT_COLUMNS, [("C1", "rcp_one"), ("C2", "rcp_two")]
    )
    (directory / "removals.csv").write_text(
        "recipient_pid,reason,last_feed_date\nrcp_old,inactive,2026-11-23\n"
    )
    fields = {"logical_date": "2026-11-24", "generated_at": "x", "run_id": "r", "rows": 3}
    write_manifest(directory, manifest_for(directory, {**fields, "recipients": 2}, 1, 1))
    assert json.loads((directory / "manifest.json").read_text())["schema_version"] == 3
    inode = directory.stat().st_ino
    with open(directory / "manifest.json", encoding="utf-8") as old_manifest:  # a reader
        removed = rewrite_feed_dir(
            directory,
            Needles({"customer": frozenset({"c1"})}),
            tmp_path / "spill",
            {"c1": "erased"},
        )
        assert json.loads(old_manifest.read())["revision"] == 1  # the old one stays readable

    assert removed == 2
    assert directory.stat().st_ino != inode  # a new directory, renamed in whole
    assert (directory / "recommendations.csv").read_text() == (
        "customer_id,rank,product_id,product_title,product_url,score\nC2,1,P1,t,u,0.5\n"
    )
    assert (directory / "recipients.csv").read_text() == "customer_id,recipient_pid\nC2,rcp_two\n"
    assert read_csv(directory / "removals.csv") == [
        {"recipient_pid": "rcp_old", "reason": "inactive", "last_feed_date": "2026-11-23"},
        {"recipient_pid": "rcp_one", "reason": "erased", "last_feed_date": "2026-11-24"},
    ]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["schema_version"] == 3 and manifest["columns"] == CONTRACT_COLUMNS
    assert manifest["recipient_pids"]["rows"] == 1
    summary = verify_feed(directory)
    assert (summary["revision"], summary["rows"], summary["recipients"], summary["removals"]) == (
        2,
        1,
        1,
        2,
    )
    assert summary["recipient_pids"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no draft left


def test_a_feed_written_before_recipients_csv_is_still_rewritten(tmp_path):
    """Schema 2: recipient_pid as the CSV's 7th column, no recipients.csv. The rewrite keeps that
    layout and names the removed by the pseudonym in the CSV."""
    directory = tmp_path / "dt=2026-11-20"
    directory.mkdir()
    header = [*CONTRACT_COLUMNS, "recipient_pid"]
    rows = [
        ("C1", 1, "P1", "t", "u", 0.5, "rcp_one"),
        ("C2", 1, "P1", "t", "u", 0.5, "rcp_two"),
        ("C2", 2, "P2", "t", "u", 0.25, "rcp_two"),
    ]
    write_csv(directory / "recommendations.csv", header, rows)
    (directory / "removals.csv").write_text("recipient_pid,reason,last_feed_date\n")
    fields = {"logical_date": "2026-11-20", "generated_at": "x", "run_id": "r", "rows": 3}
    write_manifest(directory, manifest_for(directory, {**fields, "recipients": 2}, 1, 0, header))
    assert json.loads((directory / "manifest.json").read_text())["schema_version"] == 2

    removed = rewrite_feed_dir(
        directory, Needles({"customer": frozenset({"c2"})}), tmp_path / "spill", {"c2": "objected"}
    )

    assert removed == 2
    assert sorted(p.name for p in directory.iterdir()) == [
        "manifest.json",
        "recommendations.csv",
        "removals.csv",
    ]
    assert read_csv(directory / "recommendations.csv") == [
        dict(zip(header, ["C1", "1", "P1", "t", "u", "0.5", "rcp_one"], strict=True))
    ]
    assert read_csv(directory / "removals.csv") == [
        {"recipient_pid": "rcp_two", "reason": "objected", "last_feed_date": "2026-11-20"}
    ]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert (manifest["schema_version"], manifest["revision"], manifest["columns"]) == (2, 2, header)
    assert "recipient_pids" not in manifest
    assert (verify_feed(directory)["rows"], verify_feed(directory)["removals"]) == (1, 1)


def test_a_rewrite_removes_a_person_listed_in_recipients_csv_only(tmp_path):
    """Should recipients.csv name someone the CSV does not, an erasure still takes them out."""
    directory = tmp_path / "dt=2026-11-24"
    directory.mkdir()
    write_csv(directory / "recommendations.csv", FEED_COLUMNS, [("C2", 1, "P1", "t", "u", 0.5)])
    write_csv(
        directory / "recipients.csv", RECIPIENT_COLUMNS, [("C1", "rcp_one"), ("C2", "rcp_two")]
    )
    (directory / "removals.csv").write_text("recipient_pid,reason,last_feed_date\n")
    fields = {"logical_date": "2026-11-24", "generated_at": "x", "run_id": "r", "rows": 1}
    write_manifest(directory, manifest_for(directory, {**fields, "recipients": 1}, 1, 0, None, 2))
    assert rewrite_feed_dir(directory, Needles({"customer": frozenset({"c1"})}), tmp_path) == 0
    assert recipient_pids(directory) == {"C2": "rcp_two"}
    assert [r["recipient_pid"] for r in read_csv(directory / "removals.csv")] == ["rcp_one"]
    assert verify_feed(directory)["revision"] == 2


def test_a_feed_that_disagrees_with_its_manifest_is_not_used(zone, tmp_path):
    directory = tmp_path / "dt=2026-11-24"
    directory.mkdir()
    for name in ("recommendations.csv", "recipients.csv", "removals.csv", "manifest.json"):
        (directory / name).write_bytes((feed(zone["home"], DAY) / name).read_bytes())
    verify_feed(directory)
    with open(directory / "recipients.csv", "a", encoding="utf-8") as handle:
        handle.write("C9999999,rcp_x\n")
    with pytest.raises(FeedNotReady, match="recipients.csv is not the size of its manifest"):
        verify_feed(directory)
    (directory / "recipients.csv").unlink()
    with pytest.raises(FeedNotReady, match="recipients.csv is missing"):
        verify_feed(directory)
    with open(directory / "recommendations.csv", "a", encoding="utf-8") as handle:
        handle.write("C9999999,1,P1,t,u,0.1\n")
    with pytest.raises(FeedNotReady, match="not the size of its manifest"):
        verify_feed(directory)
    (directory / "manifest.json").unlink()
    with pytest.raises(FeedNotReady, match="not complete"):
        verify_feed(directory)


def test_the_bucket_mirror_carries_recipients_removals_and_the_manifest(
    zone, tmp_path, monkeypatch
):
    bucket = tmp_path / "bucket"
    monkeypatch.setenv("KALIDO_HOME", str(zone["home"]))
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("KALIDO_EXPORT_URL", bucket.as_uri())
    uploaded = []
    upload = objectstore._upload
    monkeypatch.setattr(
        objectstore,
        "_upload",
        lambda fs, local, remote: (uploaded.append(remote), upload(fs, local, remote)),
    )
    assert mirror_exports(load_settings(), warehouse=False)["feeds_uploaded"] == 2
    # Each feed's files before its manifest.
    for day in (BEFORE, DAY):
        names = [r.rsplit("/", 1)[1] for r in uploaded if f"/dt={day}/" in r]
        assert names[-1] == "manifest.json"
        assert sorted(names[:-1]) == ["recipients.csv", "recommendations.csv", "removals.csv"]
    mirrored = bucket / "email_recommendations"
    for day in (BEFORE, DAY):
        assert sorted(p.name for p in (mirrored / f"dt={day}").iterdir()) == [
            "manifest.json",
            "recipients.csv",
            "recommendations.csv",
            "removals.csv",
        ]
        for name in ("recipients.csv", "recommendations.csv", "removals.csv"):
            local = feed(zone["home"], day) / name
            assert (mirrored / f"dt={day}" / name).read_bytes() == local.read_bytes()
    assert verify_latest(mirrored)["logical_date"] == DAY
    assert verify_feed(mirrored / f"dt={BEFORE}")["revision"] == 2


def test_the_warehouse_never_holds_the_feed_pseudonym(zone):
    recipient_pids = set(zone["first_recipients"].values())
    with duckdb.connect(str(zone["home"] / "warehouse/analytics.duckdb"), read_only=True) as con:
        text_columns = con.execute(
            "select table_name, column_name from duckdb_columns()"
            " where not internal and data_type = 'VARCHAR' and database_name = current_database()"
        ).fetchall()
        for table, column in text_columns:
            values = {
                r[0] for r in con.execute(f'select distinct "{column}" from "{table}"').fetchall()
            }
            assert not values & recipient_pids, f"{table}.{column}"
    assert os.environ.get("KALIDO_EXPORT_URL") is None
