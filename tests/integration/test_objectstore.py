"""Object storage: the landing drop zone (KALIDO_LANDING_URL) and the exports mirror
(KALIDO_EXPORT_URL). fsspec's file:// stands in for s3:// here, through the same calls."""

from __future__ import annotations

import shutil

import pytest

from kalido.config import load_settings
from kalido.stores.objectstore import mirror_exports, pull_landing
from kalido.tools.generate import DEFAULT_END_DATE
from tests.conftest import kalido, query

D = DEFAULT_END_DATE


def files_under(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_the_drop_zone_is_moved_into_landing_up_to_the_logical_date(home, tmp_path, monkeypatch):
    drop = tmp_path / "drop"
    today = drop / "browsing" / f"dt={D}"
    today.mkdir(parents=True)
    (today / "new.jsonl").write_text('{"event_id": "e1"}\n')
    (today / "again.jsonl").write_text("pulled before, its delete failed\n")
    (today / "taken.jsonl").write_text("a second delivery under a taken name\n")
    later = drop / "orders" / "dt=2099-01-01"
    later.mkdir(parents=True)
    (later / "o.csv").write_text("order_id\n")
    (drop / "README.txt").write_text("not a landing path\n")
    landing = home / "landing" / "browsing" / f"dt={D}"
    landing.mkdir(parents=True)
    (landing / "again.jsonl").write_text("pulled before, its delete failed\n")
    (landing / "taken.jsonl").write_text("the first delivery\n")
    monkeypatch.setenv("KALIDO_LANDING_URL", drop.as_uri())

    counts = pull_landing(load_settings(), D)

    assert counts == {
        "files_pulled": 2,  # new.jsonl, and again.jsonl's second delete
        "pull_conflicts": 1,
        "pull_failures": 0,
        "pull_waiting": 2,
    }
    assert files_under(drop) == {
        f"browsing/dt={D}/taken.jsonl",
        "orders/dt=2099-01-01/o.csv",
        "README.txt",
    }
    assert (landing / "new.jsonl").read_text() == '{"event_id": "e1"}\n'
    assert (landing / "taken.jsonl").read_text() == "the first delivery\n"
    assert files_under(landing) == {"new.jsonl", "again.jsonl", "taken.jsonl"}  # no .part left


def test_a_nightly_run_reads_a_drop_zone_and_mirrors_its_exports(home, tmp_path):
    generated = tmp_path / "generated"
    kalido("generate", "--days", "2", "--users", "300", "--products", "80", "--out", str(generated))
    drop, bucket = tmp_path / "drop", tmp_path / "bucket"
    shutil.copytree(generated / "landing", drop)
    delivered = files_under(drop)
    env = {"KALIDO_LANDING_URL": drop.as_uri(), "KALIDO_EXPORT_URL": bucket.as_uri()}

    kalido("run", "--date", str(D), env=env)

    assert files_under(drop) == set()
    assert files_under(home / "landing") == delivered
    ingested = query(home / "restricted/raw.duckdb", "select count(*) from ingest_ledger")
    assert ingested == [(len(delivered),)]
    feeds = home / "exports/email_recommendations"
    assert (feeds / "LATEST").read_text().strip() == str(D)
    assert files_under(bucket / "email_recommendations") == files_under(feeds)
    for name in files_under(feeds):
        assert (bucket / "email_recommendations" / name).read_bytes() == (feeds / name).read_bytes()
    warehouse = (home / "warehouse/analytics.duckdb").read_bytes()
    assert (bucket / "warehouse/analytics.duckdb").read_bytes() == warehouse


def test_the_mirror_follows_the_feeds_purge_rewrote_and_removed(home, tmp_path, monkeypatch):
    feeds = home / "exports/email_recommendations"
    bucket = tmp_path / "bucket"
    for day, rows in (("2026-10-01", "C1,1\n"), ("2026-11-23", "C1,1\nC2,1\n")):
        (feeds / f"dt={day}").mkdir(parents=True)
        (feeds / f"dt={day}/recommendations.csv").write_text(rows)
        (feeds / f"dt={day}/manifest.json").write_text(f'{{"rows": {rows.count(chr(10))}}}')
    (feeds / "LATEST").write_text("2026-11-23\n")
    monkeypatch.setenv("KALIDO_EXPORT_URL", bucket.as_uri())
    assert mirror_exports(load_settings(), warehouse=False)["feeds_uploaded"] == 2

    # What purge does: an expired feed goes, an erased customer's rows leave a kept one.
    shutil.rmtree(feeds / "dt=2026-10-01")
    (feeds / "dt=2026-11-23/recommendations.csv").write_text("C2,1\n")
    (feeds / "dt=2026-11-23/manifest.json").write_text('{"rows": 1}')
    counts = mirror_exports(load_settings(), warehouse=False)

    assert counts == {"feeds_uploaded": 1, "feeds_removed": 1, "warehouse_uploaded": 0}
    mirrored = bucket / "email_recommendations"
    assert files_under(mirrored) == {
        "LATEST",
        "dt=2026-11-23/recommendations.csv",
        "dt=2026-11-23/manifest.json",
    }
    assert (mirrored / "dt=2026-11-23/recommendations.csv").read_text() == "C2,1\n"
    assert mirror_exports(load_settings(), warehouse=False)["feeds_uploaded"] == 0


@pytest.mark.parametrize("variable", ["KALIDO_LANDING_URL", "KALIDO_EXPORT_URL"])
def test_a_store_fsspec_cannot_open_stops_the_run_before_anything_is_written(home, variable):
    env = {variable: "nosuchstore://secret@bucket/x"}
    result = kalido("run", "--date", str(D), env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and variable in result.stderr
    assert "secret" not in result.stderr + result.stdout
    assert not any(home.iterdir())
