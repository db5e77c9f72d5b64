"""`kalido evaluate`: the harness's work folder belongs to one evaluation at a time."""

from __future__ import annotations

from kalido.evaluation import locked
from tests.conftest import kalido


def test_a_second_evaluation_of_the_same_home_stops_with_a_clear_error(tmp_path):
    (tmp_path / "landing").mkdir()
    work = tmp_path / "evaluation" / ".work"
    work.mkdir(parents=True)
    (work / "in-use").write_text("the running evaluation's store", encoding="utf-8")
    with locked(tmp_path / "evaluation"):
        result = kalido(
            "evaluate", "--home", str(tmp_path), "--split-date", "2026-11-18", check=False
        )
    assert result.returncode == 2
    assert "another evaluation" in result.stderr and ".lock" in result.stderr
    assert (work / "in-use").exists()  # the running evaluation's stores were left alone
    with locked(tmp_path / "evaluation"):  # released with its holder
        pass
