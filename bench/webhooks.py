"""Webhook delivery figures: events per second with one ``flask --app app worker``, and the
time from a credential change to its delivery (p50, p95).

A real server (gunicorn, 2 workers) on a fresh database, a receiver on loopback (the live
tests' threaded HTTP server, answering 200 at once), one endpoint listening to
``api_key.created``:

* throughput: N keys are created while no worker runs, then one worker starts; the rate is N
  over the time from the first delivery to the last (one endpoint: its deliveries go one at a
  time, in order);
* latency: with the worker running, keys are created one every 100 ms; each delivery's
  arrival minus its event's ``timestamp`` (stamped in the change's transaction).

    .venv/bin/python bench/webhooks.py --backend sqlite --events 500
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.live.receiver import Receiver
from tests.live.server import ROOT, LiveServer


def _create_keys(admin: Api, count: int, pause: float = 0.0) -> None:
    for i in range(count):
        admin.ok("POST", "/api/keys", 201, json={"name": f"bench-{i}", "scopes": ["people:read"]})
        if pause:
            time.sleep(pause)


def run(backend: str, events: int, latency_events: int) -> str:
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as work:
        server = LiveServer(
            backend,
            Path(work),
            extra_env={
                "LATCHKEY_WEBHOOK_ALLOW_PRIVATE": "1",
                "LATCHKEY_WEBHOOK_DELIVERY": "worker",
            },
        )
        server.prepare()
        server.start()
        worker: subprocess.Popen[bytes] | None = None
        try:
            admin = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
            admin.ok(
                "POST",
                "/api/webhooks",
                201,
                json={"url": receiver.url, "events": ["api_key.created"], "auth": {"type": "none"}},
            )
            _create_keys(admin, events)
            worker = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "worker"],
                cwd=ROOT,
                env=server.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            got = receiver.wait_for(lambda r: len(r) >= events, timeout=600)
            span = got[events - 1].at - got[0].at
            rate = (events - 1) / span if span > 0 else float("inf")

            before = len(receiver.received)
            _create_keys(admin, latency_events, pause=0.1)
            got = receiver.wait_for(lambda r: len(r) >= before + latency_events, timeout=120)
            delays = sorted(
                (r.at - datetime.fromisoformat(r.event["timestamp"]).timestamp()) * 1000
                for r in got[before:]
            )
            p50 = statistics.median(delays)
            p95 = delays[int(len(delays) * 0.95) - 1]
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(20)
            server.close()
            receiver.close()
    return (
        f"| {backend} | {rate:.0f} events/s | {p50:.0f} ms | {p95:.0f} ms |"
        f" ({events} queued; {latency_events} one every 100 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--latency-events", type=int, default=100)
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print("| database | one worker | change → delivery p50 | p95 |")
    print("| --- | ---: | ---: | ---: |")
    for backend in backends:
        print(run(backend, args.events, args.latency_events), flush=True)


if __name__ == "__main__":
    main()
