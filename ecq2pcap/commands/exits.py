"""Exit codes and the usage error: what the CLI needs before (and without) importing a command."""

EXIT_OK, EXIT_STRICT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A command line or an output that cannot be used: one line on stderr, exit 2."""
