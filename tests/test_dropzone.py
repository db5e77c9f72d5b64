"""Landing from object storage (KALIDO_LANDING_URL): fsspec's file:// stands in for s3:// here,
through the same calls (find, get_file, rm_file)."""

from __future__ import annotations

import shutil

from kalido.config import load_settings
from kalido.generate import DEFAULT_END_DATE
from kalido.pipelines.dropzone import pull
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

    counts = pull(load_settings(), D)

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


def test_a_nightly_run_ingests_from_the_drop_zone(home, tmp_path):
    generated = tmp_path / "generated"
    kalido("generate", "--days", "2", "--users", "300", "--products", "80", "--out", str(generated))
    drop = tmp_path / "drop"
    shutil.copytree(generated / "landing", drop)
    delivered = files_under(drop)

    kalido("run", "--date", str(D), env={"KALIDO_LANDING_URL": drop.as_uri()})

    assert files_under(drop) == set()
    assert files_under(home / "landing") == delivered
    ingested = query(home / "restricted/raw.duckdb", "select count(*) from ingest_ledger")
    assert ingested == [(len(delivered),)]
    assert (home / "exports/email_recommendations/LATEST").read_text().strip() == str(D)


def test_a_drop_zone_fsspec_cannot_open_stops_the_run_before_anything_is_written(home):
    result = kalido(
        "run",
        "--date",
        str(D),
        env={"KALIDO_LANDING_URL": "nosuchstore://secret@bucket/x"},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "KALIDO_LANDING_URL" in result.stderr
    assert "secret" not in result.stderr + result.stdout
    assert not any(home.iterdir())
