"""The command line, run as a real process: results on stdout, exit codes that say what happened."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

FIXED = {
    "name": "fixed",
    "tiers": [{"name": "fixed", "backend": {"kind": "faulty"}, "isolation": "inline"}],
}


def docroute(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture
def fixed_policy(tmp_path: Path) -> Path:
    path = tmp_path / "fixed.yaml"
    path.write_text(yaml.safe_dump(FIXED))
    return path


def test_extract_prints_one_result_per_file_and_exit_1_when_some_failed(tmp_path: Path, fixed_policy: Path):
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), "white").save(good)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "note.jpg"
    text.write_text("not an image\n")
    out = docroute("extract", str(good), str(empty), str(tmp_path / "missing.png"), str(text), "-p", str(fixed_policy))
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["status"] for r in results] == ["ok", "failed", "failed", "failed"]
    assert results[0]["fields"]["merchant"]["value"] == "FAULTY MART"
    assert [r["error"]["error_class"] for r in results[1:]] == ["bad_input"] * 3
    assert "empty.jpg: file is empty" in results[1]["error"]["message"]
    assert "missing.png: file not found" in results[2]["error"]["message"]
    assert "content is text (despite the .jpg extension)" in results[3]["error"]["message"]
    assert out.returncode == 1
    assert "3 of 4 documents failed" in out.stderr


def test_extract_exits_0_when_all_answered_and_writes_the_json_log(tmp_path: Path, fixed_policy: Path):
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), "white").save(good)
    log = tmp_path / "events.jsonl"
    out = docroute("extract", str(good), "-p", str(fixed_policy), "--log-json", str(log), "-q")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert "request.received" in events and "request.done" in events


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_extract_to_a_full_disk_is_one_line_and_exit_74_not_a_traceback(tmp_path: Path, fixed_policy: Path):
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), "white").save(good)
    with open("/dev/full", "w") as full:
        out = subprocess.run(
            [sys.executable, "-m", "router", "extract", str(good), "-p", str(fixed_policy), "-q"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert out.returncode == 74
    assert out.stderr == "docroute: cannot write the results to stdout: No space left on device\n"


def test_extract_with_stdout_closed_is_one_line_and_exit_74(tmp_path: Path, fixed_policy: Path):
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), "white").save(good)
    out = subprocess.run(
        [sys.executable, "-m", "router", "extract", str(good), "-p", str(fixed_policy), "-q"],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(1),  # the shell's ">&-"
    )
    assert out.returncode == 74
    assert out.stderr == "docroute: cannot write the results to stdout: standard output is closed\n"


def test_invalid_policy_exits_2_with_every_problem(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("deadline_s: -1\ntiers: [{name: x, backend: {kind: nope}}]\n")
    out = docroute("extract", "whatever.png", "-p", str(bad))
    assert out.returncode == 2
    assert "deadline_s: Input should be greater than 0" in out.stderr
    assert "tiers[0].backend" in out.stderr


def test_policy_check_accepts_the_shipped_policies_and_rejects_a_bad_one(tmp_path: Path):
    assert docroute("policy", "check", "default", "cpu").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers: [{name: x, backend: {kind: ocr_rules}, retries: 2}]\n")
    out = docroute("policy", "check", "cpu", str(bad))
    assert out.returncode == 2
    assert "tiers[0].retries: Extra inputs are not permitted" in out.stderr


def test_policy_schema_is_json_schema():
    schema = json.loads(docroute("policy", "schema").stdout)
    assert schema["title"] == "docroute policy" and "tiers" in schema["properties"]


@pytest.mark.slow
def test_doctor_reports_the_machine_and_each_tier(tmp_path: Path):
    out = docroute("doctor", "--json")
    report = json.loads(out.stdout)
    assert report["torch"]["version"]
    assert isinstance(report["cuda"]["available"], bool)
    assert [t["tier"] for t in report["tiers"]] == ["einvoice", "internvl3", "llama-vision", "ocr-llm", "ocr-rules"]
    assert "bitsandbytes" in report


@pytest.mark.slow
def test_doctor_reads_well_at_80_columns():
    out = subprocess.run(
        [sys.executable, "-m", "router", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80"},
    )
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and all(len(line) <= 80 for line in lines)
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) <= 4 * 3  # a few lines per tier: the long reasons are not folded into a narrow column
    words = " ".join(out.stdout.split())
    assert "internvl3: weights for OpenGVLab/InternVL3-8B-hf are not in the Hugging Face cache" in words


def test_version():
    out = docroute("--version")
    assert out.stdout.startswith("docroute ")


@pytest.mark.parametrize(
    ("command", "option"),
    [("extract", "--log-json"), ("drill", "--log-json"), ("eval", "--log-json"), ("eval", "--out")],
)
def test_an_output_option_that_cannot_work_is_one_line_and_exit_2(tmp_path: Path, command: str, option: str):
    from typer.testing import CliRunner

    from router.cli import app

    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "labels.jsonl").write_text('{"id": "a", "image": "a.png", "total": "1.00"}\n')
    Image.new("RGB", (40, 30), "white").save(tmp_path / "set" / "a.png")
    taken = tmp_path / "file.txt"
    taken.write_text("x")
    bad = str(taken) if option == "--out" else str(tmp_path)  # eval's --out is a folder; a log is a file
    args = {
        "extract": ["extract", str(tmp_path / "set" / "a.png")],
        "drill": ["drill", "--requests", "1", "--warmup", "0", "--last-tier", "fixed"],
        "eval": ["eval", str(tmp_path / "set"), "-p", "cpu", "--progress", "none"],
    }[command]
    result = CliRunner().invoke(app, [*args, option, bad])
    assert result.exit_code == 2, result.output
    assert bad in result.output and result.output.strip().count("\n") == 0


@pytest.mark.parametrize("command", ["extract", "batch", "eval"])
def test_a_policy_log_path_that_cannot_work_is_one_line_and_exit_2(tmp_path: Path, command: str):
    from typer.testing import CliRunner

    from router.cli import app

    policy = tmp_path / "p.yaml"
    policy.write_text(yaml.safe_dump({**FIXED, "logging": {"json_path": str(tmp_path)}}))  # a folder
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "labels.jsonl").write_text('{"id": "a", "image": "a.png", "total": "1.00"}\n')
    Image.new("RGB", (40, 30), "white").save(tmp_path / "set" / "a.png")
    args = {
        "extract": ["extract", str(tmp_path / "set" / "a.png")],
        "batch": ["batch", str(tmp_path / "set" / "a.png"), "--out", str(tmp_path / "out.jsonl")],
        "eval": ["eval", str(tmp_path / "set"), "--out", str(tmp_path / "report"), "--progress", "none"],
    }[command]
    result = CliRunner().invoke(app, [*args, "-p", str(policy)])
    assert result.exit_code == 2, result.output
    assert "logging.json_path" in result.output and result.output.strip().count("\n") == 0


@pytest.mark.parametrize(
    "args",
    [
        ("extract", "x.png", "--log-json", "/proc/self/events.jsonl"),
        ("batch", "x.png", "--out", "/proc/self/out.jsonl"),
        ("batch", "x.png", "--out", "out.jsonl", "--summary-json", "/sys/kernel/summary.json"),
    ],
    ids=["extract-log", "batch-out", "batch-summary"],
)
def test_every_command_that_writes_refuses_a_file_no_one_can_write_before_work(args):
    """Permission bits said yes (root, /proc, /sys); a real open is the one check."""
    from tests.router.surfaces_kit import run_cli

    done = run_cli(*args, "--policy", "cpu")
    [line] = done.stderr.strip().splitlines()
    assert done.returncode == 2 and line.startswith(f"docroute: {args[-2]} {args[-1]}: ")
    assert "not writable" in line or "cannot be written" in line
