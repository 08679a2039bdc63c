"""What docroute tells: the decision log's events and their schema (``events``), the log sinks and content
stripping (``logs``) and the checks on files docroute writes (``outputs``). Imports ``policy`` and ``failures``;
imported by ``core`` and everything above it."""
