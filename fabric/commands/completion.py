"""`fabric completion bash|zsh|fish`: the shell completion script click generates for `fabric`."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(fabric completion bash)"    (in ~/.bashrc)
    zsh:   eval "$(fabric completion zsh)"     (in ~/.zshrc)
    fish:  fabric completion fish > ~/.config/fish/completions/fabric.fish
    """
    from click.shell_completion import get_completion_class

    from fabric.cli import main

    cls = get_completion_class(shell)
    assert cls is not None  # every SHELLS entry is one click knows
    click.echo(cls(main, {}, "fabric", "_FABRIC_COMPLETE").source())
