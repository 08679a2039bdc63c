"""Train the OCR tier's field scorers and write their report: `python scripts/train_fields.py SET... [options]`.

Each SET is a labelled folder in the `docroute eval` format (labels.jsonl + files). Every document is
read as the cpu policy's OCR + rules tier reads it (its text layer, else RapidOCR), once: the page is
cached by the file's sha256 under --cache. Then, per field, grouped k-fold cross-validation (groups:
the set and the labelled merchant) gives every document an out-of-fold pick; the calibration is
cross-fitted (each fold's picks calibrated by a map fitted on the other folds' picks), and the report
compares the scorer with today's rules on the same folds and the same text. Finally one model per
field is trained on everything, its calibration fitted on all out-of-fold picks, and both written to
--model-dir with the data's hashes. E-invoices are left out: their fields come from the XML.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from backends.fields.calibration import Calibration, expected_calibration_error  # noqa: E402
from backends.fields.layout import PageTable  # noqa: E402
from backends.fields.training import build_rows, cross_validate, fit_field, fit_verifier, grouped_folds  # noqa: E402
from backends.ocr.result import OcrLine  # noqa: E402

FIELDS = ("merchant", "date", "total")
LABEL_KEYS = {"merchant": "company", "date": "date", "total": "total"}


def main() -> None:
    args = _arguments()
    docs = list(_documents(args.sets, Path(args.cache), read=not args.cached_only))
    print(f"{len(docs)} documents", file=sys.stderr)
    tables = [d["table"] for d in docs]
    groups = [d["group"] for d in docs]
    folds = grouped_folds(groups, args.folds)
    report: dict[str, Any] = {"documents": len(docs), "folds": args.folds, "seed": args.seed, "fields": {}}
    rules = _rules_answers(docs)
    models: dict[str, Any] = {}
    for name in FIELDS:
        labels = [d["labels"].get(name) for d in docs]
        rows = build_rows(name, tables, labels, lambda value, label, n=name: _match(n, label, value))
        picks, oof = cross_validate(rows, folds, seed=args.seed)
        verifier_X, verifier_y, verified = _verify(name, docs, rows, oof, folds, rules, args.seed)
        pick_confidence = _cross_fitted([p.score for p in picks], [p.right for p in picks], folds)
        rules_confidence = _cross_fitted(list(verified), list(verifier_y.astype(bool)), folds)
        report["fields"][name] = _field_report(name, docs, picks, pick_confidence, rules, rules_confidence)
        ranker = fit_field(rows, seed=args.seed)
        verifier = fit_verifier(verifier_X, verifier_y, seed=args.seed)
        calibration = Calibration.fit(list(verified), list(verifier_y.astype(bool)))
        models[name] = (ranker, verifier, calibration)
        print(name, json.dumps(report["fields"][name]["all"]), file=sys.stderr)
    if args.model_dir:
        _write_models(Path(args.model_dir), models, docs, args)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1) + "\n")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sets", nargs="+", help="labelled folders (labels.jsonl + files)")
    parser.add_argument("--cache", default=str(Path.home() / ".cache/docroute/pages"), help="read pages, by sha256")
    parser.add_argument("--cached-only", action="store_true", help="skip documents not in the cache")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", help="write the models and calibrations here")
    parser.add_argument("--report", help="write the cross-validation report (JSON) here")
    return parser.parse_args()


def _documents(sets: list[str], cache: Path, *, read: bool):
    for folder in map(Path, sets):
        for line in (folder / "labels.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record.get("kind") == "einvoice-pdf":
                continue
            path = folder / record["image"]
            sha = record.get("sha256") or hashlib.sha256(path.read_bytes()).hexdigest()
            pages = _cached_pages(cache, sha) or (_read_pages(path, cache, sha) if read else None)
            if not pages:
                continue
            lines = [OcrLine(*line) for page in pages for line in page.get("lines", [])]
            text_layer = all(page.get("source") == "text_layer" for page in pages)
            labels = {f: record.get(k) for f, k in LABEL_KEYS.items() if record.get(k)}
            yield {
                "id": record["id"],
                "set": folder.name,
                "kind": record.get("kind", folder.name),
                "sha256": sha,
                "labels": labels,
                "lines": lines,
                "table": PageTable.from_lines(lines, text_layer=text_layer),
                "group": f"{folder.name}:{_key(record.get('company') or record['id'])}",
            }


def _cached_pages(cache: Path, sha: str) -> list[dict[str, Any]] | None:
    path = cache / f"{sha}.json"
    if not path.exists():
        return None
    pages = json.loads(path.read_text())["pages"]
    return None if any("error" in p for p in pages) else pages


def _read_pages(path: Path, cache: Path, sha: str) -> list[dict[str, Any]] | None:
    """Read the document as the cpu policy's OCR tier does, and cache its pages."""
    from backends.ocr.engine import ocr_document
    from router.api.inputs import load_document
    from router.policy import load_policy

    policy = load_policy("cpu")
    tier = next(t for t in policy.tiers if t.backend.kind == "ocr_rules")
    document = load_document(path, policy.limits)
    pages = []
    for index in range(len(document.pages)):
        layer = document.text_layer[index] if index < len(document.text_layer) else None
        if layer is not None:
            lines = [
                [ln.text, 100.0, round(ln.left), round(ln.top), round(ln.width), round(ln.height)] for ln in layer.lines
            ]
            pages.append({"source": "text_layer", "lines": lines})
            continue
        page = ocr_document(document.page_document(index), tier.backend.ocr)
        pages.append(
            {
                "source": "ocr",
                "lines": [[ln.text, ln.confidence, ln.left, ln.top, ln.width, ln.height] for ln in page.lines],
            }
        )
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{sha}.json").write_text(json.dumps({"sha256": sha, "pages": pages}))
    return pages


