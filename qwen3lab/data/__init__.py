"""Data stages of notebooks 03-04: where the sets come from, the checks around the source's calls, the mix counts."""
