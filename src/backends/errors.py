"""Exceptions backends raise for conditions they recognise themselves.

Backends never import ``router``; the router matches these by type name in its signature table
(``router.failures.signatures``), so they work the same whether raised in-process or in a worker.
"""


class BackendError(Exception):
    """Root of the errors a backend raises on purpose."""


class BackendUnavailable(BackendError):
    """The backend cannot run on this machine: weights, a package or a device is missing.

    The message says what is missing and how to provide it.
    """


class InvalidOutput(BackendError):
    """The backend produced an answer that is not a valid result (unparseable, fails the schema,
    or too little text to read). The message describes the problem, never the document's text."""


class IndexOutOfVocabulary(BackendError):
    """A preflight check found a token id that would index outside the model's embedding or
    lm_head. Raised before generation, so a would-be device-side assert becomes an ordinary error."""


class NotApplicable(InvalidOutput):
    """The document is not of the kind this backend reads (a PDF without e-invoice XML given to the
    e-invoice backend). The router asks ``declines`` first and skips such a tier as
    ``not_applicable``; raised only when a backend is called directly."""
