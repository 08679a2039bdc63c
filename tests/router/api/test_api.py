"""The Python API: a router from a policy, extraction from paths, bytes and images, warm-up."""

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from router import Router
from router.policy.model import policy_from_dict

FIXED_INLINE = {"name": "fixed", "backend": {"kind": "faulty"}, "isolation": "inline"}


def white_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "PNG")
    return buffer.getvalue()


def test_extract_from_path_bytes_and_image(tmp_path):
    path = tmp_path / "doc.png"
    path.write_bytes(white_png())
    with Router(policy_from_dict({"tiers": [FIXED_INLINE]})) as router:
        results = [
            router.extract(path),
            router.extract(white_png(), name="upload.png"),
            router.extract(Image.open(path)),
        ]
    assert [r.status for r in results] == ["ok"] * 3
    assert results[0].document.sha256 == results[1].document.sha256
    assert results[1].document.source == "upload.png"


def test_threads_share_one_router():
    policy = policy_from_dict({"tiers": [{**FIXED_INLINE, "workers": 4}]})
    with Router(policy) as router, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: router.extract(white_png()), range(20)))
    assert len({r.request_id for r in results}) == 20 and all(r.ok for r in results)


def test_warm_up_waits_for_a_starting_worker_so_the_best_tier_answers_the_first_document():
    policy = policy_from_dict(
        {
            "tiers": [
                {
                    "name": "model",
                    "backend": {
                        "kind": "faulty",
                        "startup_s": 0.3,
                        "fields": {"merchant": "MODEL", "date": "2024-01-02", "total": "1.00"},
                    },
                },
                FIXED_INLINE,
            ]
        }
    )
    with Router(policy) as router:
        assert router.warm_up(timeout_s=60) == {"model": "ready", "fixed": "ready"}
        result = router.extract(white_png())
    assert (result.status, result.tier) == ("ok", "model")


def test_without_warm_up_the_first_document_does_not_wait_for_a_starting_worker():
    policy = policy_from_dict(
        {"tiers": [{"name": "model", "backend": {"kind": "faulty", "startup_s": 0.3}}, FIXED_INLINE]}
    )
    with Router(policy) as router:
        result = router.extract(white_png())
    assert (result.status, result.tier) == ("degraded", "fixed")
    assert [(s.tier, s.reason) for s in result.skipped] == [("model", "starting")]


def test_closed_router_refuses_work():
    import pytest

    from router.failures.errors import RouterClosedError

    router = Router(policy_from_dict({"tiers": [FIXED_INLINE]}))
    router.close()
    with pytest.raises(RouterClosedError):
        router.extract(white_png())


def test_a_policy_name_given_to_the_constructor_says_to_use_from_policy():
    with pytest.raises(TypeError, match=r"Router.from_policy\('cpu'\)"):
        Router("cpu")  # type: ignore[arg-type]


def test_a_binary_file_object_is_read_and_a_wrong_kind_of_source_is_the_callers_type_error(tmp_path):
    path = tmp_path / "doc.png"
    path.write_bytes(white_png())
    with Router(policy_from_dict({"tiers": [FIXED_INLINE]})) as router:
        with path.open("rb") as stream:
            from_file = router.extract(stream)
        from_buffer = router.extract(io.BytesIO(white_png()), name="upload.png")
        assert (from_file.status, from_buffer.status) == ("ok", "ok")
        assert from_file.document.source == str(path) and from_file.document.sha256 == from_buffer.document.sha256
        with pytest.raises(TypeError, match="a path, bytes, a binary file object or a PIL image; got NoneType"):
            router.extract(None)
        with pytest.raises(TypeError, match="open it in binary mode"):
            router.extract(io.StringIO("not a document"))
        closed = path.open("rb")
        closed.close()
        refused = router.extract(closed)
        assert refused.error.error_class.value == "bad_input" and "read of closed file" in refused.error.message
        assert refused.document.source == str(path)


def test_a_reader_failure_nobody_foresaw_is_a_classified_result_not_an_exception(monkeypatch):
    """Whatever escapes the document reader (a decoder's new error) fails that request as
    ``unknown``: the caller's loop goes on."""
    import router.api.router

    def broken_reader(*_args, **_kwargs):
        raise RuntimeError("a decoder bug")

    monkeypatch.setattr(router.api.router, "load_document", broken_reader)
    with Router(policy_from_dict({"tiers": [FIXED_INLINE]})) as router_:
        result = router_.extract(white_png(), name="upload.png")
    assert (result.status, result.error.error_class.value) == ("failed", "unknown")
    assert result.document.source == "upload.png" and "a decoder bug" in result.error.message


def test_a_pipe_that_delivers_a_document_in_pieces_is_read_to_its_end():
    """A raw stream (a pipe, a socket) gives what has arrived on each read: the reader reads on
    until the end, not once."""
    import os
    import threading
    import time

    data = white_png()
    read_end, write_end = os.pipe()

    def send() -> None:
        os.write(write_end, data[:20])
        time.sleep(0.2)
        os.write(write_end, data[20:])
        os.close(write_end)

    threading.Thread(target=send).start()
    with Router(policy_from_dict({"tiers": [FIXED_INLINE]})) as router, os.fdopen(read_end, "rb", buffering=0) as pipe:
        result = router.extract(pipe, name="piped.png")
    assert result.status == "ok", result.error
