"""The one exception the ingestion modules raise for a file that cannot be loaded."""


class FileError(Exception):
    """A file that cannot be loaded at all; the message names the file and says what to do.

    Messages never quote values from the file (they travel into logs, alerts and the published run log): they name
    contract columns, column positions, line numbers and byte offsets, and the rule that was broken.
    """
