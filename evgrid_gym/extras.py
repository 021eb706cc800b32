"""The optional dependency groups of the package (``pyproject.toml``'s extras)."""


def install_line(extra: str) -> str:
    """The command that installs the extra ``extra`` into this checkout."""
    return f"pip install -e '.[{extra}]' -c constraints.txt"
