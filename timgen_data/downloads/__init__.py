"""Downloads every stage shares: atomic, resumable, checksummed files over HTTP, retries that
honour ``Retry-After``, size/rate/deadline limits, and safe archive extraction.

Collectors download their archives here and ``align`` fetches media through the same client,
so neither stage imports the other.
"""
