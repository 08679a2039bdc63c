"""A policy: its pydantic models and ``load_policy`` (``model``), reading the YAML file with each key's line
(``file``), and validation errors said the way a person fixes them (``errors``). Imports ``failures`` and
``backends.kinds``/``backends.schema``; imported by ``observe``, ``core`` and everything above."""
