"""A value's confidence from its tokens: the least probable token overlapping the value wins."""

from backends.models.tokenconf import value_confidences

TEXT = '{"merchant": "ACME", "total": "12.50", "date": null, "count": 3}'


def tokens(*pieces: tuple[str, float | None]) -> list[tuple[int, float | None]]:
    ends, at = [], 0
    for piece, probability in pieces:
        at += len(piece)
        ends.append((at, probability))
    return ends


def test_the_minimum_over_the_value_tokens_quotes_and_keys_excluded():
    record = tokens(
        ('{"merchant": "', 0.1),  # the key and the opening quote: not the value
        ("AC", 0.9),
        ("ME", 0.8),
        ('", "total": "', 0.2),
        ("12", 0.99),
        (".5", 0.6),
        ("0", 0.95),
        ('", "date": null, "count": ', 0.5),
        ("3", 0.7),
        ("}", 0.5),
    )
    assert value_confidences(TEXT, record, ["merchant", "total", "date", "count", "address"]) == {
        "merchant": 0.8,
        "total": 0.6,
        "count": 0.7,
    }


def test_a_value_with_a_token_of_unknown_probability_gets_none():
    record = tokens(('{"merchant": "', 0.9), ("ACME", None), ('", "total": "12.50"...', 0.9))
    assert "merchant" not in value_confidences(TEXT, record, ["merchant"])
