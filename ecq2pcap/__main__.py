from .stops import held_while_starting

held_while_starting()  # (first: importing the command line and then the command takes a few tenths of a second)

from .cli import entry  # noqa: E402

entry()