def _key(text: str) -> str:
    from router.evaluation.ceiling import normalise_text

    return normalise_text(text)


def _match(name: str, label: str, value: str) -> bool:
    from router.evaluation.scoring import normalised_match

    return normalised_match(name, label, {name: value})


def _rules_answers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from backends.fields.rules import read_receipt

    out = []
    for d in docs:
        fields = read_receipt([ln.text for ln in d["lines"]], [ln.confidence for ln in d["lines"]]).fields
        out.append(
            {"merchant": fields.merchant, "date": fields.date, "total": fields.total, "confidence": fields.confidence}
        )
    return out


def _verify(name, docs, rows, oof, folds, rules, seed):
    """Out-of-fold verifier probabilities of the rules' answers, and the verifier rows."""
    import numpy as np

    from backends.fields.training import fit_verifier, verifier_rows

    answers = [(r[name], float(r["confidence"].get(name, 0.0))) for r in rules]
    labels = [d["labels"].get(name) for d in docs]
    X, y = verifier_rows(rows, oof, answers, labels, lambda a, b, n=name: _match(n, b, a))
    scores = np.zeros(len(y))
    for test in folds:
        train = np.ones(len(y), dtype=bool)
        train[test] = False
        scores[test] = fit_verifier(X[train], y[train], seed=seed).predict(X[test])
    return X, y, scores


def _cross_fitted(scores: list[float], right: list[bool], folds) -> list[float]:
    """Each fold's scores calibrated by a map fitted on the other folds' (out-of-fold) scores."""
    confidence = [0.0] * len(scores)
    for test in folds:
        held = set(test)
        calibration = Calibration.fit(
            [s for i, s in enumerate(scores) if i not in held], [r for i, r in enumerate(right) if i not in held]
        )
        for i in test:
            confidence[i] = calibration(scores[i])
    return confidence


def _field_report(name, docs, picks, pick_confidence, rules, rules_confidence) -> dict[str, Any]:
    """Per kind: the scorer's picks and the rules' answers on the same folds, and how well the shipped
    answer's confidence (the rules' answer, calibrated by the verifier) is calibrated."""
    in_text = _in_text(name, docs)
    kinds: dict[str, list[int]] = {"all": list(range(len(docs)))}
    for i, d in enumerate(docs):
        kinds.setdefault(d["kind"], []).append(i)
    out = {}
    for kind, members in kinds.items():
        scored = [i for i in members if docs[i]["labels"].get(name)]
        if not scored:
            continue
        right = [picks[i].right for i in scored]
        rule_right = [
            rules[i][name] is not None and _match(name, docs[i]["labels"][name], rules[i][name]) for i in scored
        ]
        conf = [rules_confidence[i] for i in scored]
        old_conf = [float(rules[i]["confidence"].get(name, 0.0)) for i in scored]
        out[kind] = {
            "documents": len(scored),
            "in_text": _share(in_text[i] for i in scored),
            "scorer": _share(right),
            "scorer_ece": round(expected_calibration_error([pick_confidence[i] for i in scored], right), 4),
            "rules": _share(rule_right),
            "rules_old_ece": round(expected_calibration_error(old_conf, rule_right), 4),
            "ece": round(expected_calibration_error(conf, rule_right), 4),
            **_risk_coverage(conf, rule_right),
            "curve": [[round(c, 4), bool(r)] for c, r in zip(conf, rule_right, strict=True)] if kind == "all" else None,
        }
    return out


def _share(flags) -> float:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _in_text(name: str, docs) -> list[bool]:
    from router.evaluation.ceiling import answer_in_text

    return [
        bool(d["labels"].get(name)) and answer_in_text(name, d["labels"][name], "\n".join(ln.text for ln in d["lines"]))
        for d in docs
    ]


def _risk_coverage(conf: list[float], right: list[bool]) -> dict[str, Any]:
    order = sorted(range(len(conf)), key=lambda i: -conf[i])
    out: dict[str, Any] = {}
    for share in (0.5, 0.8, 1.0):
        top = order[: max(1, round(share * len(order)))]
        out[f"precision_at_{int(share * 100)}"] = round(sum(right[i] for i in top) / len(top), 4)
    sure = [i for i in range(len(conf)) if conf[i] >= 0.9]
    out["coverage_at_0.9"] = round(len(sure) / len(conf), 4)
    out["precision_at_0.9"] = round(sum(right[i] for i in sure) / len(sure), 4) if sure else None
    best = 0
    for k in range(1, len(order) + 1):
        if sum(right[i] for i in order[:k]) / k >= 0.97:
            best = k
    out["coverage_at_precision_0.97"] = round(best / len(conf), 4)
    return out


def _trees_only(dump: dict[str, Any]) -> dict[str, Any]:
    """LightGBM's dump without what the scorer does not read (feature histograms), floats kept whole."""
    keep = ("objective", "max_feature_idx", "feature_names", "tree_info")
    return json.loads(json.dumps({k: dump[k] for k in keep}))


def _write_models(folder: Path, models, docs, args) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (ranker, verifier, calibration) in models.items():
        for part, booster in (("ranker", ranker), ("verifier", verifier)):
            (folder / f"{name}.{part}.json").write_text(json.dumps(_trees_only(booster.dump_model())) + "\n")
        (folder / f"{name}.calibration.json").write_text(json.dumps(calibration.to_json()) + "\n")
    data = hashlib.sha256("".join(sorted(d["sha256"] for d in docs)).encode()).hexdigest()
    manifest = {
        "command": "python scripts/train_fields.py " + " ".join(Path(s).name for s in args.sets),
        "documents": len(docs),
        "data_sha256": data,
        "seed": args.seed,
        "fields": list(models),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
