"""The vocabulary of failure, the bottom layer of ``router``: the error tree (``errors``), what each error
class means for a tier and a request (``traits``, one table), the signatures that classify a foreign
failure once where it enters (``signatures``). Imports nothing of ``router``; every other package may
import it."""
