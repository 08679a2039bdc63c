"""Test doubles shipped with the library: the fault-injecting backend (``faulty``, driven by tests and the
chaos drill) and synthetic receipts as images (``synthetic``) and PDFs (``synthetic_pdf``). May import any
other part of ``backends``; production code never imports it (the drill and users' tests do)."""
