"""`python -m api` is the `nimbus` command."""

from api.cli import main

main()
