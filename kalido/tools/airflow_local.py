"""`make airflow-local`: the nightly DAG under Airflow's LocalExecutor, shard tasks in parallel.

`airflow dags test` alone runs tasks one by one in its own process. With `--use-executor` it
hands them to the configured executor instead: here the LocalExecutor (parallel worker
processes, fine with the SQLite metadata DB for one run), whose task processes talk to an
Airflow API server started for the occasion. Prints each task instance's start and end and
whether the shard tasks of one stage overlapped.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
PER_SHARD = ("gate", "build_features", "recommend")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _json_lines(text: str) -> list[dict]:
    """The JSON list an airflow CLI command printed (log lines may surround it)."""
    for line in text.splitlines():
        if line.startswith("[{") or line.strip() == "[]":
            return json.loads(line)
    raise SystemExit("no JSON in the airflow command's output")


def _wait_healthy(url: str, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("airflow api-server exited; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit("airflow api-server did not come up")


def _overlaps(rows: list[dict], task_id: str) -> bool:
    spans = sorted(
        (r["start_date"], r["end_date"]) for r in rows if r["task_id"] == task_id and r["end_date"]
    )
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--date", required=True)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args(argv)
    airflow = str(BIN / "airflow")
    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }
    log_dir = Path(env.get("AIRFLOW_HOME", ".airflow"))
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "api-server.log", "w") as server_log:
        server = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/api/v2/monitor/health", server)
        conf = json.dumps({"shards": args.shards})
        with open(log_dir / "dags-test.log", "w") as test_log:
            result = subprocess.run(
                [airflow, "dags", "test", "kalido_nightly", args.date, "-c", conf]
                + ["--use-executor"],
                env=env,
                stdout=test_log,
                stderr=subprocess.STDOUT,
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
    listed = subprocess.run(
        [airflow, "dags", "list-runs", "kalido_nightly", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    run = max(_json_lines(listed.stdout), key=lambda r: r["run_after"])
    states = subprocess.run(
        [airflow, "tasks", "states-for-dag-run", "kalido_nightly", run["run_id"], "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = sorted(_json_lines(states.stdout), key=lambda r: (r["start_date"] or "", r["task_id"]))
    print(f"run {run['run_id']}: {run['state']} (LocalExecutor, {args.shards} shards)")
    for row in rows:
        index = f"[{row['map_index']}]" if str(row["map_index"]) not in ("", "-1") else ""
        print(
            f"  {row['task_id'] + index:<20} {row['state']:<8} "
            f"{row['start_date']}  ->  {row['end_date']}"
        )
    for task_id in PER_SHARD:
        print(f"  {task_id} shard tasks overlapped in time: {_overlaps(rows, task_id)}")
    print(f"logs: {log_dir / 'dags-test.log'}, {log_dir / 'api-server.log'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
