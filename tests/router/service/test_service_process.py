"""``docroute serve`` as a real process: where it binds, and a graceful stop on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.router.service.test_service import metric
from tests.router.surfaces_kit import cli, env, images, policy_file, tier

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the service did not come up"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)


def test_sigterm_lets_the_request_in_flight_finish_then_closes_the_router(tmp_path):
    [doc] = images(tmp_path / "in", 1)
    policy = policy_file(tmp_path, tier("a", backend={"faults": {"slow": 1.0}, "slow_s": 1.5}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = cli("serve", "--policy", str(policy), "--port", str(port))
    process = subprocess.Popen(args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_up(base, process)
        with ThreadPoolExecutor(1) as pool:
            files = {"file": (doc.name, doc.read_bytes(), "image/png")}
            pending = pool.submit(httpx.post, f"{base}/v1/extract", files=files, timeout=30)
            while metric(httpx.get(f"{base}/metrics").text, "docroute_requests_in_flight") < 1:
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            response = pending.result()
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert process.returncode == -signal.SIGTERM  # uvicorn re-raises the signal once it has shut down
    assert f"listening on http://127.0.0.1:{port}" in stderr
    assert stderr.index("Waiting for application shutdown") < stderr.index('"router.closed"')


def test_sigterm_drops_slow_uploads_at_once_while_routed_requests_finish(tmp_path):
    [doc] = images(tmp_path / "in", 1)
    policy = policy_file(tmp_path, tier("a", backend={"faults": {"slow": 1.0}, "slow_s": 1.5}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = cli("serve", "--policy", str(policy), "--port", str(port), "--body-timeout", "600")
    process = subprocess.Popen(args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    slow = []
    try:
        wait_until_up(base, process)
        for _ in range(3):  # uploads that would take ten minutes to arrive
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(
                b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zzz\r\n"
                b"Content-Length: 100000\r\n\r\n--zzz\r\n"
            )
            slow.append(sock)
        with ThreadPoolExecutor(1) as pool:
            files = {"file": (doc.name, doc.read_bytes(), "image/png")}
            pending = pool.submit(httpx.post, f"{base}/v1/extract", files=files, timeout=30)
            while metric(httpx.get(f"{base}/metrics").text, "docroute_requests_in_flight") < 4:
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            response = pending.result()
            dropped = [sock.recv(4096) for sock in slow]
        _, stderr = process.communicate(timeout=20)  # not the 600 s body timeout, nor the grace period
    finally:
        for sock in slow:
            sock.close()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert dropped == [b""] * 3  # closed without an answer
    assert stderr.count('"service.client_disconnected"') == 3 and "dropped at shutdown" in stderr
    assert "Traceback" not in stderr and "CancelledError" not in stderr


def test_a_port_in_use_fails_at_once_before_any_tier_loads(tmp_path):
    policy = policy_file(tmp_path, tier("a", preload=True, backend={"startup_s": 60}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            cli("serve", "--policy", str(policy), "--port", str(port)),
            env=env(),
            capture_output=True,
            text=True,
            timeout=30,  # loading the tier first would take 60 s
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
